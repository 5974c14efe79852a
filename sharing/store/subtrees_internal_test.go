package store

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// The record tree a publish stores is the tree of its records, node for
// node, across the blocks of every level; RecordsAt and AttributesAt read
// the records asked for, and a missing one fails.
func TestStoredSubtreesAreTheRecordTree(t *testing.T) {
	s, err := OpenEmbedded(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 3001 // three blocks and a bit of leaves, an odd size
	ss, err := s.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	built := manifest.NewSubtrees(n)
	var recs [][]byte
	for i := range n {
		canon := fmt.Appendf(nil, `{"i":%d}`, i)
		c := cids.OfJSON(canon)
		if err := ss.Put(uint64(i), c, canon, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		built.AddCID(c)
		recs = append(recs, canon)
	}
	if err := ss.Put(n+1, cids.OfJSON([]byte(`{}`)), []byte(`{}`), nil); err == nil {
		t.Fatal("a record put out of order was taken")
	}
	_, key, _ := ed25519.GenerateKey(nil)
	st, err := manifest.SignStatement(map[string]any{"type": "test"}, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.Commit(st); err != nil {
		t.Fatal(err)
	}
	stored, err := s.Subtrees(st.CID(), n)
	if err != nil {
		t.Fatal(err)
	}
	for l := range built.Levels() {
		for i := range uint64(len(built.Level(l)) / 32) {
			if !bytes.Equal(stored.Node(l, i), built.Node(l, i)) {
				t.Fatalf("level %d node %d differs", l, i)
			}
		}
	}
	if err := stored.Err(); err != nil {
		t.Fatal(err)
	}
	stored.Node(0, n+5000) // beyond the tree
	if stored.Err() == nil {
		t.Fatal("a node beyond the tree read without an error")
	}

	want := []uint64{0, 1, 2, 1023, 1024, 2999, 3000}
	var got []uint64
	if err := s.RecordsAt(st.CID(), slices.Values(want), func(i uint64, data []byte) error {
		if !bytes.Equal(data, recs[i]) {
			return fmt.Errorf("record %d: %s", i, data)
		}
		got = append(got, i)
		return nil
	}); err != nil || !slices.Equal(got, want) {
		t.Fatalf("RecordsAt: %v, read %v", err, got)
	}
	if err := s.AttributesAt(st.CID(), slices.Values([]uint64{5, 2000}), func(i uint64, c cid.Cid, _ []byte) error {
		if !c.Equals(cids.OfJSON(recs[i])) {
			return fmt.Errorf("record %d: CID %s", i, c)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordsAt(st.CID(), slices.Values([]uint64{5, n}), func(uint64, []byte) error { return nil }); err == nil {
		t.Fatal("a record beyond the dataset read without an error")
	}
	// A dataset stored before trees were has none: the caller builds one.
	other := cids.OfJSON([]byte(`{"not":"stored"}`))
	if _, err := s.Subtrees(other, 1); err == nil {
		t.Fatal("a tree for a manifest not stored")
	}
}

// A publish holds one block per level of its record tree, whatever its
// size: the whole tree (64 bytes a record) made a million-record publish
// peak at 246 MB; the rest is on disk, in key order, as it is made.
func TestTreeWriterHoldsOneBlockPerLevel(t *testing.T) {
	s, err := OpenEmbedded(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tw := newTreeWriter(s, key(prefixTree, []byte("session1")), filepath.Join(t.TempDir(), "tree.sst"))
	const n = 200_000
	for i := range n {
		if err := tw.AddCID(cids.OfJSON(fmt.Appendf(nil, `{"i":%d}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	held := 0
	for _, lv := range tw.levels {
		held += cap(lv.block)
	}
	if want := len(tw.levels) * treeBlock * 32; held > want || len(tw.levels) > 19 {
		t.Fatalf("%d levels hold %d bytes for %d leaves", len(tw.levels), held, n)
	}
	paths, err := tw.Close()
	if err != nil || len(paths) != len(tw.levels) {
		t.Fatalf("%v, %d files for %d levels", err, len(paths), len(tw.levels))
	}
}
