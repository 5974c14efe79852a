package testnet

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/devnet"
	"github.com/caravan-consortium/caravan/gateway"
)

// Hostile is a member that misbehaves: a bare libp2p host with org i's
// node key (so the others admit it, and its statements and requests carry
// a member's signature), joined to the consortium's gossip topics, and
// driven by the test rather than by a gateway.
type Hostile struct {
	Host   host.Host
	PubSub *pubsub.PubSub
	topics map[string]*pubsub.Topic
}

// Hostile starts org i's node key as a hostile member, connected to nodes.
// Org i's gateway must not run.
func (c *Cluster) Hostile(i int, nodes ...*gateway.Gateway) *Hostile {
	c.t.Helper()
	var allowed []peer.ID
	for j := range c.Net.Orgs {
		allowed = append(allowed, c.PeerOf(j))
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.t.Cleanup(cancel)
	m, err := devnet.JoinAsMember(ctx, c.NodeKey(i), c.Roster().Consortium, allowed)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { m.Close() })
	h := m.Host
	hs := &Hostile{Host: h, PubSub: m.PubSub, topics: m.Topics}
	for _, tp := range m.Topics {
		if _, err := tp.Subscribe(); err != nil { // to be in the mesh
			c.t.Fatal(err)
		}
	}
	for _, n := range nodes {
		if err := h.Connect(ctx, peer.AddrInfo{ID: n.PeerID(), Addrs: n.Host().Addrs()}); err != nil {
			c.t.Fatal(err)
		}
	}
	return hs
}

// Gossip publishes data on the journal's topic (which "journal"), the
// catalog's ("catalog") or the roster's ("roster"), once each of the targets lists this host among
// the topic's peers.
func (hs *Hostile) Gossip(t testing.TB, which string, data []byte) {
	t.Helper()
	tp, ok := hs.topics[which]
	if !ok {
		t.Fatalf("no %s topic", which)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(tp.ListPeers()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := tp.Publish(context.Background(), data); err != nil {
		t.Fatal(err)
	}
}

// NodeKey is k as a libp2p key, for a host.
func NodeKey(t testing.TB, k ed25519.PrivateKey) crypto.PrivKey {
	t.Helper()
	lk, err := crypto.UnmarshalEd25519PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return lk
}
