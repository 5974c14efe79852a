package node

import (
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Status is what GET /v1/status returns.
type Status struct {
	Org           string         `json:"org"`
	PeerID        string         `json:"peer_id"`
	Addrs         []string       `json:"addrs"`
	PID           int            `json:"pid"`
	StartedAt     time.Time      `json:"started_at"`
	Consortium    string         `json:"consortium"`
	RosterVersion uint64         `json:"roster_version"`
	Members       []MemberStatus `json:"members"`
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
	Remote    []string `json:"remote,omitempty"` // remote addresses of open connections
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

// Status returns the gateway's current status.
func (n *Node) Status() Status {
	r := n.roster.Load()
	st := Status{
		Org:            n.cfg.Org,
		PeerID:         n.self.String(),
		Addrs:          n.addrStrings(),
		PID:            os.Getpid(),
		StartedAt:      n.started,
		Consortium:     r.Consortium,
		RosterVersion:  r.Version,
		Refused:        n.gater.Refused(),
		RosterRejected: n.rosterRejected.Load(),
	}
	if n.policies != nil {
		st.Policy = n.policyStatus()
	}
	if n.journal != nil {
		st.Journal = n.journal.status()
	}
	if n.sharing != nil {
		st.Catalog = CatalogStatus{Statements: n.sharing.Catalog.Len(), Digest: n.sharing.Catalog.Digest()}
	}
	for _, m := range r.Members {
		ms := MemberStatus{Org: m.Org, Name: m.Name, Country: m.Country, Self: m.Org == n.cfg.Org}
		for _, nd := range m.Nodes {
			ns := NodeStatus{PeerID: nd.PeerID}
			if p, err := peer.Decode(nd.PeerID); err == nil && p != n.self {
				ns.Connected = n.host.Network().Connectedness(p) == network.Connected
				for _, c := range n.host.Network().ConnsToPeer(p) {
					ns.Remote = append(ns.Remote, c.RemoteMultiaddr().String())
				}
			}
			ms.Nodes = append(ms.Nodes, ns)
		}
		st.Members = append(st.Members, ms)
	}
	return st
}
