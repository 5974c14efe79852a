package p2p_test

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/p2p"
)

// A peer's messages beyond its burst are refused; another peer's are not.
func TestPeerRatesLimitEachPeer(t *testing.T) {
	r := &p2p.PeerRates{PerSecond: 1, Burst: 10}
	flooder, other := peer.ID("flooder"), peer.ID("other")
	allowed := 0
	for range 1000 {
		if r.Allow(flooder) {
			allowed++
		}
	}
	if allowed < 10 || allowed > 11 {
		t.Fatalf("%d of a flood of 1000 allowed, want the burst of 10", allowed)
	}
	if !r.Allow(other) {
		t.Fatal("another peer was limited by the flood")
	}
}

// With a byte budget, a peer's large messages run out of it before its
// count; another peer's budget is its own.
func TestPeerRatesBoundBytes(t *testing.T) {
	r := &p2p.PeerRates{PerSecond: 1000, Burst: 1000, BytesPerSecond: 1, BytesBurst: 100}
	flooder, other := peer.ID("flooder"), peer.ID("other")
	if !r.AllowBytes(flooder, 60) {
		t.Fatal("the first 60 bytes of a burst of 100 refused")
	}
	if r.AllowBytes(flooder, 60) {
		t.Fatal("120 bytes allowed in a burst of 100")
	}
	if !r.AllowBytes(other, 60) {
		t.Fatal("another peer was limited by the flood")
	}
}

// Spent tells a spent budget without spending: asking it any number of
// times leaves an unspent peer its whole burst.
func TestPeerRatesSpentSpendsNothing(t *testing.T) {
	r := &p2p.PeerRates{PerSecond: 1, Burst: 3, BytesPerSecond: 1, BytesBurst: 100}
	p := peer.ID("signer")
	for range 100 {
		if r.Spent(p, 10) {
			t.Fatal("an unknown peer reads as spent")
		}
	}
	_ = r.AllowBytes(p, 10)
	for range 100 {
		if r.Spent(p, 10) {
			t.Fatal("asking spent the budget")
		}
	}
	first, second := r.AllowBytes(p, 10), r.AllowBytes(p, 10)
	if !first || !second {
		t.Fatal("the burst is not whole")
	}
	if !r.Spent(p, 10) || r.AllowBytes(p, 10) {
		t.Fatal("a peer past its burst of 3 does not read as spent")
	}
	if q := peer.ID("big"); !func() bool { _ = r.AllowBytes(q, 95); return r.Spent(q, 10) }() {
		t.Fatal("a peer with 5 bytes left reads as able to send 10")
	}
}
