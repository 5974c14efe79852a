package p2p

import (
	"maps"
	"sync"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
)

// Verdict is a gossip validator's result (accepted, rejected, ignored) and
// the reason it gave.
type Verdict struct{ Result, Reason string }

// Verdicts counts a gossip validator's verdicts on other members' messages
// (metrics). The zero value is ready to use.
type Verdicts struct {
	mu sync.Mutex
	m  map[Verdict]uint64
}

// Add counts one verdict.
func (v *Verdicts) Add(res pubsub.ValidationResult, reason string) {
	r := "accepted"
	switch res {
	case pubsub.ValidationReject:
		r = "rejected"
	case pubsub.ValidationIgnore:
		r = "ignored"
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[Verdict]uint64{}
	}
	v.m[Verdict{r, reason}]++
}

// Counts returns the verdicts counted so far.
func (v *Verdicts) Counts() map[Verdict]uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.m)
}
