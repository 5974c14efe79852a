package gateway

import (
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// applyRoster puts r in force: the gater admits its nodes, the keeper dials
// them, connections to peers it no longer lists are closed, and the org
// signs with the key r names for it.
func (n *Gateway) applyRoster(r *consortium.Roster) {
	n.signers.OnRoster(r)
	x := consortium.NewDelegatedIndex(r, n.roster.Delegations())
	dial := map[peer.ID][]ma.Multiaddr{}
	for _, p := range x.All() {
		if addrs := x.Addrs(p); p != n.self && len(addrs) > 0 {
			dial[p] = addrs // a node listed without addresses dials us
		}
	}
	n.roster.SetIndex(x)
	n.gater.SetAllowed(x.All())
	n.gater.SetMemberAddrs(dial)
	n.allow.Set(dial)
	n.keeper.SetPeers(dial)
	for _, p := range n.host.Network().Peers() {
		if !n.gater.Allowed(p) {
			_ = n.host.Network().ClosePeer(p)
		}
	}
}
