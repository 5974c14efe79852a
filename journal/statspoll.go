package journal

import (
	"context"
	"sync"
	"time"

	"github.com/transparency-dev/tessera"
)

// Tessera v1.0.4 starts, with every appender, a loop that asks the log
// reader for its integrated size and next index every 100 ms, for its
// OpenTelemetry metrics (append_lifecycle.go, updateStats; it cannot be
// turned off). On disk each is a file read; on cluster storage each is a
// query to the shared database: 20 a second from every node, whether
// anything is appended or not. With three idle nodes that was 60 queries
// a second and about 40 ms of MariaDB's CPU each second (measured: the
// general log, and /proc), most of the database's share of a fetched or
// published record in the cluster scenario.
//
// statsPoll gives the appender a reader whose two sizes are read at most
// once per interval; the journal keeps the driver's own reader for itself
// (CheckpointCovering waits on the integrated size and must see it move).
// Caravan does not export tessera's metrics, so nothing reads a value
// that is an interval old.
type statsPoll struct {
	driver interface {
		Appender(context.Context, *tessera.AppendOptions) (*tessera.Appender, tessera.LogReader, error)
	}
	every time.Duration
	inner tessera.LogReader // the driver's reader, once Appender ran
}

// Appender is the driver's, with the damped reader given to tessera.
func (d *statsPoll) Appender(ctx context.Context, opts *tessera.AppendOptions) (*tessera.Appender, tessera.LogReader, error) {
	a, r, err := d.driver.Appender(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	d.inner = r
	return a, &dampedReader{LogReader: r, every: d.every}, nil
}

// dampedReader answers IntegratedSize and NextIndex from the last read
// while it is younger than every; the rest goes to the reader.
type dampedReader struct {
	tessera.LogReader
	every time.Duration

	mu         sync.Mutex
	size, next damped
}

type damped struct {
	v  uint64
	at time.Time
}

func (r *dampedReader) IntegratedSize(ctx context.Context) (uint64, error) {
	return r.read(ctx, &r.size, r.LogReader.IntegratedSize)
}

func (r *dampedReader) NextIndex(ctx context.Context) (uint64, error) {
	return r.read(ctx, &r.next, r.LogReader.NextIndex)
}

func (r *dampedReader) read(ctx context.Context, d *damped, get func(context.Context) (uint64, error)) (uint64, error) {
	r.mu.Lock()
	if !d.at.IsZero() && time.Since(d.at) < r.every {
		v := d.v
		r.mu.Unlock()
		return v, nil
	}
	r.mu.Unlock()
	v, err := get(ctx)
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	d.v, d.at = v, time.Now()
	r.mu.Unlock()
	return v, nil
}
