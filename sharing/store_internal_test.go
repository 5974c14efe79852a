package sharing

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/caravan-consortium/caravan/internal/cids"
)

// Records of a publish that never committed (the process died between
// staging and commit) are gone when the store is opened again.
func TestOpenDropsUncommittedPublish(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := s.newSession()
	if err != nil {
		t.Fatal(err)
	}
	var recs []Record
	for i := range 1000 {
		canon := []byte(`{"i":` + string(rune('0'+i%10)) + `}`)
		recs = append(recs, Record{Index: uint64(i), CID: cids.OfJSON(canon), Canonical: canon})
	}
	if err := ss.add(recs); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Stats(); st.Pending != 1 {
		t.Fatalf("before the crash: %+v", st)
	}
	s.Close() // no commit: the crash, with the staging file half-written

	s, err = OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st, _ := s.Stats(); st != (StoreStats{}) {
		t.Fatalf("after reopening: %+v, want nothing", st)
	}
	if _, err := os.Stat(s.staging); !os.IsNotExist(err) {
		t.Fatalf("the staging directory is still there: %v", err)
	}
}

// A crash after the records were ingested but before the manifest batch:
// the records are in the store, unreachable, and OpenStore removes them.
func TestOpenDropsIngestedButUncommitted(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ss, _ := s.newSession()
	canon := []byte(`{"a":1}`)
	if err := ss.add([]Record{{Index: 0, CID: cids.OfJSON(canon), Canonical: canon}}); err != nil {
		t.Fatal(err)
	}
	ss.w.Close()
	if err := s.db.Ingest(context.Background(), []string{ss.path}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Stats(); st.Records != 1 || st.Pending != 1 {
		t.Fatalf("after the ingestion: %+v", st)
	}
	s.Close()
	s, err = OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st, _ := s.Stats(); st != (StoreStats{}) {
		t.Fatalf("after reopening: %+v, want nothing", st)
	}
}

func TestNoncesExpireAndReplaysAreRefused(t *testing.T) {
	s, err := OpenStore(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	if fresh, err := s.MarkNonce("old-nonce-0123456789", now.Add(-time.Minute)); err != nil || !fresh {
		t.Fatal(fresh, err)
	}
	if fresh, err := s.MarkNonce("new-nonce-0123456789", now.Add(time.Minute)); err != nil || !fresh {
		t.Fatal(fresh, err)
	}
	if fresh, _ := s.MarkNonce("new-nonce-0123456789", now.Add(time.Minute)); fresh {
		t.Fatal("a replayed nonce was fresh")
	}
	if n, err := s.PurgeNonces(now); err != nil || n != 1 {
		t.Fatalf("purged %d, %v", n, err)
	}
	if fresh, _ := s.MarkNonce("new-nonce-0123456789", now.Add(time.Minute)); fresh {
		t.Fatal("an unexpired nonce was purged")
	}
}

// A publish stores, beside each record, its CID and the canonical object of
// its policy attributes; a fetch decides on those alone.
func TestAttributeProjections(t *testing.T) {
	s, err := OpenStore(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ss, err := s.newSession()
	if err != nil {
		t.Fatal(err)
	}
	input := "{\"d\u00e9\": 2.0, \"c\": {\"d\": 1}, \"b\": \"x\", \"a\": [{\"b\": \"nested\"}]}\n{\"a\": 1}\n{\"a\": 1, \"d\u00e9\": 3}\n"
	var rs []Record
	_, err = Build(context.Background(), JSONLines(strings.NewReader(input)), BuildOptions{Attributes: []string{"b", "d\u00e9"}}, func(b []Record) error {
		for _, r := range b {
			r.Canonical = slices.Clone(r.Canonical)
			rs = append(rs, r)
		}
		return ss.add(b)
	})
	if err != nil || len(rs) != 3 {
		t.Fatal(len(rs), err)
	}
	if string(rs[0].Canonical) != `{"a":[{"b":"nested"}],"b":"x","c":{"d":1},"dé":2}` {
		t.Fatalf("canonical %s", rs[0].Canonical)
	}
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := SignStatement(map[string]any{"type": "test"}, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.commit(st); err != nil {
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

// A store written by an older Caravan (Pebble's oldest format, Snappy) is
// upgraded when opened, and what it held is still there, byte for byte.
func TestOpenUpgradesAnOlderStore(t *testing.T) {
	dir := t.TempDir()
	old := storeOptions(nil)
	old.FormatMajorVersion = pebble.FormatMinSupported
	old.ApplyCompressionSettings(func() pebble.DBCompressionSettings {
		return pebble.UniformDBCompressionSettings(sstable.SnappyCompression)
	})
	s, err := openStore(dir, old)
	if err != nil {
		t.Fatal(err)
	}
	publish := func(s *Store, n int) (cid.Cid, [][]byte) {
		t.Helper()
		ss, err := s.newSession()
		if err != nil {
			t.Fatal(err)
		}
		var recs []Record
		var want [][]byte
		for i := range n {
			canon := fmt.Appendf(nil, `{"i":%d,"note":"%s"}`, i, strings.Repeat("x", i%50))
			recs = append(recs, Record{Index: uint64(i), CID: cids.OfJSON(canon), Canonical: canon})
			want = append(want, canon)
		}
		if err := ss.add(recs); err != nil {
			t.Fatal(err)
		}
		key, _, _ := crypto.GenerateEd25519Key(nil)
		st, err := SignStatement(map[string]any{"type": "test", "n": n}, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := ss.commit(st); err != nil {
			t.Fatal(err)
		}
		return st.CID(), want
	}
	check := func(s *Store, id cid.Cid, want [][]byte) {
		t.Helper()
		var got [][]byte
		if err := s.Records(id, func(_ uint64, data []byte) error { got = append(got, slices.Clone(data)); return nil }); err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got, want, bytes.Equal) {
			t.Fatalf("%d records read back, want %d (or different bytes)", len(got), len(want))
		}
	}
	oldID, oldRecs := publish(s, 5000)
	if v := s.db.FormatMajorVersion(); v != pebble.FormatMinSupported {
		t.Fatalf("the old store is at format %v", v)
	}
	s.Close()

	s, err = OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v := s.db.FormatMajorVersion(); v != pebble.FormatNewest {
		t.Fatalf("after opening: format %v, want %v", v, pebble.FormatNewest)
	}
	check(s, oldID, oldRecs)
	newID, newRecs := publish(s, 3000)
	check(s, newID, newRecs)
	if err := s.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	check(s, oldID, oldRecs)
	check(s, newID, newRecs)
}
