package p2p_test

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/zap/zaptest"

	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/p2p"
)

// The keeper connects, reconnects after the connection drops, and finds the
// peer again after it restarts on the same address.
func TestKeeperReconnects(t *testing.T) {
	ka, a := newKey(t)
	kb, b := newKey(t)
	ha := newHost(t, ka, "/ip4/127.0.0.1/tcp/0", nil, a, b)
	hb := newHost(t, kb, "/ip4/127.0.0.1/tcp/0", nil, a, b)
	bAddr := hb.Addrs()[0]

	k, err := p2p.NewKeeper(ha, zaptest.NewLogger(t), p2p.Backoff{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	k.SetPeers(map[peer.ID][]ma.Multiaddr{b: {bAddr}, a: nil})
	connected := func() bool { return ha.Network().Connectedness(b) == network.Connected }
	poll.Until(t, connected, "the first connection")

	ha.Network().ClosePeer(b)
	poll.Until(t, connected, "a reconnection after the connection was closed")

	// b goes away, then comes back on the same address with the same key.
	hb.Close()
	poll.Until(t, func() bool { return !connected() }, "the disconnection")
	time.Sleep(300 * time.Millisecond) // let a few dials fail
	newHost(t, kb, bAddr.String(), nil, a, b)
	poll.Until(t, connected, "a reconnection after the peer restarted")

	// Removed from the set, b is no longer redialed.
	k.SetPeers(nil)
	ha.Network().ClosePeer(b)
	time.Sleep(500 * time.Millisecond)
	if connected() {
		t.Fatal("a peer removed from the keeper was redialed")
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	k.Close() // a second Close is harmless
}
