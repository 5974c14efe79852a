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
	ma "github.com/multiformats/go-multiaddr"

	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/journal/witness"
	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/sharing/catalog"
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
	priv, err := crypto.UnmarshalEd25519PrivateKey(c.NodeKey(i))
	if err != nil {
		c.t.Fatal(err)
	}
	var allowed []peer.ID
	for j := range c.Net.Orgs {
		allowed = append(allowed, c.PeerOf(j))
	}
	h, err := p2p.NewHost(p2p.HostConfig{Key: priv, Listen: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")},
		Gater: p2p.NewGater(nil, allowed)})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { h.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	c.t.Cleanup(cancel)
	consortium := c.Roster().Consortium
	names := map[string]string{"catalog": catalog.Topic(consortium), "journal": witness.Topic(consortium)}
	ps, err := p2p.NewPubSub(ctx, h, p2p.PubSubOptions{Topics: []string{names["catalog"], names["journal"]}})
	if err != nil {
		c.t.Fatal(err)
	}
	hs := &Hostile{Host: h, PubSub: ps, topics: map[string]*pubsub.Topic{}}
	for kind, name := range names {
		tp, err := ps.Join(name)
		if err != nil {
			c.t.Fatal(err)
		}
		if _, err := tp.Subscribe(); err != nil { // to be in the mesh
			c.t.Fatal(err)
		}
		hs.topics[kind] = tp
	}
	for _, n := range nodes {
		if err := h.Connect(ctx, peer.AddrInfo{ID: n.PeerID(), Addrs: n.Host().Addrs()}); err != nil {
			c.t.Fatal(err)
		}
	}
	return hs
}

// Gossip publishes data on the journal's topic (which "journal") or the
// catalog's ("catalog"), once each of the targets lists this host among
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
