package consortium

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

var (
	idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
)

// ValidationError is a roster field that is wrong. Field is a dotted path
// such as "members[1].nodes[0].peer_id".
type ValidationError struct {
	Field string
	Msg   string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Msg }

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks the roster's structure (not its signatures). The error, if
// any, is a *ValidationError naming the first wrong field.
func (r *Roster) Validate() error {
	if !idPattern.MatchString(r.Consortium) {
		return invalid("consortium", "%q is not a valid name (lower-case letters, digits, '.', '_', '-'; at most 63)", r.Consortium)
	}
	if r.Version < 1 {
		return invalid("version", "must be at least 1")
	}
	if err := r.Admins.validate(); err != nil {
		return err
	}
	orgs := map[string]bool{}
	peers := map[peer.ID]string{} // decoded: base58 and CID spellings are one node
	orgKeys := map[string]string{}
	for i, m := range r.Members {
		f := fmt.Sprintf("members[%d]", i)
		if err := m.validate(f); err != nil {
			return err
		}
		if orgs[m.Org] {
			return invalid(f+".org", "org %q is listed twice", m.Org)
		}
		orgs[m.Org] = true
		for j, n := range m.Nodes {
			id, _ := peer.Decode(n.PeerID) // m.validate checked it decodes
			if other, dup := peers[id]; dup {
				return invalid(fmt.Sprintf("%s.nodes[%d].peer_id", f, j), "peer %s is already listed under org %q", n.PeerID, other)
			}
			peers[id] = m.Org
		}
		if m.OrgKey != "" {
			pub, _ := ParsePublicKey(m.OrgKey) // m.validate checked it parses
			if other, dup := orgKeys[string(pub)]; dup {
				return invalid(f+".org_key", "the key is already the org key of %q", other)
			}
			orgKeys[string(pub)] = m.Org
		}
	}
	for i, m := range r.Members { // an org key is never a node's: it does not speak on the network
		if m.OrgKey == "" {
			continue
		}
		pub, _ := ParsePublicKey(m.OrgKey)
		if id, err := peer.IDFromPublicKey(mustLibp2p(pub)); err == nil {
			if other, ok := peers[id]; ok {
				return invalid(fmt.Sprintf("members[%d].org_key", i), "the key is also the key of a node of %q; an org key must be a key of its own", other)
			}
		}
	}
	if r.Expires != "" {
		t, err := time.Parse(time.RFC3339, r.Expires)
		if err != nil || t.Format("2006-01-02T15:04:05Z") != r.Expires {
			return invalid("expires", "%q is not a time in UTC to the second, such as 2027-12-31T00:00:00Z", r.Expires)
		}
	}
	if w := len(r.Witnesses()); r.WitnessThreshold < 0 || r.WitnessThreshold > 0 && r.WitnessThreshold > w-1 {
		return invalid("witness_threshold", "%d is out of range 0..%d (witnesses other than a journal's own org)", r.WitnessThreshold, max(w-1, 0))
	}
	return nil
}

func (a *Admins) validate() error {
	if len(a.Keys) == 0 {
		return invalid("admins.keys", "at least one admin key is required")
	}
	if a.Threshold < 1 || a.Threshold > len(a.Keys) {
		return invalid("admins.threshold", "%d is out of range 1..%d (the number of admin keys)", a.Threshold, len(a.Keys))
	}
	names := map[string]bool{}
	keys := map[string]bool{}
	for i, k := range a.Keys {
		f := fmt.Sprintf("admins.keys[%d]", i)
		if !idPattern.MatchString(k.Name) {
			return invalid(f+".name", "%q is not a valid name", k.Name)
		}
		if names[k.Name] {
			return invalid(f+".name", "admin %q is listed twice", k.Name)
		}
		names[k.Name] = true
		pub, err := ParsePublicKey(k.Key)
		if err != nil {
			return invalid(f+".key", "%v", err)
		}
		if keys[string(pub)] {
			return invalid(f+".key", "the same key is listed twice; a threshold needs distinct keys")
		}
		keys[string(pub)] = true
	}
	return nil
}

func (m *Member) validate(f string) error {
	if !idPattern.MatchString(m.Org) {
		return invalid(f+".org", "%q is not a valid org id (lower-case letters, digits, '.', '_', '-')", m.Org)
	}
	if m.Name == "" {
		return invalid(f+".name", "a display name is required")
	}
	if !IsCountry(m.Country) {
		return invalid(f+".country", "%q is not an ISO 3166-1 alpha-2 country code such as CN or KZ (upper case)", m.Country)
	}
	if m.Sector == "" {
		return invalid(f+".sector", "a sector is required")
	}
	for i, role := range m.Roles {
		if !slices.Contains(Roles, role) {
			return invalid(fmt.Sprintf("%s.roles[%d]", f, i), "%q is not a role: use %s", role, strings.Join(Roles, ", "))
		}
		if slices.Index(m.Roles, role) < i {
			return invalid(fmt.Sprintf("%s.roles[%d]", f, i), "role %q is listed twice", role)
		}
	}
	for i, g := range m.Groups {
		if !idPattern.MatchString(g) {
			return invalid(fmt.Sprintf("%s.groups[%d]", f, i), "%q is not a valid group name (lower-case letters, digits, '.', '_', '-')", g)
		}
	}
	if m.OrgKey != "" {
		if _, err := ParsePublicKey(m.OrgKey); err != nil {
			return invalid(f+".org_key", "%v", err)
		}
	}
	for i, n := range m.Nodes {
		nf := fmt.Sprintf("%s.nodes[%d]", f, i)
		if _, err := peer.Decode(n.PeerID); err != nil {
			return invalid(nf+".peer_id", "%q is not a libp2p peer ID: %v", n.PeerID, err)
		}
		for j, a := range n.Addrs {
			if _, err := ma.NewMultiaddr(a); err != nil {
				return invalid(fmt.Sprintf("%s.addrs[%d]", nf, j), "%q is not a multiaddr: %v", a, err)
			}
		}
	}
	return nil
}
