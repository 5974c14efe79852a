package policy_test

import (
	"testing"

	"github.com/caravan-consortium/caravan/policy"
)

// BenchmarkDecide decides generated customs declarations for partner
// customs, memoized (the default) and directly with cedar-go.
func BenchmarkDecide(b *testing.B) {
	bundle := loadDemo(b)
	recs := sampleRecords(b, "customs-declaration", 1, 20000)
	req := policy.Request{Org: customsKZ, Dataset: declarations, Purpose: "customs-clearance", Time: demoTime}
	for _, memo := range []bool{true, false} {
		name := "memo"
		if !memo {
			name = "direct"
		}
		b.Run(name, func(b *testing.B) {
			s := bundle.Fetch(req, nil)
			if !memo {
				s.DisableMemo()
			}
			out := make([]policy.Decision, 0, len(recs))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				lo := (i * 1000) % len(recs)
				out = s.Decide(recs[lo:lo+1000], out[:0])
			}
			b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
