package catalog_test

import (
	"fmt"
	"testing"

	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/sharing/catalog"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// The gossip message id, computed from the raw bytes, is the statement's CID.
func TestMessageIDIsTheCID(t *testing.T) {
	st, _ := manifest.SignStatement(testkit.Manifest(), testkit.Key(t))
	if got, want := catalog.MessageIDForTest(st.Marshal()), st.CID().KeyString(); got != want {
		t.Fatalf("message id %x, want the CID %x", got, want)
	}
}

// BenchmarkCatalogList lists a catalog of 10,000 manifests (the catch-up
// goal's size) across 100 datasets.
func BenchmarkCatalogList(b *testing.B) {
	st, err := store.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cat, _ := catalog.Open(st)
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
