package manifest

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/caravan-consortium/caravan/internal/cids"
)

// The tree hasher's hashes are rfc6962's, with the record CIDs of
// cids.OfJSON, and one hasher gives the same hashes however it is reused.
func TestHashesAreRFC6962(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	h := NewTreeHasher()
	for i := range 1000 {
		data := make([]byte, rng.IntN(2000))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		c := cids.OfJSON(data)
		want := rfc6962.DefaultHasher.HashLeaf(c.Bytes())
		if got := h.LeafOfCID(c); !bytes.Equal(got[:], want) {
			t.Fatalf("LeafOfCID %d: %x, want %x", i, got, want)
		}
		if got := h.LeafOfRecord(data); !bytes.Equal(got[:], want) {
			t.Fatalf("LeafOfRecord %d: %x, want %x", i, got, want)
		}
		l, r := rfc6962.DefaultHasher.HashLeaf(data), rfc6962.DefaultHasher.HashLeaf(data[:len(data)/2])
		if got, want := h.Children(l, r), rfc6962.DefaultHasher.HashChildren(l, r); !bytes.Equal(got[:], want) {
			t.Fatalf("children %d: %x, want %x", i, got, want)
		}
	}
}
