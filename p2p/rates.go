package p2p

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// PeerRates limits how many messages each peer may have handled, and
// optionally their bytes: a gossip validator asks Allow or AllowBytes for
// every message it sees from a peer (the one that forwarded it, or the
// node that signed it).
type PeerRates struct {
	PerSecond float64
	Burst     int
	// BytesPerSecond and BytesBurst, if set, also bound the bytes of a
	// peer's messages (AllowBytes).
	BytesPerSecond float64
	BytesBurst     int

	mu sync.Mutex
	m  map[peer.ID]*peerRate
}

type peerRate struct{ count, bytes *rate.Limiter }

// Allow reports whether p may send one more message now.
func (r *PeerRates) Allow(p peer.ID) bool { return r.AllowBytes(p, 0) }

// AllowBytes reports whether p may send one more message of n bytes now.
func (r *PeerRates) AllowBytes(p peer.ID, n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[peer.ID]*peerRate{}
	}
	l, ok := r.m[p]
	if !ok {
		if len(r.m) > 4096 { // members only get this far; a bound all the same
			clear(r.m)
		}
		l = &peerRate{count: rate.NewLimiter(rate.Limit(r.PerSecond), r.Burst)}
		if r.BytesPerSecond > 0 {
			l.bytes = rate.NewLimiter(rate.Limit(r.BytesPerSecond), r.BytesBurst)
		}
		r.m[p] = l
	}
	now := time.Now()
	if l.bytes != nil && n > 0 {
		if !l.bytes.AllowN(now, n) {
			return false
		}
	}
	return l.count.AllowN(now, 1)
}

// Spent reports whether p could not have one more message of n bytes now,
// without spending anything: a validator may drop a message whose claimed
// signer is spent before it checks the signature (a forger naming a signer
// cannot spend its budget; it can only find it spent already).
func (r *PeerRates) Spent(p peer.ID, n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.m[p]
	if !ok {
		return false
	}
	now := time.Now()
	if l.bytes != nil && n > 0 && l.bytes.TokensAt(now) < float64(n) {
		return true
	}
	return l.count.TokensAt(now) < 1
}
