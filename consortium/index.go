package consortium

import (
	"crypto/ed25519"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// PeerIDs returns the member's nodes, decoded. A node whose peer_id does not
// decode is left out (Validate refuses such a roster).
func (m *Member) PeerIDs() []peer.ID {
	out := make([]peer.ID, 0, len(m.Nodes))
	for _, n := range m.Nodes {
		if p, err := peer.Decode(n.PeerID); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// JournalKey returns the Ed25519 public key the member signs its journal
// and its cosignatures with: the key of its first node. (A member that runs
// several nodes journals from the first; an org key in the roster would be
// cleaner.)
func (m *Member) JournalKey() (ed25519.PublicKey, error) {
	ids := m.PeerIDs()
	if len(ids) == 0 {
		return nil, fmt.Errorf("org %s lists no node", m.Org)
	}
	pk, err := ids[0].ExtractPublicKey()
	if err != nil {
		return nil, fmt.Errorf("org %s: %w", m.Org, err)
	}
	if pk.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("org %s: node key is not Ed25519", m.Org)
	}
	raw, err := pk.Raw()
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(raw), nil
}

// JournalKeys returns the journal key (see Member.JournalKey) of every
// member that lists a node, by org. A member listed without a node yet (an
// org being onboarded) has no journal and is left out: it neither keeps a
// log nor cosigns others'.
func (r *Roster) JournalKeys() (map[string]ed25519.PublicKey, error) {
	out := make(map[string]ed25519.PublicKey, len(r.Members))
	for i := range r.Members {
		if len(r.Members[i].Nodes) == 0 {
			continue
		}
		k, err := r.Members[i].JournalKey()
		if err != nil {
			return nil, err
		}
		out[r.Members[i].Org] = k
	}
	return out, nil
}

// Index is a verified roster with its nodes parsed once: which org each
// node speaks for, each org's nodes and where to dial them. It is what a
// gateway consults on every connection, gossip message and stream, so it
// compares decoded PeerIDs rather than their spellings. An Index does not
// change; a gateway makes a new one for each roster it puts in force.
type Index struct {
	roster *Roster
	orgOf  map[peer.ID]string
	orgs   map[string]bool
	nodes  map[string][]peer.ID
	addrs  map[peer.ID][]ma.Multiaddr
	all    []peer.ID
}

// NewIndex parses r's nodes. r must not be modified afterwards.
func NewIndex(r *Roster) *Index {
	x := &Index{roster: r, orgOf: map[peer.ID]string{}, orgs: map[string]bool{}, nodes: map[string][]peer.ID{}, addrs: map[peer.ID][]ma.Multiaddr{}}
	for i := range r.Members {
		m := &r.Members[i]
		x.orgs[m.Org] = true
		for _, n := range m.Nodes {
			id, err := peer.Decode(n.PeerID)
			if err != nil {
				continue // Validate refused it
			}
			x.orgOf[id] = m.Org
			x.nodes[m.Org] = append(x.nodes[m.Org], id)
			x.all = append(x.all, id)
			for _, s := range n.Addrs {
				if a, err := ma.NewMultiaddr(s); err == nil {
					x.addrs[id] = append(x.addrs[id], a)
				}
			}
		}
	}
	return x
}

// Roster returns the roster the index was made from. The caller must not
// modify it.
func (x *Index) Roster() *Roster { return x.roster }

// OrgOf returns the org that lists node id.
func (x *Index) OrgOf(id peer.ID) (string, bool) {
	org, ok := x.orgOf[id]
	return org, ok
}

// NodesOf returns an org's nodes, in roster order. The caller must not modify
// the slice.
func (x *Index) NodesOf(org string) []peer.ID { return x.nodes[org] }

// HasOrg reports whether the roster lists the org (with or without nodes).
func (x *Index) HasOrg(org string) bool { return x.orgs[org] }

// All returns every node the roster lists, in roster order. The caller
// must not modify the slice.
func (x *Index) All() []peer.ID { return x.all }

// Addrs returns the addresses the roster gives for node id.
func (x *Index) Addrs(id peer.ID) []ma.Multiaddr { return x.addrs[id] }
