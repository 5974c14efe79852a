package p2p

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Members' allowance: connections to and from the roster's nodes, at the
// addresses the roster gives (IP and PeerID), may use the resource
// manager's allow-listed scopes when the ordinary ones are full, so that
// outsiders filling the slots for unauthenticated connections cannot keep
// members apart. A connection from an allow-listed IP that turns out to
// be another peer is refused when its peer is known.
type MemberAllowlist struct {
	list *rcmgr.Allowlist
	mu   sync.Mutex
	set  map[string]ma.Multiaddr // what list holds, by text
}

// NewMemberAllowlist manages h's resource-manager allowlist (nil if h's
// resource manager has none).
func NewMemberAllowlist(h host.Host) *MemberAllowlist {
	al := rcmgr.GetAllowlist(h.Network().ResourceManager())
	if al == nil {
		return nil
	}
	return &MemberAllowlist{list: al, set: map[string]ma.Multiaddr{}}
}

// Set makes the allowlist exactly the given nodes' addresses (an IP, or a
// DNS name resolved now, with the node's PeerID). Addresses that do not
// resolve are left out.
func (a *MemberAllowlist) Set(nodes map[peer.ID][]ma.Multiaddr) {
	if a == nil {
		return
	}
	want := map[string]ma.Multiaddr{}
	for id, addrs := range nodes {
		pid, err := ma.NewComponent("p2p", id.String())
		if err != nil {
			continue
		}
		for _, addr := range addrs {
			for _, ip := range ipsOf(addr) {
				if e, err := manet.FromIP(ip); err == nil {
					e = e.Encapsulate(pid.Multiaddr())
					want[e.String()] = e
				}
			}
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, e := range a.set {
		if _, keep := want[k]; !keep {
			_ = a.list.Remove(e)
			delete(a.set, k)
		}
	}
	for k, e := range want {
		if _, have := a.set[k]; !have && a.list.Add(e) == nil {
			a.set[k] = e
		}
	}
}

// ipsOf returns the IPs an address names: its IP, or its DNS name's
// addresses (looked up with a short deadline).
func ipsOf(addr ma.Multiaddr) []net.IP {
	if ip, err := manet.ToIP(addr); err == nil {
		return []net.IP{ip}
	}
	var name string
	for _, p := range []int{ma.P_DNS, ma.P_DNS4, ma.P_DNS6} {
		if v, err := addr.ValueForProtocol(p); err == nil {
			name = v
		}
	}
	if name == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", name)
	if err != nil {
		return nil
	}
	return ips
}
