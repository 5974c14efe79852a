// Package storetest is the conformance suite of sharing/store's
// interfaces: every implementation (the embedded store in make test, the
// cluster store against real MariaDB and S3 in make test-cluster) runs it,
// so that both keep and give back the same bytes.
package storetest

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// Run runs every conformance test on stores made by open (a new, empty
// store each call).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Dataset", func(t *testing.T) { testDataset(t, open(t)) })
	t.Run("AbortedPublishLeavesNothing", func(t *testing.T) { testAbort(t, open(t)) })
	t.Run("Statements", func(t *testing.T) { testStatements(t, open(t)) })
	t.Run("Fetched", func(t *testing.T) { testFetched(t, open(t)) })
	t.Run("Nonces", func(t *testing.T) { testNonces(t, open(t)) })
}

// Statement signs a statement of the given type (and an id, so that each
// is distinct).
func Statement(t testing.TB, typ string, id int) *manifest.Statement {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	st, err := manifest.SignStatement(map[string]any{"type": typ, "id": id}, key)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Record is record i of a test dataset, and its projection.
func Record(i int) (canonical []byte, c cid.Cid, attrs []byte) {
	canonical = fmt.Appendf(nil, `{"i":%d,"pad":"%0200d"}`, i, i)
	return canonical, cids.OfJSON(canonical), fmt.Appendf(nil, `{"k":%d}`, i%7)
}

// Publish stores n test records under a new statement and returns it.
func Publish(t testing.TB, s store.Store, n int) *manifest.Statement {
	t.Helper()
	ss, err := s.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		canon, c, attrs := Record(i)
		if err := ss.Put(uint64(i), c, canon, attrs); err != nil {
			t.Fatal(err)
		}
	}
	st := Statement(t, "test-manifest", n)
	if err := ss.Commit(st); err != nil {
		t.Fatal(err)
	}
	return st
}

