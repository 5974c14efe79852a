package sharing

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/caravan-consortium/caravan/internal/cids"
)

// The allocation-free hashes are rfc6962's.
func TestHashesAreRFC6962(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 1000 {
		data := make([]byte, rng.IntN(200))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		c := cids.OfJSON(data)
		if got, want := LeafHash(c), rfc6962.DefaultHasher.HashLeaf(c.Bytes()); !bytes.Equal(got, want) {
			t.Fatalf("leaf %d: %x, want %x", i, got, want)
		}
		l, r := rfc6962.DefaultHasher.HashLeaf(data), rfc6962.DefaultHasher.HashLeaf(data[:len(data)/2])
		if got, want := hashChildren(l, r), rfc6962.DefaultHasher.HashChildren(l, r); !bytes.Equal(got, want) {
			t.Fatalf("children %d: %x, want %x", i, got, want)
		}
	}
}
