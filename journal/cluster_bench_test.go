//go:build cluster

package journal_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/internal/clusterenv"
)

// BenchmarkClusterAppend measures the time to durable (Append returned:
// sequenced in MariaDB) of appends to a log on cluster storage, from 1
// and from 16 writers at once, with nothing else running: p50 and p99 as
// metrics. The goal is a p99 under 50 ms.
func BenchmarkClusterAppend(b *testing.B) {
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			l := openClusterLog(b, newMember(b, "customs-cn"), clusterenv.NewSpace(b).Conn())
			ctx := context.Background()
			var mu sync.Mutex
			var lat []time.Duration
			jobs := make(chan int)
			var wg sync.WaitGroup
			b.ResetTimer()
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range jobs {
						t := time.Now()
						if _, err := l.Append(ctx, event("customs-cn", i)); err != nil {
							b.Error(err)
							return
						}
						mu.Lock()
						lat = append(lat, time.Since(t))
						mu.Unlock()
					}
				}()
			}
			for i := range b.N {
				jobs <- i
			}
			close(jobs)
			wg.Wait()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
