//go:build cluster

package cluster_test

import (
	"slices"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/sharing/store"
	"github.com/caravan-consortium/caravan/sharing/store/storetest"
)

// BenchmarkClusterStore publishes b.N records to each store, then reads
// them as a provider does (attributes, then records): the store's own
// cost per record, next to the embedded store's.
func BenchmarkClusterStore(b *testing.B) {
	for _, kind := range []string{"embedded", "cluster"} {
		b.Run(kind, func(b *testing.B) {
			var s store.Store
			if kind == "embedded" {
				e, err := store.OpenEmbedded(b.TempDir(), nil)
				if err != nil {
					b.Fatal(err)
				}
				s = e
			} else {
				s = open(b)
			}
			defer s.Close()
			st := storetest.Publish(b, s, b.N)
			var idx []uint64
			if err := s.Attributes(st.CID(), func(i uint64, _ cid.Cid, _ []byte) error { idx = append(idx, i); return nil }); err != nil {
				b.Fatal(err)
			}
			n := 0
			if err := s.RecordsAt(st.CID(), slices.Values(idx), func(uint64, []byte) error { n++; return nil }); err != nil || n != b.N {
				b.Fatal(n, err)
			}
		})
	}
}
