package p2p_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/internal/poll"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caravan-consortium/caravan/p2p"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var transports = []struct {
	name   string
	listen string
}{
	{"tcp", "/ip4/127.0.0.1/tcp/0"},
	{"quic", "/ip4/127.0.0.1/udp/0/quic-v1"},
}

type testHost struct {
	host.Host
	gater *p2p.Gater
	key   crypto.PrivKey
}

func newKey(t *testing.T) (crypto.PrivKey, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, id
}

// newHost starts a host listening on listen that admits allowed peers.
func newHost(t *testing.T, key crypto.PrivKey, listen string, psk pnet.PSK, allowed ...peer.ID) *testHost {
	t.Helper()
	g := p2p.NewGater(zaptest.NewLogger(t), allowed)
	h, err := p2p.NewHost(p2p.HostConfig{Key: key, Listen: []ma.Multiaddr{ma.StringCast(listen)}, PSK: psk, Gater: g})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return &testHost{Host: h, gater: g, key: key}
}

func info(h host.Host) peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

// openStream connects and opens a ping stream: the strongest sign that the
// two hosts really talk.
func openStream(ctx context.Context, from host.Host, to peer.AddrInfo) error {
	if err := from.Connect(ctx, to); err != nil {
		return err
	}
	s, err := from.NewStream(ctx, to.ID, ping.ID)
	if err != nil {
		return err
	}
	res := <-ping.Ping(ctx, from, to.ID)
	s.Reset()
	return res.Error
}

func TestMemberConnects(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			ka, a := newKey(t)
			kb, b := newKey(t)
			ha := newHost(t, ka, tr.listen, nil, a, b)
			hb := newHost(t, kb, tr.listen, nil, a, b)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := openStream(ctx, ha, info(hb)); err != nil {
				t.Fatalf("member could not open a stream: %v", err)
			}
			if ha.gater.Refused()+hb.gater.Refused() != 0 {
				t.Fatal("a gater refused a member")
			}
			// TCP negotiates TLS 1.3 (offered before Noise); QUIC has it built in.
			for _, c := range ha.Network().ConnsToPeer(b) {
				if st := c.ConnState(); tr.name == "tcp" && st.Security != libp2ptls.ID {
					t.Errorf("a TCP connection secured by %q, want %q", st.Security, libp2ptls.ID)
				}
			}
		})
	}
}

// A non-member completes the security handshake (its PeerID is then
// authenticated) and is refused right there, over TCP and over QUIC.
func TestNonMemberRefusedAtHandshake(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			ka, a := newKey(t)
			_, b := newKey(t)
			ko, _ := newKey(t)
			member := newHost(t, ka, tr.listen, nil, a, b)
			// The outsider's own gater lets it dial: the refusal must
			// come from the member.
			outsider := newHost(t, ko, tr.listen, nil, a)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := openStream(ctx, outsider, info(member)); err == nil {
				t.Fatal("a non-member opened a stream to a member")
			}
			poll.Until(t, func() bool { return member.gater.Refused() > 0 }, "the member's gater to count the refusal")
			if member.Network().Connectedness(outsider.ID()) == network.Connected {
				t.Fatal("the member lists the outsider as connected")
			}
		})
	}
}

func TestMemberDoesNotDialNonMember(t *testing.T) {
	ka, a := newKey(t)
	ko, _ := newKey(t)
	member := newHost(t, ka, "/ip4/127.0.0.1/tcp/0", nil, a)
	outsider := newHost(t, ko, "/ip4/127.0.0.1/tcp/0", nil, a)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := member.Connect(ctx, info(outsider)); err == nil {
		t.Fatal("a member dialed a peer that is not in the roster")
	}
	if member.gater.Refused() == 0 {
		t.Fatal("the refused dial was not counted")
	}
}

