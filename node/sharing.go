package node

import (
	"context"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing"
)

// StoreDir is the Pebble store inside the data directory.
const StoreDir = "store"

// members adapts the roster in force to sharing.Members.
type members struct{ n *Node }

func (m members) OrgOf(p peer.ID) (string, bool) {
	return m.n.roster.Load().OrgOf(p.String())
}

func (m members) HasOrg(org string) bool { return m.n.roster.Load().Member(org) != nil }

func (m members) Nodes() []peer.ID {
	var out []peer.ID
	for _, mem := range m.n.roster.Load().Members {
		for _, nd := range mem.Nodes {
			if p, err := peer.Decode(nd.PeerID); err == nil && p != m.n.self {
				out = append(out, p)
			}
		}
	}
	return out
}

// startSharing opens the store and starts gossip and the catalog service.
func (n *Node) startSharing(key crypto.PrivKey) error {
	var err error
	if n.schemas, err = schemas.Default(); err != nil {
		return err
	}
	if n.store, err = sharing.OpenStore(filepath.Join(n.dir, StoreDir), n.log.Named("store")); err != nil {
		return err
	}
	r := n.roster.Load()
	_, dial := rosterPeers(r, n.self)
	var direct []peer.AddrInfo
	for p, addrs := range dial {
		direct = append(direct, peer.AddrInfo{ID: p, Addrs: addrs})
	}
	topic := sharing.Topic(r.Consortium)
	var ctx context.Context
	ctx, n.psCancel = context.WithCancel(context.Background())
	ps, err := p2p.NewPubSub(ctx, n.host, p2p.PubSubOptions{Direct: direct, Topics: []string{topic, JournalTopic(r.Consortium)}})
	if err != nil {
		return err
	}
	n.pubsub = ps
	n.sharing, err = sharing.NewService(sharing.ServiceConfig{
		Host: n.host, PubSub: ps, Topic: topic, Store: n.store, Members: members{n},
		Key: key, Org: n.cfg.Org, Log: n.log.Named("catalog"),
	})
	if err != nil {
		return err
	}
	announce := n.sharing.Publisher.Announce
	n.sharing.Publisher.Announce = func(st *sharing.Statement) error {
		if err := n.journalStatement(st); err != nil {
			return err
		}
		return announce(st)
	}
	return nil
}

// Store returns the gateway's Pebble store.
func (n *Node) Store() *sharing.Store { return n.store }

// Sharing returns the catalog service.
func (n *Node) Sharing() *sharing.Service { return n.sharing }

// Schemas returns the dataset schema registry.
func (n *Node) Schemas() *schemas.Registry { return n.schemas }
