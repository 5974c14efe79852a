package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/sharing/catalog"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/store"
	"github.com/ipfs/go-cid"
)

// The gossip message id, computed from the raw bytes, is the statement's CID.
func TestMessageIDIsTheCID(t *testing.T) {
	st, _ := manifest.SignStatement(testkit.Manifest(), testkit.Key(t))
	if got, want := catalog.MessageIDForTest(st.Marshal()), st.CID().KeyString(); got != want {
		t.Fatalf("message id %x, want the CID %x", got, want)
	}
}

// emptyCatalog opens a catalog on a new store, closed when tb ends.
func emptyCatalog(tb testing.TB) *catalog.Catalog {
	st, err := store.OpenEmbedded(tb.TempDir(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	cat, err := catalog.Open(st)
	if err != nil {
		tb.Fatal(err)
	}
	return cat
}

// BenchmarkCatalogList lists a catalog of 10,000 manifests (the catch-up
// goal's size) across 100 datasets.
func BenchmarkCatalogList(b *testing.B) {
	cat := emptyCatalog(b)
	key := testkit.Key(b)
	for i := range 10000 {
		m := testkit.Manifest()
		m.Dataset = fmt.Sprintf("ds-%d", i%100)
		m.Version = uint64(i/100 + 1)
		if m.Version > 1 {
			m.Previous = m.Schema.CID
		}
		s, _ := manifest.SignStatement(m, key)
		if err := cat.Add(s); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		if n := len(cat.List(catalog.Filter{})); n != 100 {
			b.Fatalf("%d heads", n)
		}
		cat.Summary()
	}
}

// Entry and Versions, the lookups the API uses, give what List with All
// gives: head and retracted included.
func TestEntryAndVersionsAgreeWithList(t *testing.T) {
	cat := emptyCatalog(t)
	key := testkit.Key(t)
	ids := map[string][]cid.Cid{}
	for _, ds := range []string{"declarations", "manifests"} {
		for v := range uint64(3) {
			m := testkit.Manifest()
			m.Dataset, m.Version = ds, v+1
			if v > 0 {
				m.Previous = ids[ds][v-1].String()
			}
			s, _ := manifest.SignStatement(m, key)
			if err := cat.Add(s); err != nil {
				t.Fatal(err)
			}
			ids[ds] = append(ids[ds], s.CID())
		}
	}
	// A retraction that knew of version 2 withdraws versions 1 and 2.
	r, _ := manifest.SignStatement(&manifest.Retraction{Type: manifest.TypeRetraction, Dataset: "manifests", Publisher: "customs-cn",
		Created: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), Last: ids["manifests"][1].String(), Reason: "test"}, key)
	if err := cat.Add(r); err != nil {
		t.Fatal(err)
	}
	all := cat.List(catalog.Filter{All: true})
	if len(all) != 6 {
		t.Fatalf("List lists %d entries, want 6", len(all))
	}
	for _, want := range all {
		got, ok := cat.Entry(cid.MustParse(want.CID))
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("Entry(%s) = %+v, %v; List has %+v", want.CID, got, ok, want)
		}
	}
	vs := cat.Versions("customs-cn", "manifests")
	if !reflect.DeepEqual(vs, all[3:]) {
		t.Errorf("Versions = %+v, want List's %+v", vs, all[3:])
	}
	if !vs[2].Head || vs[2].Retracted || !vs[1].Retracted || vs[1].Head {
		t.Errorf("version 3 should be the head and not retracted, version 2 retracted: %+v", vs)
	}
	if _, ok := cat.Entry(r.CID()); ok {
		t.Error("a retraction has an entry")
	}
	if vs := cat.Versions("customs-cn", "unknown"); len(vs) != 0 {
		t.Errorf("an unknown dataset has versions %+v", vs)
	}
}

// Await returns at once for a statement held, wakes when one arrives, and
// gives up with its context.
func TestAwaitWakesWhenTheStatementArrives(t *testing.T) {
	cat := emptyCatalog(t)
	key := testkit.Key(t)
	first, _ := manifest.SignStatement(testkit.Manifest(), key)
	m := testkit.Manifest()
	m.Dataset = "later"
	later, _ := manifest.SignStatement(m, key)
	if err := cat.Add(first); err != nil {
		t.Fatal(err)
	}
	if err := cat.Await(context.Background(), first.CID()); err != nil {
		t.Fatalf("a held statement: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := cat.Await(ctx, later.CID()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a statement that never came: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cat.Await(context.Background(), later.CID()) }()
	time.Sleep(20 * time.Millisecond) // Await waiting
	other := testkit.Manifest()
	other.Dataset = "other"
	o, _ := manifest.SignStatement(other, key)
	if err := cat.Add(o); err != nil { // another statement wakes it, and it waits on
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("Await returned (%v) for another statement", err)
	case <-time.After(20 * time.Millisecond):
	}
	if err := cat.Add(later); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Await did not wake when the statement arrived")
	}
}
