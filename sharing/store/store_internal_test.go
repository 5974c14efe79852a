package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// Records of a publish that never committed (the process died between
// staging and commit) are gone when the store is opened again.
func TestOpenDropsUncommittedPublish(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenEmbedded(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := s.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		canon := []byte(`{"i":` + string(rune('0'+i%10)) + `}`)
		if err := ss.Put(uint64(i), cids.OfJSON(canon), canon, nil); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := s.Stats(); st.Pending != 1 {
		t.Fatalf("before the crash: %+v", st)
	}
	s.Close() // no commit: the crash, with the staging file half-written
	reopenedEmpty(t, dir)
}

// A crash after the records were ingested but before the manifest batch:
// the records are in the store, unreachable, and OpenStore removes them.
func TestOpenDropsIngestedButUncommitted(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenEmbedded(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := s.NewSession()
	ss := sess.(*session)
	canon := []byte(`{"a":1}`)
	if err := ss.Put(0, cids.OfJSON(canon), canon, nil); err != nil {
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
	reopenedEmpty(t, dir)
}

// reopenedEmpty opens the store in dir again and checks that it holds
// nothing, and no staging file either.
func reopenedEmpty(t *testing.T, dir string) {
	t.Helper()
	s, err := OpenEmbedded(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st, _ := s.Stats(); st != (Stats{}) {
		t.Fatalf("after reopening: %+v, want nothing", st)
	}
	if _, err := os.Stat(s.staging); !os.IsNotExist(err) {
		t.Fatalf("the staging directory is still there: %v", err)
	}
}

func TestNoncesExpireAndReplaysAreRefused(t *testing.T) {
	s, err := OpenEmbedded(t.TempDir(), nil)
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

// A store written by an older Caravan (Pebble's oldest format, Snappy) is
// upgraded when opened, and what it held is still there, byte for byte.
func TestOpenUpgradesAnOlderStore(t *testing.T) {
	dir := t.TempDir()
	old := options(nil)
	old.FormatMajorVersion = pebble.FormatMinSupported
	old.ApplyCompressionSettings(func() pebble.DBCompressionSettings {
		return pebble.UniformDBCompressionSettings(sstable.SnappyCompression)
	})
	s, err := open(dir, old)
	if err != nil {
		t.Fatal(err)
	}
	publish := func(s *Embedded, n int) (cid.Cid, [][]byte) {
		t.Helper()
		ss, err := s.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		var want [][]byte
		for i := range n {
			canon := fmt.Appendf(nil, `{"i":%d,"note":"%s"}`, i, strings.Repeat("x", i%50))
			if err := ss.Put(uint64(i), cids.OfJSON(canon), canon, nil); err != nil {
				t.Fatal(err)
			}
			want = append(want, canon)
		}
		_, key, _ := ed25519.GenerateKey(nil)
		st, err := manifest.SignStatement(map[string]any{"type": "test", "n": n}, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := ss.Commit(st); err != nil {
			t.Fatal(err)
		}
		return st.CID(), want
	}
	check := func(s *Embedded, id cid.Cid, want [][]byte) {
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

	s, err = OpenEmbedded(dir, nil)
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
