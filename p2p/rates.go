package p2p

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// PeerRates limits how many messages each peer may have handled: a gossip
// validator asks Allow for every message it sees from a forwarding peer.
type PeerRates struct {
	PerSecond float64
	Burst     int

	mu sync.Mutex
	m  map[peer.ID]*rate.Limiter
}

// Allow reports whether p may send one more message now.
func (r *PeerRates) Allow(p peer.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[peer.ID]*rate.Limiter{}
	}
	l, ok := r.m[p]
	if !ok {
		if len(r.m) > 4096 { // members only get this far; a bound all the same
			clear(r.m)
		}
		l = rate.NewLimiter(rate.Limit(r.PerSecond), r.Burst)
		r.m[p] = l
	}
	return l.Allow()
}