func TestGaterChecksSecuredStageBothDirections(t *testing.T) {
	_, a := newKey(t)
	_, o := newKey(t)
	g := p2p.NewGater(nil, []peer.ID{a})
	addrs := connAddrs{ma.StringCast("/ip4/127.0.0.1/tcp/1"), ma.StringCast("/ip4/127.0.0.1/tcp/2")}
	for _, dir := range []network.Direction{network.DirInbound, network.DirOutbound} {
		if !g.InterceptSecured(dir, a, addrs) {
			t.Errorf("%v: member refused", dir)
		}
		if g.InterceptSecured(dir, o, addrs) {
			t.Errorf("%v: non-member admitted", dir)
		}
	}
	if g.Refused() != 2 {
		t.Fatalf("Refused() = %d, want 2", g.Refused())
	}
}

type connAddrs [2]ma.Multiaddr

func (c connAddrs) LocalMultiaddr() ma.Multiaddr  { return c[0] }
func (c connAddrs) RemoteMultiaddr() ma.Multiaddr { return c[1] }

// A member removed from the allow-list can no longer connect.
func TestSetAllowedRevokes(t *testing.T) {
	ka, a := newKey(t)
	kb, b := newKey(t)
	ha := newHost(t, ka, "/ip4/127.0.0.1/tcp/0", nil, a, b)
	hb := newHost(t, kb, "/ip4/127.0.0.1/tcp/0", nil, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := openStream(ctx, hb, info(ha)); err != nil {
		t.Fatal(err)
	}
	ha.gater.SetAllowed([]peer.ID{a})
	ha.Network().ClosePeer(b)
	hb.Network().ClosePeer(a)
	if err := openStream(ctx, hb, info(ha)); err == nil {
		t.Fatal("a revoked member reconnected")
	}
}

func TestPrivateNetwork(t *testing.T) {
	dir := t.TempDir()
	load := func(name string) pnet.PSK {
		path := filepath.Join(dir, name)
		if err := p2p.GeneratePSK(path); err != nil {
			t.Fatal(err)
		}
		psk, err := p2p.LoadPSK(path)
		if err != nil {
			t.Fatal(err)
		}
		return psk
	}
	shared, other := load("swarm.key"), load("other.key")
	if err := p2p.GeneratePSK(filepath.Join(dir, "swarm.key")); err == nil {
		t.Fatal("GeneratePSK overwrote an existing key")
	}
	ka, a := newKey(t)
	kb, b := newKey(t)
	kc, c := newKey(t)
	ha := newHost(t, ka, "/ip4/127.0.0.1/tcp/0", shared, a, b, c)
	hb := newHost(t, kb, "/ip4/127.0.0.1/tcp/0", shared, a, b, c)
	hc := newHost(t, kc, "/ip4/127.0.0.1/tcp/0", other, a, b, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := openStream(ctx, hb, info(ha)); err != nil {
		t.Fatalf("same key: %v", err)
	}
	short, cancel2 := context.WithTimeout(ctx, 3*time.Second)
	defer cancel2()
	if err := openStream(short, hc, info(ha)); err == nil {
		t.Fatal("a host with another network key connected")
	}
	_, err := p2p.NewHost(p2p.HostConfig{Key: ka, PSK: shared, Gater: p2p.NewGater(nil, nil),
		Listen: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/udp/0/quic-v1")}})
	if !errors.Is(err, p2p.ErrQUICWithPSK) {
		t.Fatalf("QUIC with a PSK: %v, want ErrQUICWithPSK", err)
	}
	if _, err := p2p.LoadPSK(filepath.Join(dir, "missing.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("LoadPSK of a missing file: %v", err)
	}
}

// A peer that redials in a loop is counted every time but logged at Info
// once per minute.
func TestGaterRateLimitsRefusalLogs(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	_, a := newKey(t)
	_, o := newKey(t)
	g := p2p.NewGater(zap.New(core), []peer.ID{a})
	addrs := connAddrs{ma.StringCast("/ip4/127.0.0.1/tcp/1"), ma.StringCast("/ip4/127.0.0.1/tcp/2")}
	for range 100 {
		g.InterceptSecured(network.DirInbound, o, addrs)
	}
	if g.Refused() != 100 {
		t.Fatalf("Refused() = %d, want 100", g.Refused())
	}
	if n := logs.Len(); n != 1 {
		t.Fatalf("%d Info lines for 100 refusals of one peer, want 1", n)
	}
}
