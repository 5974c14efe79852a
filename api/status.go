package api

import (
	"time"

	"github.com/caravan-consortium/caravan/journal/event"
)

// The wire types of the gateway's status and its roster.

// Status is what GET /v1/status returns.
type Status struct {
	Org           string    `json:"org"`
	PeerID        string    `json:"peer_id"`
	Addrs         []string  `json:"addrs"`
	PID           int       `json:"pid"`
	StartedAt     time.Time `json:"started_at"`
	Consortium    string    `json:"consortium"`
	RosterVersion uint64    `json:"roster_version"`
	// RosterExpires is when the roster in force expires (RFC 3339), if it
	// does; RosterExpired says it has: the gateway keeps serving under it
	// until the admins sign a new version.
	RosterExpires string `json:"roster_expires,omitempty"`
	RosterExpired bool   `json:"roster_expired,omitempty"`
	// RosterProposals are the next versions submitted to this gateway and
	// not yet in force, with who has signed them.
	RosterProposals []RosterProposal `json:"roster_proposals,omitempty"`
	Members         []MemberStatus   `json:"members"`
	// Refused counts connections and dials refused because the peer is
	// not in the roster.
	Refused uint64 `json:"refused"`
	// RosterRejected counts roster files that were not put in force.
	RosterRejected uint64 `json:"roster_rejected"`
	// Catalog summarizes the catalog: equal digests, equal catalogs.
	Catalog CatalogStatus `json:"catalog"`
	// Policy is the policy bundle in force and its reloads.
	Policy PolicyStatus `json:"policy"`
	// Journal is this org's log, its witnessing, and the mirrors.
	Journal JournalStatus `json:"journal"`
	// API is the TCP listener, if the config opens one.
	API APIStatus `json:"api"`
	// SchemasSetAside lists the registrations this gateway holds but does
	// not use, because they break the registry's rules (schemas/registry.md).
	SchemasSetAside []SetAsideSchema `json:"schemas_set_aside,omitempty"`
}

// SetAsideSchema is a registration the registry holds but does not use.
type SetAsideSchema struct {
	Schema string `json:"schema"` // OWNER/NAME@VERSION
	CID    string `json:"cid"`    // of the document
	Reason string `json:"reason"`
}

// Roster is the signed consortium roster (schemas/roster.md): its body,
// which the admins' signatures cover in RFC 8785 form, and the signatures.
type Roster struct {
	Consortium       string         `json:"consortium"`
	Version          uint64         `json:"version"`
	Admins           RosterAdmins   `json:"admins"`
	Members          []RosterMember `json:"members"`
	WitnessThreshold int            `json:"witness_threshold,omitempty"`
	Expires          string         `json:"expires,omitempty"`
	Signatures       []RosterSig    `json:"signatures"`
}

// RosterAdmins are the keys that may sign the roster, and how many must.
type RosterAdmins struct {
	Threshold int              `json:"threshold"`
	Keys      []RosterAdminKey `json:"keys"`
}

// RosterAdminKey is a named admin key, "ed25519:BASE64".
type RosterAdminKey struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// RosterMember is a member organization and its nodes.
type RosterMember struct {
	Org     string       `json:"org"`
	Name    string       `json:"name"`
	Country string       `json:"country"`
	Sector  string       `json:"sector"`
	Roles   []string     `json:"roles"`
	Groups  []string     `json:"groups,omitempty"`
	OrgKey  string       `json:"org_key,omitempty"`
	Nodes   []RosterNode `json:"nodes"`
}

// NodeDelegation is an org's own node list in force (schemas/roster.md,
// "Delegations"), as a gateway took it.
type NodeDelegation struct {
	Org      string       `json:"org"`
	Sequence uint64       `json:"sequence"`
	Nodes    []RosterNode `json:"nodes"`
	// Changed is false when the gateway had it in force already.
	Changed bool `json:"changed"`
}

// RosterNode is one gateway of a member.
type RosterNode struct {
	PeerID string   `json:"peer_id"`
	Addrs  []string `json:"addrs"`
}

