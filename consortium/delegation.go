package consortium

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/caravan-consortium/caravan/internal/yamlfile"
)

// Delegation is an organization's own list of its nodes, signed by its
// org key (schemas/roster.md, "Delegations"): an org adds or replaces its
// nodes with it, without a consortium vote. Under the roster in force, the
// newest delegation an org signed with the org key that version names
// replaces the nodes the roster lists for it.
type Delegation struct {
	Consortium string `yaml:"consortium" json:"consortium"`
	Org        string `yaml:"org" json:"org"`
	Sequence   uint64 `yaml:"sequence" json:"sequence"` // raised by one for each new list
	Nodes      []Node `yaml:"nodes" json:"nodes"`
	Signature  string `yaml:"signature,omitempty" json:"-"` // standard base64 Ed25519, by the org key
}

const delegationContext = "caravan/nodes/v1\n"

// maxDelegatedNodes bounds the nodes an org lists by itself: every member
// admits and dials each, and no vote checked them.
const maxDelegatedNodes = 16

// ErrDelegation is wrapped by every refusal of a delegation.
var ErrDelegation = errors.New("node delegation refused")

// ParseDelegation reads a delegation document (YAML; unknown fields are
// errors); name is used in errors.
func ParseDelegation(name string, data []byte) (*Delegation, error) {
	var d Delegation
	if err := yamlfile.Decode(name, data, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Marshal writes the delegation as YAML.
func (d *Delegation) Marshal() ([]byte, error) { return yamlfile.Marshal(d) }

// signingBytes is what the org key signs.
func (d *Delegation) signingBytes() ([]byte, error) {
	body := *d
	body.Nodes = normalNodes(body.Nodes) // a copy: d is not changed
	return signedMessage(delegationContext, &body)
}

// Sign signs the delegation with the org key.
func (d *Delegation) Sign(orgKey ed25519.PrivateKey) error {
	msg, err := d.signingBytes()
	if err != nil {
		return err
	}
	d.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(orgKey, msg))
	return nil
}

// CheckDelegation says whether d may stand for its org's nodes under r:
// the org is a member with an org key, which signed d; d lists at least
// one node, each a valid PeerID with valid addresses, none another org's
// (in r, or in the other delegations in force, others).
func (r *Roster) CheckDelegation(d *Delegation, others map[string]*Delegation) error {
	m := r.Member(d.Org)
	switch {
	case d.Consortium != r.Consortium:
		return fmt.Errorf("%w: consortium %q, not %q", ErrDelegation, d.Consortium, r.Consortium)
	case m == nil:
		return fmt.Errorf("%w: %q is not a member", ErrDelegation, d.Org)
	case m.OrgKey == "":
		return fmt.Errorf("%w: %s has no org key in roster version %d; its nodes are the roster's", ErrDelegation, d.Org, r.Version)
	case d.Sequence < 1:
		return fmt.Errorf("%w: sequence must be at least 1", ErrDelegation)
	case len(d.Nodes) == 0:
		return fmt.Errorf("%w: it lists no node (remove the member instead)", ErrDelegation)
	case len(d.Nodes) > maxDelegatedNodes:
		return fmt.Errorf("%w: %d nodes, at most %d (every member dials each)", ErrDelegation, len(d.Nodes), maxDelegatedNodes)
	}
	pub, err := ParsePublicKey(m.OrgKey)
	if err != nil {
		return err
	}
	msg, err := d.signingBytes()
	if err != nil {
		return err
	}
	sig, err := base64.StdEncoding.DecodeString(d.Signature)
	if err != nil || !ed25519.Verify(pub, msg, sig) {
		return fmt.Errorf("%w: not signed by the org key of %s in roster version %d", ErrDelegation, d.Org, r.Version)
	}
	taken := map[peer.ID]string{}
	for _, o := range r.Members {
		if o.Org == d.Org {
			continue
		}
		nodes := o.Nodes
		if od := others[o.Org]; od != nil {
			nodes = od.Nodes
		}
		for _, n := range nodes {
			if id, err := peer.Decode(n.PeerID); err == nil {
				taken[id] = o.Org
			}
		}
	}
	for i, n := range d.Nodes {
		id, err := peer.Decode(n.PeerID)
		if err != nil {
			return fmt.Errorf("%w: nodes[%d].peer_id %q: %v", ErrDelegation, i, n.PeerID, err)
		}
		if other, ok := taken[id]; ok {
			return fmt.Errorf("%w: nodes[%d] %s is a node of %s", ErrDelegation, i, n.PeerID, other)
		}
		for j, a := range n.Addrs {
			if _, err := ma.NewMultiaddr(a); err != nil {
				return fmt.Errorf("%w: nodes[%d].addrs[%d] %q: %v", ErrDelegation, i, j, a, err)
			}
		}
	}
	return nil
}

// SameDelegation reports whether a and b list the same nodes under the
// same sequence.
func SameDelegation(a, b *Delegation) bool {
	x, errA := a.signingBytes()
	y, errB := b.signingBytes()
	return errA == nil && errB == nil && bytes.Equal(x, y)
}
