package p2p

import (
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"golang.org/x/sys/unix"

	"github.com/caravan-consortium/caravan/internal/ratelimit"
)

// Admission of inbound connections before their handshake, when only the
// remote address is known. A connection from one of the roster's node IPs
// is always let through to the handshake (the gater then checks its
// PeerID). Any other IP may start AcceptPerSecond handshakes a second
// (bursts of AcceptBurst): beyond that, its connections are refused.
//
// A refused TCP connection is not closed at once but held, unread, for
// TarpitHold (up to TarpitMax at a time): closing it at once let an
// outsider that reopens every closed connection spin both sides in a loop
// of connect, accept and close (about 235,000 connections a run of the
// hostile scenario, a quarter of a core per gateway), while a held one
// costs a file descriptor and nothing else, and keeps the outsider waiting.
const (
	AcceptPerSecond = 2
	AcceptBurst     = 16
	TarpitHold      = 30 * time.Second
	TarpitMax       = 256
)

// acceptGuard decides which inbound connections may start a handshake.
type acceptGuard struct {
	mu        sync.Mutex
	memberIPs map[string]bool
	rates     ratelimit.Keyed[string] // by IP, outside the roster

	held    atomic.Int64  // connections in the tarpit now
	refused atomic.Uint64 // connections refused before their handshake
}

// setMembers makes the IPs of the given nodes' addresses the members'
// (DNS names are resolved now).
func (ag *acceptGuard) setMembers(nodes map[peer.ID][]ma.Multiaddr) {
	ips := map[string]bool{}
	for _, addrs := range nodes {
		for _, a := range addrs {
			for _, ip := range ipsOf(a) {
				ips[ip.String()] = true
			}
		}
	}
	ag.mu.Lock()
	ag.memberIPs = ips
	ag.mu.Unlock()
}

// admit reports whether c may start its handshake. A refused one is held
// in the tarpit if there is room (the caller closes its own handle).
func (ag *acceptGuard) admit(c network.ConnMultiaddrs) bool {
	ip, err := manet.ToIP(c.RemoteMultiaddr())
	if err != nil {
		return true // not an IP connection: nothing to key a rate on
	}
	key := ip.String()
	ag.mu.Lock()
	member := ag.memberIPs[key]
	ag.mu.Unlock()
	if member || ag.rates.Allow(key) {
		return true
	}
	ag.refused.Add(1)
	ag.tarpit(c)
	return false
}

// tarpit holds a duplicate of c's socket for TarpitHold, if c is a socket
// and the tarpit has room.
func (ag *acceptGuard) tarpit(c network.ConnMultiaddrs) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	if ag.held.Add(1) > TarpitMax {
		ag.held.Add(-1)
		return
	}
	raw, err := sc.SyscallConn()
	dup := -1
	if err == nil {
		err = raw.Control(func(fd uintptr) { dup, err = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) })
	}
	if err != nil || dup < 0 {
		ag.held.Add(-1)
		return
	}
	time.AfterFunc(TarpitHold, func() {
		_ = unix.Close(dup)
		ag.held.Add(-1)
	})
}
