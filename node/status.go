package node

import (
	"os"
	"slices"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/api"
)

// Status returns the gateway's current status.
func (n *Node) Status() api.Status {
	r := n.Roster()
	st := api.Status{
		Org:            n.cfg.Org,
		PeerID:         n.self.String(),
		Addrs:          n.addrStrings(),
		PID:            os.Getpid(),
		StartedAt:      n.started,
		Consortium:     r.Consortium,
		RosterVersion:  r.Version,
		Refused:        n.gater.Refused(),
		RosterRejected: n.rosterRejected.Load(),
		API:            n.apiStatus,
	}
	if n.policies != nil {
		st.Policy = n.policyStatus()
	}
	if n.witness != nil {
		st.Journal = n.witness.Status()
	}
	if n.catalog != nil {
		st.Catalog = api.CatalogStatus{Statements: n.catalog.Len(), Digest: n.catalog.Digest()}
	}
	if n.registry != nil {
		for _, a := range n.registry.SetAside() {
			st.SchemasSetAside = append(st.SchemasSetAside, api.SetAsideSchema{Schema: a.Schema.Label(), CID: a.Schema.CID.String(), Reason: a.Reason})
		}
	}
	for _, m := range r.Members {
		ms := api.MemberStatus{Org: m.Org, Name: m.Name, Country: m.Country, Self: m.Org == n.cfg.Org}
		for _, nd := range m.Nodes {
			ns := api.NodeStatus{PeerID: nd.PeerID}
			if p, err := peer.Decode(nd.PeerID); err == nil && p != n.self {
				ns.Connected = n.host.Network().Connectedness(p) == network.Connected
				for _, c := range n.host.Network().ConnsToPeer(p) {
					ns.Remote = append(ns.Remote, c.RemoteMultiaddr().String())
				}
				slices.Sort(ns.Remote) // two connections may share an address
				ns.Remote = slices.Compact(ns.Remote)
			}
			ms.Nodes = append(ms.Nodes, ns)
		}
		st.Members = append(st.Members, ms)
	}
	return st
}
