package p2p_test

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/caravan-consortium/caravan/p2p"
)

// An outsider's idle connections from an IP outside the roster: a burst
// reaches the handshake, the rest are refused before it and held open,
// unread, rather than closed (so that an outsider reopening each closed
// connection cannot spin the gateway in a loop of accepts and closes).
// A member, from the roster's IP, still connects meanwhile.
func TestOutsiderConnectionsBeyondTheRateAreHeld(t *testing.T) {
	ka, a := newKey(t)
	kb, b := newKey(t)
	ha := newHost(t, ka, "/ip4/127.0.0.1/tcp/0", nil, a, b)
	hb := newHost(t, kb, "/ip4/127.0.0.1/tcp/0", nil, a, b)
	ha.gater.SetMemberAddrs(map[peer.ID][]ma.Multiaddr{b: hb.Addrs()})
	addr, err := manet.ToNetAddr(ha.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: time.Second}
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	const dialed = p2p.AcceptBurst + 40
	for range dialed {
		c, err := d.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// Every connection is still open a second later: the first ones wait
	// in their handshake (HandshakeTimeout), the others in the tarpit.
	// (Those in their handshake may have been sent its first bytes.)
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(time.Second / 10))
		var err error
		for err == nil {
			_, err = c.Read(make([]byte, 512))
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("connection %d of %d: %v (want it held open)", i, dialed, err)
		}
	}
	refused, held := ha.gater.RefusedBeforeHandshake()
	if refused < dialed-p2p.AcceptBurst-4 || held != int64(refused) {
		t.Fatalf("refused before the handshake %d, held %d, of %d dialed", refused, held, dialed)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := openStream(ctx, hb, info(ha.Host)); err != nil {
		t.Fatalf("a member could not connect: %v", err)
	}
}
