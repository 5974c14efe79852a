package journal_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/client"

	"github.com/caravan-consortium/caravan/journal"
)

// appendN appends n events from 1024 goroutines and returns the elapsed time.
func appendN(b testing.TB, l *journal.Log, org string, n int) time.Duration {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 1024 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if _, err := l.Append(context.Background(), event(org, i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkDurableAppend: events appended by 1024 concurrent callers, each
// call returning once its batch is written and fsynced (tessera POSIX).
// Goal (DESIGN.md): at least 10,000 durable appends/s, batched.
func BenchmarkDurableAppend(b *testing.B) {
	a := newMember(b, "customs-cn")
	l := openLogBatch(b, a, b.TempDir(), journal.DefaultBatchMaxAge)
	n := max(b.N, 1) * 20000
	b.ResetTimer()
	took := appendN(b, l, a.org, n)
	b.ReportMetric(float64(n)/took.Seconds(), "appends/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkAppendLatency: one caller appending alone, as a fetch journals
// its decision before the first record flows: the time to durable.
func BenchmarkAppendLatency(b *testing.B) {
	a := newMember(b, "customs-cn")
	l := openLogBatch(b, a, b.TempDir(), journal.DefaultBatchMaxAge)
	var lat []time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, err := l.Append(context.Background(), event(a.org, i)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		i++
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkInclusionProof: build and verify an inclusion proof from the tiles
// of a 100,000-entry log on disk. Goal: under 100 µs.
func BenchmarkInclusionProof(b *testing.B) {
	ctx := context.Background()
	a := newMember(b, "customs-cn")
	l := openLogBatch(b, a, b.TempDir(), journal.DefaultBatchMaxAge)
	const size = 100_000
	appendN(b, l, a.org, size)
	cpRaw := waitCheckpoint(b, l, a.logVerifier(b), size)
	var sz uint64
	if _, err := fmtSscan(string(cpRaw), &sz); err != nil {
		b.Fatal(err)
	}
	cp, err := parseRoot(cpRaw)
	if err != nil {
		b.Fatal(err)
	}
	src := journal.DirSource(l.Dir())
	leaves := make([][]byte, 64)
	for i := range leaves {
		e, err := journal.ReadEntry(ctx, src, uint64(i*1500), sz)
		if err != nil {
			b.Fatal(err)
		}
		leaves[i] = rfc6962.DefaultHasher.HashLeaf(e)
	}
	b.Run("tessera-proofbuilder", func(b *testing.B) {
		pb, err := client.NewProofBuilder(ctx, sz, src.ReadTile)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			k := i % len(leaves)
			p, err := pb.InclusionProof(ctx, uint64(k*1500))
			if err != nil {
				b.Fatal(err)
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(k*1500), sz, leaves[k], p, cp); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/proof")
	})
	for _, cold := range []bool{false, true} {
		name := "caravan-prover-warm"
		if cold {
			name = "caravan-prover-cold"
		}
		b.Run(name, func(b *testing.B) { proveBench(b, src, sz, leaves, cp, cold) })
	}
}

// proveBench builds and verifies proofs with a Prover: warm (one prover,
// its tile cache filled by earlier proofs) or cold (a new prover each time).
func proveBench(b *testing.B, src journal.Source, sz uint64, leaves [][]byte, cp []byte, cold bool) {
	ctx := context.Background()
	pr := journal.NewProver(src)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if cold {
			pr = journal.NewProver(src)
		}
		k := i % len(leaves)
		p, err := pr.InclusionProof(ctx, uint64(k*1500), sz)
		if err != nil {
			b.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(k*1500), sz, leaves[k], p, cp); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/proof")
}
