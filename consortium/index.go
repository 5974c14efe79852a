package consortium

import (
	"crypto/ed25519"
	"fmt"
	"slices"

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

// JournalKey returns the Ed25519 public key the member signs its journal's
// checkpoints and its catalog statements with: its org key, or, for a
// member without one, the key of its first node.
func (m *Member) JournalKey() (ed25519.PublicKey, error) {
	if m.OrgKey != "" {
		return ParsePublicKey(m.OrgKey)
	}
	keys, err := m.nodeKeys()
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("org %s lists no node", m.Org)
	}
	return keys[0], nil
}

// nodeKeys returns the Ed25519 keys of the member's nodes, in roster
// order: the keys it cosigns others' checkpoints with, on its behalf.
func (m *Member) nodeKeys() ([]ed25519.PublicKey, error) {
	var out []ed25519.PublicKey
	for _, id := range m.PeerIDs() {
		pub, err := nodeKey(id)
		if err != nil {
			return nil, fmt.Errorf("org %s: %w", m.Org, err)
		}
		out = append(out, pub)
	}
	return out, nil
}

// signerID is the PeerID spelling of the member's statement key (org key,
// or first node), as a catalog statement's signer field carries it.
func (m *Member) signerID() (peer.ID, error) {
	pub, err := m.JournalKey()
	if err != nil {
		return "", err
	}
	return peer.IDFromPublicKey(mustLibp2p(pub))
}

func nodeKey(id peer.ID) (ed25519.PublicKey, error) {
	pk, err := id.ExtractPublicKey()
	if err != nil {
		return nil, err
	}
	if pk.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("node %s: key is not Ed25519", id)
	}
	raw, err := pk.Raw()
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(raw), nil
}

// mustLibp2p is pub as a libp2p key (an Ed25519 public key always is).
func mustLibp2p(pub ed25519.PublicKey) crypto.PubKey {
	k, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		panic(err)
	}
	return k
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

// CosignerKeys returns the keys each member that lists a node cosigns
// with: its nodes' keys.
func (r *Roster) CosignerKeys() (map[string][]ed25519.PublicKey, error) {
	out := make(map[string][]ed25519.PublicKey, len(r.Members))
	for i := range r.Members {
		keys, err := r.Members[i].nodeKeys()
		if err != nil {
			return nil, err
		}
		if len(keys) > 0 {
			out[r.Members[i].Org] = keys
		}
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
	eff    *Roster // the members with the nodes their delegations list
	orgOf  map[peer.ID]string
	orgs   map[string]bool
	nodes  map[string][]peer.ID
	addrs  map[peer.ID][]ma.Multiaddr
	all    []peer.ID
	signer map[peer.ID]string // statement keys: org keys, and nodes
}

// NewIndex parses r's nodes. r must not be modified afterwards.
func NewIndex(r *Roster) *Index { return NewDelegatedIndex(r, nil) }

// NewDelegatedIndex parses r's nodes, an org's replaced by those of its
// delegation in ds, which must have passed r.CheckDelegation.
func NewDelegatedIndex(r *Roster, ds map[string]*Delegation) *Index {
	eff := r
	if len(ds) > 0 {
		c := *r
		c.Members = slices.Clone(r.Members)
		for i := range c.Members {
			if d := ds[c.Members[i].Org]; d != nil {
				c.Members[i].Nodes = d.Nodes
			}
		}
		eff = &c
	}
	x := &Index{roster: r, eff: eff, orgOf: map[peer.ID]string{}, orgs: map[string]bool{}, nodes: map[string][]peer.ID{}, addrs: map[peer.ID][]ma.Multiaddr{},
		signer: map[peer.ID]string{}}
	for i := range eff.Members {
		m := &eff.Members[i]
		x.orgs[m.Org] = true
		if m.OrgKey != "" {
			if id, err := m.signerID(); err == nil {
				x.signer[id] = m.Org
			}
		}
		for _, n := range m.Nodes {
			id, err := peer.Decode(n.PeerID)
			if err != nil {
				continue // Validate refused it
			}
			x.orgOf[id] = m.Org
			x.signer[id] = m.Org
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

// Members is the roster with each org's nodes as the index has them (its
// delegation's, if it has one): what journal trust derives the cosigners
// from. It is not signed as it is; the caller must not modify it.
func (x *Index) Members() *Roster { return x.eff }

// OrgOf returns the org that lists node id.
func (x *Index) OrgOf(id peer.ID) (string, bool) {
	org, ok := x.orgOf[id]
	return org, ok
}

// SignerOrg returns the org that a catalog statement signed by id (a
// PeerID spelling of a key) speaks for: the org whose org key it is, or
// which lists it as a node. An org signs its statements with its org key;
// its nodes' signatures stay valid for what they signed before it had one
// (and while they stay its nodes). A key an org no longer has signs
// nothing of its.
func (x *Index) SignerOrg(id peer.ID) (string, bool) {
	org, ok := x.signer[id]
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