func testDataset(t *testing.T, s store.Store) {
	defer s.Close()
	const n = 2500 // three groups or blocks, the last partial
	st := Publish(t, s, n)
	built := manifest.NewSubtrees(n)
	i := 0
	err := s.Records(st.CID(), func(idx uint64, canonical []byte) error {
		want, c, _ := Record(i)
		built.AddCID(c)
		if idx != uint64(i) || !bytes.Equal(canonical, want) {
			return fmt.Errorf("record %d: got index %d, %q", i, idx, canonical)
		}
		i++
		return nil
	})
	if err != nil || i != n {
		t.Fatalf("Records: %d records, %v", i, err)
	}
	i = 0
	err = s.Attributes(st.CID(), func(idx uint64, c cid.Cid, proj []byte) error {
		_, wc, wa := Record(i)
		if idx != uint64(i) || !c.Equals(wc) || !bytes.Equal(proj, wa) {
			return fmt.Errorf("attributes %d: got %d %s %q", i, idx, c, proj)
		}
		i++
		return nil
	})
	if err != nil || i != n {
		t.Fatalf("Attributes: %d, %v", i, err)
	}
	sel := []uint64{0, 1, 1023, 1024, 1500, 2047, 2048, 2499}
	var got []uint64
	if err := s.RecordsAt(st.CID(), slices.Values(sel), func(idx uint64, canonical []byte) error {
		want, _, _ := Record(int(idx))
		if !bytes.Equal(canonical, want) {
			return fmt.Errorf("record %d differs", idx)
		}
		got = append(got, idx)
		return nil
	}); err != nil || !slices.Equal(got, sel) {
		t.Fatalf("RecordsAt: %v, %v", got, err)
	}
	if err := s.AttributesAt(st.CID(), slices.Values(sel), func(idx uint64, c cid.Cid, proj []byte) error {
		_, wc, _ := Record(int(idx))
		if !c.Equals(wc) {
			return fmt.Errorf("attributes %d: CID differs", idx)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordsAt(st.CID(), slices.Values([]uint64{n}), func(uint64, []byte) error { return nil }); err == nil {
		t.Fatal("RecordsAt of a record past the end succeeded")
	}
	tree, err := s.Subtrees(st.CID(), n)
	if err != nil {
		t.Fatal(err)
	}
	for l := range built.Levels() {
		for i := range uint64(len(built.Level(l)) / 32) {
			if !bytes.Equal(tree.Node(l, i), built.Node(l, i)) {
				t.Fatalf("record tree: level %d node %d differs", l, i)
			}
		}
	}
	if tree.Err() != nil || tree.Size() != n {
		t.Fatalf("record tree: size %d, %v", tree.Size(), tree.Err())
	}
	if got, err := s.Statement(st.CID()); err != nil || !bytes.Equal(got.Marshal(), st.Marshal()) {
		t.Fatalf("the manifest statement is not stored: %v", err)
	}
	if err := s.Records(Statement(t, "other", 0).CID(), func(uint64, []byte) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Records of a manifest not held: %v, want ErrNotFound", err)
	}
}

func testAbort(t *testing.T, s store.Store) {
	defer s.Close()
	ss, err := s.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1500 {
		canon, c, attrs := Record(i)
		if err := ss.Put(uint64(i), c, canon, attrs); err != nil {
			t.Fatal(err)
		}
	}
	if err := ss.Abort(); err != nil {
		t.Fatal(err)
	}
	n := 0
	s.Statements(func(*manifest.Statement) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d statements after an aborted publish", n)
	}
	if s, ok := s.(interface{ Stats() (store.Stats, error) }); ok {
		if st, err := s.Stats(); err != nil || st != (store.Stats{}) {
			t.Fatalf("after an aborted publish: %+v, %v", st, err)
		}
	}
}

func testStatements(t *testing.T, s store.Store) {
	defer s.Close()
	var sts []*manifest.Statement
	for i := range 300 {
		sts = append(sts, Statement(t, "test", i))
	}
	if err := s.PutStatements(sts[:200]); err != nil {
		t.Fatal(err)
	}
	if err := s.PutUnsynced(sts[150:]); err != nil { // overlapping: kept once
		t.Fatal(err)
	}
	hidden, sealed := Statement(t, "hidden", 0), Statement(t, "sealed", 0)
	if err := s.PutHidden([]*manifest.Statement{hidden}, []*manifest.Statement{sealed}); err != nil {
		t.Fatal(err)
	}
	want := append(append([]*manifest.Statement{}, sts...), hidden, sealed)
	slices.SortFunc(want, func(a, b *manifest.Statement) int { return bytes.Compare(a.CID().Bytes(), b.CID().Bytes()) })
	var got []*manifest.Statement
	if err := s.Statements(func(st *manifest.Statement) error { got = append(got, st); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d statements, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].Marshal(), want[i].Marshal()) {
			t.Fatalf("statement %d: not the one stored, or out of CID order", i)
		}
	}
	var hid []cid.Cid
	s.Hidden(func(c cid.Cid) error { hid = append(hid, c); return nil })
	if len(hid) != 1 || !hid[0].Equals(hidden.CID()) {
		t.Fatalf("hidden: %v, want %s", hid, hidden.CID())
	}
}

func testFetched(t *testing.T, s store.Store) {
	defer s.Close()
	m := Statement(t, "manifest", 1).CID()
	put := func(indices []uint64, commit bool) {
		st, err := s.NewStage(m, "audit")
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range indices {
			canon, _, _ := Record(int(i))
			if err := st.Put(i, canon); err != nil {
				t.Fatal(err)
			}
		}
		if commit {
			if err := st.Commit(); err != nil {
				t.Fatal(err)
			}
		} else {
			st.Abort()
		}
	}
	var first, second []uint64
	for i := uint64(0); i < 1500; i += 2 { // withheld records leave gaps
		first = append(first, i)
	}
	for i := uint64(1400); i < 2100; i++ { // a resumed fetch overlaps
		second = append(second, i)
	}
	put(first, true)
	put([]uint64{5000, 5001}, false)
	put(second, true)
	var got []uint64
	err := s.Fetched(m, "audit", func(i uint64, canonical []byte) error {
		want, _, _ := Record(int(i))
		if !bytes.Equal(canonical, want) {
			return fmt.Errorf("fetched record %d differs", i)
		}
		got = append(got, i)
		return nil
	})
	want := slices.Compact(slices.Sorted(slices.Values(append(append([]uint64{}, first...), second...))))
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Fetched: %d records (want %d), %v", len(got), len(want), err)
	}
	n := 0
	s.Fetched(m, "other purpose", func(uint64, []byte) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d records under another purpose", n)
	}
}

func testNonces(t *testing.T, s store.Store) {
	defer s.Close()
	now := time.Now()
	if ok, err := s.MarkNonce("nonce-0123456789abcdef", now.Add(-time.Minute)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, err := s.MarkNonce("nonce-0123456789abcdef", now.Add(time.Minute)); ok || err != nil {
		t.Fatalf("a replayed nonce was taken: %v %v", ok, err)
	}
	if ok, err := s.MarkNonce("nonce-fedcba9876543210", now.Add(time.Minute)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if n, err := s.PurgeNonces(now); n != 1 || err != nil {
		t.Fatalf("purged %d, %v; want 1", n, err)
	}
	if ok, _ := s.MarkNonce("nonce-fedcba9876543210", now.Add(time.Minute)); ok {
		t.Fatal("a live nonce was purged")
	}
}
