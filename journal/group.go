package journal

import (
	"context"
	"sync"

	"github.com/transparency-dev/tessera"
)

// groupCommit hands appends to tessera in groups. Tessera batches what it
// is given within a time window (LogConfig.BatchMaxAge); with a window
// long enough for a busy journal to fill large batches (50 ms), a lone
// append waited all of it, and a fetch paid that before its first record.
// Here an append goes to tessera at once when no group is being written;
// appends that arrive meanwhile wait and go together as the next group,
// as in a database's group commit. An idle journal answers within one
// write and fsync; a busy one makes batches as large as its callers do.
type groupCommit struct {
	add func(data []byte) tessera.IndexFuture
	max int // entries per group

	mu      sync.Mutex
	pending []*pendingEntry
	closed  bool
	wake    chan struct{} // capacity 1: something is pending, or closed
	done    chan struct{} // closed when run returns
}

type pendingEntry struct {
	data []byte
	idx  uint64
	err  error
	done chan struct{}
}

func newGroupCommit(add func([]byte) tessera.IndexFuture, max int) *groupCommit {
	g := &groupCommit{add: add, max: max, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go g.run()
	return g
}

// append adds data and returns its index once tessera says it is durable.
// If ctx ends first, append returns ctx's error and the entry may still be
// appended.
func (g *groupCommit) append(ctx context.Context, data []byte) (uint64, error) {
	p := &pendingEntry{data: data, done: make(chan struct{})}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return 0, ErrClosed
	}
	g.pending = append(g.pending, p)
	g.mu.Unlock()
	g.signal()
	select {
	case <-p.done:
		return p.idx, p.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (g *groupCommit) signal() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// run writes groups until closed, then writes what is still pending.
func (g *groupCommit) run() {
	defer close(g.done)
	var futures []tessera.IndexFuture
	for {
		g.mu.Lock()
		n := min(len(g.pending), g.max)
		group := g.pending[:n:n]
		g.pending = g.pending[n:]
		closed := g.closed
		g.mu.Unlock()
		if n == 0 {
			if closed {
				return
			}
			<-g.wake
			continue
		}
		futures = futures[:0]
		for _, p := range group {
			futures = append(futures, g.add(p.data))
		}
		for i, f := range futures {
			idx, err := f()
			group[i].idx, group[i].err = idx.Index, err
			close(group[i].done)
		}
	}
}

// close refuses new appends and returns once the pending ones are written.
func (g *groupCommit) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.signal()
	<-g.done
}
