package devnet

import (
	"context"
	"crypto/ed25519"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/caravan-consortium/caravan/gateway/roster"
	"github.com/caravan-consortium/caravan/journal/witness"
	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/sharing/catalog"
)

// Member is a member's node key standing in the network without a
// gateway: a bare libp2p host on loopback that admits only the roster's
// nodes, with GossipSub joined to the consortium's catalog and journal
// topics. It is how a hostile member stands, for the hostile scenario's
// attacker and for the tests' testnet.Hostile alike; what it does is up
// to its driver.
type Member struct {
	Host   host.Host
	PubSub *pubsub.PubSub
	Topics map[string]*pubsub.Topic // "catalog", "journal", "roster"
}

// JoinAsMember starts key as Member of consortium, whose nodes are members.
// It does not connect to anyone; Close ends it.
func JoinAsMember(ctx context.Context, key ed25519.PrivateKey, consortium string, members []peer.ID) (*Member, error) {
	priv, err := crypto.UnmarshalEd25519PrivateKey(key)
	if err != nil {
		return nil, err
	}
	h, err := p2p.NewHost(p2p.HostConfig{Key: priv, Listen: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")},
		Gater: p2p.NewGater(nil, members)})
	if err != nil {
		return nil, err
	}
	names := map[string]string{"catalog": catalog.Topic(consortium), "journal": witness.Topic(consortium), "roster": roster.Topic(consortium)}
	ps, err := p2p.NewPubSub(ctx, h, p2p.PubSubOptions{Topics: []string{names["catalog"], names["journal"], names["roster"]}})
	if err != nil {
		h.Close()
		return nil, err
	}
	m := &Member{Host: h, PubSub: ps, Topics: map[string]*pubsub.Topic{}}
	for kind, name := range names {
		tp, err := ps.Join(name)
		if err != nil {
			h.Close()
			return nil, err
		}
		m.Topics[kind] = tp
	}
	return m, nil
}

// Close stops the member's host.
func (m *Member) Close() error { return m.Host.Close() }
