package publish_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/publish"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// A publish stores, beside each record, its CID and the canonical object of
// its policy attributes; a fetch decides on those alone.
func TestAttributeProjections(t *testing.T) {
	s, err := store.OpenEmbedded(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ss, err := s.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	input := "{\"d\u00e9\": 2.0, \"c\": {\"d\": 1}, \"b\": \"x\", \"a\": [{\"b\": \"nested\"}]}\n{\"a\": 1}\n{\"a\": 1, \"d\u00e9\": 3}\n"
	var rs []publish.Record
	_, err = publish.Build(context.Background(), publish.JSONLines(strings.NewReader(input)), publish.BuildOptions{Attributes: []string{"b", "d\u00e9"}}, func(b []publish.Record) error {
		for _, r := range b {
			if err := ss.Put(r.Index, r.CID, r.Canonical, r.Attributes); err != nil {
				return err
			}
			r.Canonical = slices.Clone(r.Canonical)
			rs = append(rs, r)
		}
		return nil
	})
	if err != nil || len(rs) != 3 {
		t.Fatal(len(rs), err)
	}
	if string(rs[0].Canonical) != `{"a":[{"b":"nested"}],"b":"x","c":{"d":1},"dé":2}` {
		t.Fatalf("canonical %s", rs[0].Canonical)
	}
	st, err := manifest.SignStatement(map[string]any{"type": "test"}, testkit.Key(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.Commit(st); err != nil {
		t.Fatal(err)
	}
	want := []string{`{"b":"x","dé":2}`, `{}`, `{"dé":3}`}
	n := 0
	err = s.Attributes(st.CID(), func(i uint64, c cid.Cid, proj []byte) error {
		if c != rs[i].CID || string(proj) != want[i] {
			t.Errorf("record %d: %s %s", i, c, proj)
		}
		n++
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("%d projections, %v", n, err)
	}
}
