package gateway

import (
	"errors"
	"os"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/gateway/policies"
	"github.com/caravan-consortium/caravan/gateway/roster"
	"github.com/caravan-consortium/caravan/journal/witness"
	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing/catalog"
)

// adminService is the API's administration: the gateway's status, and
// the roster it follows.
type adminService struct {
	org      string
	self     peer.ID
	started  time.Time
	host     host.Host
	gater    *p2p.Gater
	roster   *roster.Keeper
	exchange *roster.Exchange
	policies *policies.Engine
	witness  *witness.Service
	catalog  *catalog.Catalog
	registry *schemas.Registry
	api      func() api.APIStatus // the TCP listener, once it listens
}

// Status returns the gateway's current status.
func (as *adminService) Status() api.Status {
	r := as.roster.Index().Members() // the nodes in force: an org's delegation's, if it has one
	st := api.Status{
		Org:             as.org,
		PeerID:          as.self.String(),
		Addrs:           addrStrings(as.host),
		PID:             os.Getpid(),
		StartedAt:       as.started,
		Consortium:      r.Consortium,
		RosterVersion:   r.Version,
		RosterExpires:   r.Expires,
		RosterExpired:   r.Expired(time.Now()),
		RosterProposals: as.roster.Proposals(false),
		Refused:         as.gater.Refused(),
		RosterRejected:  as.roster.Rejected(),
		API:             as.api(),
		Policy:          as.policies.Status(),
		Journal:         journalStatusOf(as.witness.Status()),
		Catalog:         api.CatalogStatus{Statements: as.catalog.Len(), Digest: as.catalog.Digest()},
	}
	for _, a := range as.registry.SetAside() {
		st.SchemasSetAside = append(st.SchemasSetAside, api.SetAsideSchema{Schema: a.Schema.Label(), CID: a.Schema.CID.String(), Reason: a.Reason})
	}
	for _, m := range r.Members {
		ms := api.MemberStatus{Org: m.Org, Name: m.Name, Country: m.Country, Self: m.Org == as.org}
		for _, nd := range m.Nodes {
			ns := api.NodeStatus{PeerID: nd.PeerID}
			if p, err := peer.Decode(nd.PeerID); err == nil && p != as.self {
				ns.Connected = as.host.Network().Connectedness(p) == network.Connected
				for _, c := range as.host.Network().ConnsToPeer(p) {
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

// RosterDocument is the signed roster this gateway follows, as the API
// gives it.
func (as *adminService) RosterDocument() *api.Roster {
	r := as.roster.Roster()
	out := &api.Roster{Consortium: r.Consortium, Version: r.Version, WitnessThreshold: r.WitnessThreshold, Expires: r.Expires,
		Admins: api.RosterAdmins{Threshold: r.Admins.Threshold, Keys: []api.RosterAdminKey{}}, Members: []api.RosterMember{}, Signatures: []api.RosterSig{}}
	for _, k := range r.Admins.Keys {
		out.Admins.Keys = append(out.Admins.Keys, api.RosterAdminKey{Name: k.Name, Key: k.Key})
	}
	for _, m := range r.Members {
		am := api.RosterMember{Org: m.Org, Name: m.Name, Country: m.Country, Sector: m.Sector,
			Roles: append([]string{}, m.Roles...), Groups: m.Groups, OrgKey: m.OrgKey, Nodes: []api.RosterNode{}}
		for _, nd := range m.Nodes {
			am.Nodes = append(am.Nodes, api.RosterNode{PeerID: nd.PeerID, Addrs: append([]string{}, nd.Addrs...)})
		}
		out.Members = append(out.Members, am)
	}
	for _, sg := range r.Signatures {
		out.Signatures = append(out.Signatures, api.RosterSig{Admin: sg.Admin, Sig: sg.Sig})
	}
	return out
}

// RosterRefusals lists the roster updates refused since the gateway
// started (the newest 20), oldest first.
func (as *adminService) RosterRefusals() []api.RosterRefusal { return as.roster.Refusals() }

// ReloadRoster reads the roster file again (rosterState.Reload); a refusal
// is a conflict with the roster in force, which stays.
func (as *adminService) ReloadRoster() error {
	if err := as.roster.Reload(); err != nil {
		return api.Errorf(api.ErrConflict, "%w", err)
	}
	return nil
}

func addrStrings(h host.Host) []string {
	var out []string
	for _, a := range h.Addrs() {
		out = append(out, a.String())
	}
	return out
}

// SubmitRoster takes a proposed roster version with some of its signatures
// (roster.Keeper.Submit).
func (as *adminService) SubmitRoster(data []byte) (*api.RosterProposal, error) {
	p, err := consortium.Parse("the proposal", data)
	if err != nil {
		return nil, api.Errorf(api.ErrInvalid, "%w", err)
	}
	out, err := as.roster.Submit(p)
	if errors.Is(err, roster.ErrProposal) {
		return nil, api.Errorf(api.ErrRefused, "%w", err)
	}
	if err == nil && out.State != "in force" {
		as.exchange.Announce(p)
	}
	return out, err
}

// SubmitDelegation takes an org's node delegation (roster.Keeper.Delegate)
// and gossips it.
func (as *adminService) SubmitDelegation(data []byte) (*api.NodeDelegation, error) {
	d, err := consortium.ParseDelegation("the delegation", data)
	if err != nil {
		return nil, api.Errorf(api.ErrInvalid, "%w", err)
	}
	changed, err := as.roster.Delegate(d)
	if errors.Is(err, consortium.ErrDelegation) {
		return nil, api.Errorf(api.ErrRefused, "%w", err)
	}
	if err != nil {
		return nil, err
	}
	as.exchange.AnnounceDelegation(d)
	out := &api.NodeDelegation{Org: d.Org, Sequence: d.Sequence, Changed: changed, Nodes: []api.RosterNode{}}
	for _, n := range d.Nodes {
		out.Nodes = append(out.Nodes, api.RosterNode{PeerID: n.PeerID, Addrs: append([]string{}, n.Addrs...)})
	}
	return out, nil
}

// RosterProposals lists the versions submitted, not yet in force.
func (as *adminService) RosterProposals() []api.RosterProposal { return as.roster.Proposals(true) }
