package gateway_test

import (
	"net"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testnet"
)

// tcpAddr is n's TCP listen address on loopback.
func tcpAddr(t *testing.T, addrs []ma.Multiaddr) string {
	t.Helper()
	for _, a := range addrs {
		if _, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			na, err := manet.ToNetAddr(a)
			if err == nil {
				return na.String()
			}
		}
	}
	t.Fatal("no TCP address")
	return ""
}

// The attack: an outsider opens TCP connections to a gateway and never
// starts a handshake. About 33 of them filled its slots for connections
// not yet authenticated, and members could no longer connect, in either
// direction. Members' addresses now have slots of their own (go-libp2p's
// allow-listed multiaddrs), and unauthenticated connections a short
// handshake deadline. The outsider comes from another loopback address
// (127.0.0.2), as it would from another host.
func TestIdleConnectionsCannotLockMembersOut(t *testing.T) {
	c := testnet.NewCluster(t, 2)
	for _, o := range c.Net.Orgs { // TCP alone, as with a private network key
		if err := o.ListenOn("tcp"); err != nil {
			t.Fatal(err)
		}
	}
	a := c.Start(0)
	target := tcpAddr(t, a.Host().Addrs())
	// The outsider keeps 200 idle connections open: whenever the gateway
	// closes one, it opens another.
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: time.Second}
	for range 200 {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				cn, err := d.Dial("tcp", target)
				if err != nil {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				go func() { <-stop; cn.Close() }()
				_, _ = cn.Read(make([]byte, 1)) // until the gateway closes it
				cn.Close()
			}
		}()
	}
	time.Sleep(time.Second)
	start := time.Now()
	b := c.Start(1)
	poll.Until(t, func() bool { return testnet.ConnectedTo(b, "customs-cn") && testnet.ConnectedTo(a, "customs-kz") },
		"customs-kz and customs-cn connected while an outsider holds idle connections")
	// Members have slots of their own: they do not wait for the outsider's
	// connections to time out (p2p.HandshakeTimeout).
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the members took %v to connect", d)
	}
	t.Logf("connected %v after customs-kz's start", time.Since(start).Round(time.Millisecond))
}
