package witness

import (
	"sync"
	"time"

	"github.com/caravan-consortium/caravan/journal"
)

// timing keeps what the service's metrics need: when each of this org's
// checkpoints was first announced (to time how long it took to be
// witnessed), and the newest checkpoint size heard of each member (to say
// how far its mirror lags).
type timing struct {
	mu        sync.Mutex
	announced map[uint64]time.Time // this org's checkpoint sizes, not yet witnessed
	done      uint64               // the largest size witnessed: not timed again
	heard     map[string]uint64    // member org -> newest size of its checkpoints heard
}

// maxPending bounds the checkpoints waiting to be witnessed that are timed.
const maxPending = 256

func (t *timing) announce(size uint64, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.announced == nil {
		t.announced = map[uint64]time.Time{}
	}
	if _, ok := t.announced[size]; ok || size <= t.done {
		return
	}
	if len(t.announced) >= maxPending {
		clear(t.announced) // witnessing has stalled; start timing afresh
	}
	t.announced[size] = at
}

// witnessed returns how long ago the checkpoint of size was first
// announced, once: later calls for it report false.
func (t *timing) witnessed(size uint64, now time.Time) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.announced[size]
	if !ok {
		return 0, false
	}
	t.done = max(t.done, size)
	for s := range t.announced {
		if s <= size { // an older one is not timed once a newer is witnessed
			delete(t.announced, s)
		}
	}
	return now.Sub(at), true
}

func (t *timing) hear(org string, size uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.heard == nil {
		t.heard = map[string]uint64{}
	}
	t.heard[org] = max(t.heard[org], size)
}

func (t *timing) heardOf(org string) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.heard[org]
}

// ownAdded is called with this org's note as merged after cosignatures
// were added (by gossip or pulled): the first time it carries the
// cosignatures the roster requires, the time since it was announced goes
// to OnWitnessed.
func (s *Service) ownAdded(size uint64, merged []byte, trust *journal.Trust) {
	if s.cfg.OnWitnessed == nil {
		return
	}
	if _, _, ok, err := trust.Check(merged); err != nil || !ok {
		return
	}
	if d, ok := s.timing.witnessed(size, time.Now()); ok {
		s.cfg.OnWitnessed(d)
	}
}
