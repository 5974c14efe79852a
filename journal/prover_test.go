package journal_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/transparency-dev/tessera/client"

	"github.com/caravan-consortium/caravan/journal"
)

// TestProverMatchesTessera: the caching prover gives exactly tessera's
// proofs, for random entries of trees of random sizes (full and partial
// tiles, several strata).
func TestProverMatchesTessera(t *testing.T) {
	ctx := context.Background()
	a := newMember(t, "customs-cn")
	l := openLogBatch(t, a, t.TempDir(), journal.DefaultBatchMaxAge)
	const size = 70_000
	appendN(t, l, a.org, size)
	waitCheckpoint(t, l, a.logVerifier(t), size)
	src := journal.DirSource(l.Dir())
	pr := journal.NewProver(src)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, sz := range []uint64{1, 2, 255, 256, 257, 65535, 65536, 65537, size} {
		pb, err := client.NewProofBuilder(ctx, sz, src.ReadTile)
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			idx := rng.Uint64N(sz)
			want, err := pb.InclusionProof(ctx, idx)
			if err != nil {
				t.Fatal(err)
			}
			got, err := pr.InclusionProof(ctx, idx, sz)
			if err != nil {
				t.Fatalf("size %d index %d: %v", sz, idx, err)
			}
			if len(got) != len(want) {
				t.Fatalf("size %d index %d: %d hashes, want %d", sz, idx, len(got), len(want))
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("size %d index %d: hash %d differs", sz, idx, i)
				}
			}
		}
	}
}
