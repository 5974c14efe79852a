package p2p

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/caravan-consortium/caravan/internal/ratelimit"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/zap"
)

// Gater is a libp2p connection gater that admits only an allow-list of peers.
// Dials to other peers are refused before they start; inbound connections
// are refused right after the security handshake, once the remote PeerID is
// authenticated. The allow-list can be replaced at any time.
type Gater struct {
	log     *zap.Logger
	mu      sync.RWMutex
	allowed map[peer.ID]bool
	refused atomic.Uint64
	accept  acceptGuard // inbound connections before their handshake

	logMu  sync.Mutex
	logged map[peer.ID]time.Time // last refusal logged at Info, per peer
}

// Refusals of one peer are logged at Info at most once per refusalLogEvery
// (the rest at Debug), so that a peer redialing in a loop cannot flood the
// log. The counter counts every refusal.
const (
	refusalLogEvery = time.Minute
	maxLoggedPeers  = 4096
)

// NewGater returns a gater admitting the given peers. log may be nil.
func NewGater(log *zap.Logger, allowed []peer.ID) *Gater {
	if log == nil {
		log = zap.NewNop()
	}
	g := &Gater{log: log, accept: acceptGuard{rates: ratelimit.Keyed[string]{PerSecond: AcceptPerSecond, Burst: AcceptBurst}}}
	g.SetAllowed(allowed)
	return g
}

// SetAllowed replaces the allow-list.
func (g *Gater) SetAllowed(allowed []peer.ID) {
	m := make(map[peer.ID]bool, len(allowed))
	for _, p := range allowed {
		m[p] = true
	}
	g.mu.Lock()
	g.allowed = m
	g.mu.Unlock()
}

// Allowed reports whether p is on the allow-list.
func (g *Gater) Allowed(p peer.ID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.allowed[p]
}

// Refused returns how many connections and dials the gater has refused.
func (g *Gater) Refused() uint64 { return g.refused.Load() }

func (g *Gater) refuse(dir network.Direction, p peer.ID, remote ma.Multiaddr) bool {
	g.refused.Add(1)
	fields := []zap.Field{zap.Stringer("peer", p), zap.Stringer("direction", dir)}
	if remote != nil {
		fields = append(fields, zap.Stringer("remote", remote))
	}
	const msg = "refused connection with a peer that is not in the roster"
	if g.shouldLog(p) {
		g.log.Info(msg, fields...)
	} else {
		g.log.Debug(msg, fields...)
	}
	return false
}

func (g *Gater) shouldLog(p peer.ID) bool {
	now := time.Now()
	g.logMu.Lock()
	defer g.logMu.Unlock()
	if last, ok := g.logged[p]; ok && now.Sub(last) < refusalLogEvery {
		return false
	}
	if g.logged == nil || len(g.logged) >= maxLoggedPeers {
		g.logged = map[peer.ID]time.Time{}
	}
	g.logged[p] = now
	return true
}

// InterceptPeerDial refuses to dial peers that are not members.
func (g *Gater) InterceptPeerDial(p peer.ID) bool {
	if g.Allowed(p) {
		return true
	}
	return g.refuse(network.DirOutbound, p, nil)
}

// InterceptAddrDial allows every address of an allowed peer.
func (g *Gater) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

// InterceptAccept lets an inbound connection start its handshake (its peer
// is not known yet) if it comes from a member's IP, or its IP has not
// started too many lately (see AcceptPerSecond); a refused one is held in
// a tarpit (see TarpitHold).
func (g *Gater) InterceptAccept(c network.ConnMultiaddrs) bool { return g.accept.admit(c) }

// SetMemberAddrs gives the roster's node addresses, whose IPs may always
// start a handshake.
func (g *Gater) SetMemberAddrs(nodes map[peer.ID][]ma.Multiaddr) { g.accept.setMembers(nodes) }

// RefusedBeforeHandshake returns how many inbound connections were refused
// before their handshake (too many from one IP), and how many of those the
// tarpit holds now.
func (g *Gater) RefusedBeforeHandshake() (refused uint64, held int64) {
	return g.accept.refused.Load(), g.accept.held.Load()
}

// InterceptSecured admits an authenticated connection, in either direction,
// only if its peer is a member.
func (g *Gater) InterceptSecured(dir network.Direction, p peer.ID, addrs network.ConnMultiaddrs) bool {
	if g.Allowed(p) {
		return true
	}
	return g.refuse(dir, p, addrs.RemoteMultiaddr())
}

// InterceptUpgraded allows what InterceptSecured admitted.
func (g *Gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
