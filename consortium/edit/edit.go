// Package edit is the changes of a consortium roster, as values: each
// Edit checks that it makes sense against a roster and makes it, and
// Revise applies one as the next version and checks the result.
// `caravan consortium add-member` and the other edit commands apply one
// to a roster file (schemas/roster.md, Edits).
package edit

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/libp2p/go-libp2p/core/peer"
)

// An Edit is one change of the roster, as the consortium's administrators
// make it: `caravan consortium add-member` and the others apply one to a
// roster file. Apply checks that the change makes sense against r (the
// member it names exists, or does not yet), and makes it; Revise then
// checks the whole roster.
type Edit interface {
	Apply(r *consortium.Roster) error
	// String says what the edit does, in one line.
	String() string
}

// ErrNoChange is returned by Revise for an edit that leaves the roster as
// it was.
var ErrNoChange = errors.New("the edit changes nothing")

// Revise applies e to r as the next version: on a signed roster the
// version goes up by one and the signatures are dropped (StartRevision),
// so that admins sign again. r is left as it was if e fails, or if the
// result does not validate; the error names the field.
func Revise(r *consortium.Roster, e Edit) error {
	next := clone(r)
	next.StartRevision()
	if err := e.Apply(next); err != nil {
		return err
	}
	if err := next.Validate(); err != nil {
		return err
	}
	if a, b := clone(r), clone(next); sameBody(a, b) {
		return fmt.Errorf("%w: %s", ErrNoChange, e)
	}
	*r = *next
	return nil
}

func sameBody(a, b *consortium.Roster) bool {
	a.Version, b.Version, a.Signatures, b.Signatures = 0, 0, nil, nil
	x, errA := a.SigningBytes()
	y, errB := b.SigningBytes()
	return errA == nil && errB == nil && string(x) == string(y)
}

// clone is a deep copy of r.
func clone(r *consortium.Roster) *consortium.Roster {
	c := *r
	c.Admins.Keys = slices.Clone(r.Admins.Keys)
	c.Signatures = slices.Clone(r.Signatures)
	c.Members = make([]consortium.Member, len(r.Members))
	for i, m := range r.Members {
		m.Roles, m.Groups = slices.Clone(m.Roles), slices.Clone(m.Groups)
		m.Nodes = slices.Clone(m.Nodes)
		for j := range m.Nodes {
			m.Nodes[j].Addrs = slices.Clone(m.Nodes[j].Addrs)
		}
		c.Members[i] = m
	}
	return &c
}

// member returns the member org, or an error naming the field.
func member(r *consortium.Roster, org string) (*consortium.Member, error) {
	if m := r.Member(org); m != nil {
		return m, nil
	}
	return nil, invalid("org", "%q is not a member of the roster (see 'caravan consortium show')", org)
}

// AddMember adds a new member, with its nodes.
type AddMember struct{ Member consortium.Member }

func (e AddMember) Apply(r *consortium.Roster) error {
	if r.Member(e.Member.Org) != nil {
		return invalid("org", "%q is a member already: change it with update-member, add a node with add-node", e.Member.Org)
	}
	r.Members = append(r.Members, e.Member)
	return nil
}

func (e AddMember) String() string { return "add member " + e.Member.Org }

// UpdateMember changes the fields of a member that are set, and only
// them: a nil field stays as it is.
type UpdateMember struct {
	Org                   string
	Name, Country, Sector *string
	Roles, Groups         *[]string
	// OrgKey gives the member an org key, or a new one (a rotation): the
	// old key signs nothing of the org's once the version is in force.
	OrgKey *string
}

func (e UpdateMember) Apply(r *consortium.Roster) error {
	m, err := member(r, e.Org)
	if err != nil {
		return err
	}
	if e.Name == nil && e.Country == nil && e.Sector == nil && e.Roles == nil && e.Groups == nil && e.OrgKey == nil {
		return invalid("org", "nothing to update for %q: give --name, --country, --sector, --role, --group or --org-key", e.Org)
	}
	for _, f := range []struct {
		from *string
		to   *string
	}{{e.Name, &m.Name}, {e.Country, &m.Country}, {e.Sector, &m.Sector}, {e.OrgKey, &m.OrgKey}} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
	if e.Roles != nil {
		m.Roles = slices.Clone(*e.Roles)
	}
	if e.Groups != nil {
		m.Groups = slices.Clone(*e.Groups)
	}
	return nil
}

