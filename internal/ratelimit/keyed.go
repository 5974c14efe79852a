// Package ratelimit holds token buckets by key: a peer, a signer, a
// remote address, an API token's name.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxKeys bounds the keys a Keyed remembers; past it they are all
// forgotten at once (each key then starts with a fresh burst).
const maxKeys = 4096

// Keyed limits how many events each key may have, and optionally their
// bytes. The zero value of the fields it is given is no event at all.
type Keyed[K comparable] struct {
	PerSecond float64
	Burst     int
	// BytesPerSecond and BytesBurst, if set, also bound the bytes of a
	// key's events (AllowBytes).
	BytesPerSecond float64
	BytesBurst     int

	mu sync.Mutex
	m  map[K]*limits
}

type limits struct{ count, bytes *rate.Limiter }

// Allow reports whether k may have one more event now, and spends it.
func (r *Keyed[K]) Allow(k K) bool { return r.AllowBytes(k, 0) }

// AllowBytes reports whether k may have one more event of n bytes now, and
// spends it.
func (r *Keyed[K]) AllowBytes(k K, n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.m[k]
	if !ok {
		if r.m == nil || len(r.m) >= maxKeys {
			r.m = map[K]*limits{}
		}
		l = &limits{count: rate.NewLimiter(rate.Limit(r.PerSecond), r.Burst)}
		if r.BytesPerSecond > 0 {
			l.bytes = rate.NewLimiter(rate.Limit(r.BytesPerSecond), r.BytesBurst)
		}
		r.m[k] = l
	}
	now := time.Now()
	if l.bytes != nil && n > 0 {
		if !l.bytes.AllowN(now, n) {
			return false
		}
	}
	return l.count.AllowN(now, 1)
}

// Spent reports whether k could not have one more event of n bytes now,
// without spending anything: a gossip validator may drop a message whose
// claimed signer is spent before it checks the signature (a forger naming
// a signer cannot spend its budget; it can only find it spent already).
func (r *Keyed[K]) Spent(k K, n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.m[k]
	if !ok {
		return false
	}
	now := time.Now()
	if l.bytes != nil && n > 0 && l.bytes.TokensAt(now) < float64(n) {
		return true
	}
	return l.count.TokensAt(now) < 1
}
