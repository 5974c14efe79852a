package consortium

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Roster is a consortium's membership document. Its zero value is an empty,
// unsigned roster.
type Roster struct {
	Consortium string   `yaml:"consortium" json:"consortium"`
	Version    uint64   `yaml:"version" json:"version"`
	Admins     Admins   `yaml:"admins" json:"admins"`
	Members    []Member `yaml:"members" json:"members"`
	// WitnessThreshold is how many witnesses (members with the role
	// "witness"), other than a journal's own org, must cosign its checkpoint
	// for it to count as witnessed. 0 means a majority of them. Optional:
	// omitted from the signed body when 0.
	WitnessThreshold int `yaml:"witness_threshold,omitempty" json:"witness_threshold,omitempty"`
	// Expires is when this version stops being current, RFC 3339 in UTC to
	// the second ("2027-12-31T00:00:00Z"). A gateway whose newest roster
	// has expired says so (status, metric, log) and keeps serving under it.
	// Optional: omitted from the signed body when empty (rosters signed
	// before the field existed do not expire).
	Expires    string      `yaml:"expires,omitempty" json:"expires,omitempty"`
	Signatures []Signature `yaml:"signatures,omitempty" json:"-"`
}

// ExpiresAt is when the roster expires; false if it does not.
func (r *Roster) ExpiresAt() (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, r.Expires)
	return t, err == nil
}

// Expired reports whether the roster has expired at now.
func (r *Roster) Expired(now time.Time) bool {
	t, ok := r.ExpiresAt()
	return ok && !now.Before(t)
}

// Admins are the keys that may sign the roster, and how many must.
type Admins struct {
	Threshold int        `yaml:"threshold" json:"threshold"`
	Keys      []AdminKey `yaml:"keys" json:"keys"`
}

// AdminKey is a named Ed25519 public key, written "ed25519:BASE64".
type AdminKey struct {
	Name string `yaml:"name" json:"name"`
	Key  string `yaml:"key" json:"key"`
}

// Member is an organization of the consortium.
type Member struct {
	Org     string   `yaml:"org" json:"org"`         // stable id, e.g. "customs-a"
	Name    string   `yaml:"name" json:"name"`       // display name
	Country string   `yaml:"country" json:"country"` // ISO 3166-1 alpha-2
	Sector  string   `yaml:"sector" json:"sector"`   // e.g. customs, logistics
	Roles   []string `yaml:"roles" json:"roles"`     // e.g. publisher, requester, witness
	// Groups name sets of members that policies refer to, e.g.
	// "customs-authorities". Optional: omitted from the signed body when
	// empty, so rosters signed before groups existed still verify.
	Groups []string `yaml:"groups,omitempty" json:"groups,omitempty"`
	// OrgKey is the organization's own Ed25519 key, "ed25519:BASE64",
	// apart from its nodes' keys: it signs the org's catalog statements
	// and its journal's checkpoints, so the org's identity does not change
	// with a machine. Optional: omitted from the signed body when empty; a
	// member without one signs with its first node's key, as before org
	// keys existed.
	OrgKey string `yaml:"org_key,omitempty" json:"org_key,omitempty"`
	Nodes  []Node `yaml:"nodes" json:"nodes"`
}

// Node is one gateway of a member.
type Node struct {
	PeerID string   `yaml:"peer_id" json:"peer_id"`
	Addrs  []string `yaml:"addrs" json:"addrs"`
}

// Signature is one admin's signature over the roster body.
type Signature struct {
	Admin string `yaml:"admin" json:"admin"`
	Sig   string `yaml:"sig" json:"sig"`
}

// RoleWitness is the role of members that cosign the others' journals.
const RoleWitness = "witness"

// Witnesses lists the orgs with the witness role that list a node.
func (r *Roster) Witnesses() []string {
	var out []string
	for _, m := range r.Members {
		if len(m.Nodes) == 0 {
			continue // onboarding: no key to cosign with yet
		}
		for _, role := range m.Roles {
			if role == RoleWitness {
				out = append(out, m.Org)
				break
			}
		}
	}
	return out
}

// CosignThreshold is the roster's witness_threshold (0: a majority of the
// witnesses other than a journal's own org; journal.Trust.Required).
func (r *Roster) CosignThreshold() int { return r.WitnessThreshold }

// Member returns the member with the given org id, or nil.
func (r *Roster) Member(org string) *Member {
	for i := range r.Members {
		if r.Members[i].Org == org {
			return &r.Members[i]
		}
	}
	return nil
}

// OrgOf returns the org that lists peerID among its nodes, in whichever
// spelling (base58 or CID): PeerIDs are compared decoded.
func (r *Roster) OrgOf(peerID string) (string, bool) {
	id, err := peer.Decode(peerID)
	if err != nil {
		return "", false
	}
	for _, m := range r.Members {
		if slices.Contains(m.PeerIDs(), id) {
			return m.Org, true
		}
	}
	return "", false
}

// UpsertMember adds m, or replaces the member with the same org id.
func (r *Roster) UpsertMember(m Member) {
	if old := r.Member(m.Org); old != nil {
		*old = m
		return
	}
	r.Members = append(r.Members, m)
}

// StartRevision prepares a signed roster for editing: it drops the
// signatures and raises the version by one. On an unsigned roster it does
// nothing, so that several edits make one new version.
func (r *Roster) StartRevision() {
	if len(r.Signatures) > 0 {
		r.Version++
		r.Signatures = nil
	}
}

// EncodePublicKey formats an Ed25519 public key as "ed25519:BASE64".
func EncodePublicKey(pub ed25519.PublicKey) string {
	return "ed25519:" + base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey parses a key written by EncodePublicKey.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b64, ok := strings.CutPrefix(s, "ed25519:")
	if !ok {
		return nil, fmt.Errorf("key %q: want ed25519:BASE64", s)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(b64) // one spelling per key
	if err != nil {
		return nil, fmt.Errorf("key %q: %v", s, err)
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("key %q: %d bytes, want %d", s, len(raw), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}