func (e UpdateMember) String() string { return "update member " + e.Org }

// RemoveMember removes a member and its nodes: the others close its
// connections and refuse its statements once the version is in force.
type RemoveMember struct{ Org string }

func (e RemoveMember) Apply(r *consortium.Roster) error {
	if _, err := member(r, e.Org); err != nil {
		return err
	}
	r.Members = slices.DeleteFunc(r.Members, func(m consortium.Member) bool { return m.Org == e.Org })
	return nil
}

func (e RemoveMember) String() string { return "remove member " + e.Org }

// AddNode lists a node under a member, or replaces the addresses of one
// it lists.
type AddNode struct {
	Org  string
	Node consortium.Node
}

func (e AddNode) Apply(r *consortium.Roster) error {
	m, err := member(r, e.Org)
	if err != nil {
		return err
	}
	id, err := peer.Decode(e.Node.PeerID)
	if err != nil {
		return invalid("peer_id", "%q is not a libp2p peer ID: %v", e.Node.PeerID, err)
	}
	if other, ok := r.OrgOf(e.Node.PeerID); ok && other != e.Org {
		return invalid("peer_id", "peer %s is listed under org %q; remove it there first", e.Node.PeerID, other)
	}
	for i, n := range m.Nodes {
		if have, err := peer.Decode(n.PeerID); err == nil && have == id {
			m.Nodes[i] = e.Node
			return nil
		}
	}
	m.Nodes = append(m.Nodes, e.Node)
	return nil
}

func (e AddNode) String() string { return fmt.Sprintf("add node %s to %s", e.Node.PeerID, e.Org) }

// RemoveNode removes a node from a member.
type RemoveNode struct{ Org, PeerID string }

func (e RemoveNode) Apply(r *consortium.Roster) error {
	m, err := member(r, e.Org)
	if err != nil {
		return err
	}
	id, err := peer.Decode(e.PeerID)
	if err != nil {
		return invalid("peer_id", "%q is not a libp2p peer ID: %v", e.PeerID, err)
	}
	i := slices.IndexFunc(m.Nodes, func(n consortium.Node) bool { have, err := peer.Decode(n.PeerID); return err == nil && have == id })
	if i < 0 {
		return invalid("peer_id", "org %q lists no node %s", e.Org, e.PeerID)
	}
	m.Nodes = slices.Delete(m.Nodes, i, i+1)
	return nil
}

func (e RemoveNode) String() string { return fmt.Sprintf("remove node %s from %s", e.PeerID, e.Org) }

// RotateAdmin replaces one admin's key. The version that does it must be
// signed by the admins in force before it (CheckUpdate) and by its own
// (Verify): the new key holder signs it too.
type RotateAdmin struct{ Name, Key string }

func (e RotateAdmin) Apply(r *consortium.Roster) error {
	i := slices.IndexFunc(r.Admins.Keys, func(k consortium.AdminKey) bool { return k.Name == e.Name })
	if i < 0 {
		names := make([]string, len(r.Admins.Keys))
		for j, k := range r.Admins.Keys {
			names[j] = k.Name
		}
		return invalid("name", "%q is not an admin of the roster (admins: %s)", e.Name, strings.Join(names, ", "))
	}
	if _, err := consortium.ParsePublicKey(e.Key); err != nil {
		return invalid("key", "%v", err)
	}
	r.Admins.Keys[i].Key = e.Key
	return nil
}

func (e RotateAdmin) String() string { return "rotate the key of admin " + e.Name }

// SetThreshold sets how many admins must sign each version.
type SetThreshold struct{ Threshold int }

func (e SetThreshold) Apply(r *consortium.Roster) error {
	r.Admins.Threshold = e.Threshold
	return nil
}

func (e SetThreshold) String() string {
	return fmt.Sprintf("set the admins' threshold to %d", e.Threshold)
}

func invalid(field, format string, args ...any) *consortium.ValidationError {
	return &consortium.ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// SetExpiry sets when the version expires: RFC 3339 in UTC to the second,
// or "" for never.
type SetExpiry struct{ Expires string }

func (e SetExpiry) Apply(r *consortium.Roster) error {
	r.Expires = e.Expires
	return nil
}

func (e SetExpiry) String() string {
	if e.Expires == "" {
		return "remove the expiry"
	}
	return "set the expiry to " + e.Expires
}