// RosterSig is one admin's signature over the roster body.
type RosterSig struct {
	Admin string `json:"admin"`
	Sig   string `json:"sig"`
}

// RosterRefusal is a roster update the gateway refused.
type RosterRefusal struct {
	At      time.Time `json:"at"`
	File    string    `json:"file"`
	InForce uint64    `json:"in_force"` // the version that stayed in force
	Reason  string    `json:"reason"`
}

// WitnessSample is how long one checkpoint of this org's journal took from
// its first announcement to carrying the cosignatures the roster requires.
type WitnessSample struct {
	At      time.Time `json:"at"` // when it was witnessed
	Seconds float64   `json:"seconds"`
}

// JournalPage is a page of a journal's entries.
type JournalPage struct {
	Origin  string         `json:"origin"`
	Size    uint64         `json:"size"` // entries in the log's checkpoint on disk
	Entries []JournalEntry `json:"entries"`
}

// JournalEntry is one entry: its index, event hash, and decoded event (or
// why it does not decode).
type JournalEntry struct {
	Index uint64       `json:"index"`
	Hash  string       `json:"hash"`
	Event *event.Event `json:"event,omitempty"`
	Error string       `json:"error,omitempty"`
}

// APIStatus is the API's TCP listener: its address and the SHA-256
// fingerprint of its certificate (what a client pins to a self-signed one).
type APIStatus struct {
	Listen      string `json:"listen,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// CatalogStatus summarizes a gateway's catalog.
type CatalogStatus struct {
	Statements int    `json:"statements"`
	Digest     string `json:"digest"`
}

// MemberStatus is one roster member as this gateway sees it.
type MemberStatus struct {
	Org     string       `json:"org"`
	Name    string       `json:"name"`
	Country string       `json:"country"`
	Self    bool         `json:"self,omitempty"`
	Nodes   []NodeStatus `json:"nodes"`
}

// NodeStatus is one node of a member.
type NodeStatus struct {
	PeerID    string   `json:"peer_id"`
	Connected bool     `json:"connected"`
	Remote    []string `json:"remote,omitempty"` // remote addresses of open connections, each once
}

// Connected reports whether any node of the member is connected.
func (m MemberStatus) Connected() bool {
	for _, n := range m.Nodes {
		if n.Connected {
			return true
		}
	}
	return false
}

// PolicyStatus is the policy bundle in force and its reloads.
type PolicyStatus struct {
	Bundle    string    `json:"bundle"`
	Dir       string    `json:"dir"`
	Count     int       `json:"count"` // policies in the bundle
	LoadedAt  time.Time `json:"loaded_at"`
	Accepted  uint64    `json:"reloads_accepted"`
	Refused   uint64    `json:"reloads_refused"`
	LastError string    `json:"last_error,omitempty"`
	// Waiting, if set, is why the policy directory's bundle is not in force
	// yet: it reads attributes that no schema in the registry declares yet
	// (a new gateway catching up). Meanwhile every fetch is denied.
	Waiting string `json:"waiting,omitempty"`
}

// RosterProposal is a proposed roster version a gateway holds, and who has
// signed it: it is put in force once Threshold of its own admins and
// InForceThreshold of the admins in force have.
type RosterProposal struct {
	Version uint64 `json:"version"`
	Digest  string `json:"digest"` // hex SHA-256 of its signed body
	// State is "pending", "adopted" (put in force by this submission) or
	// "in force" (it was already).
	State            string   `json:"state"`
	Signed           []string `json:"signed"`
	Unsigned         []string `json:"unsigned"` // its admins who have not signed
	Threshold        int      `json:"threshold"`
	InForceThreshold int      `json:"in_force_threshold"`
	Expires          string   `json:"expires,omitempty"`
	// Document is the proposed version, with the signatures held, as a
	// roster file (YAML): what an admin signs where they are. Listed by
	// GET /v1/roster/proposals; absent from the status.
	Document string `json:"document,omitempty"`
}
