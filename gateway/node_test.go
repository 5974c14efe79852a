package gateway_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/caravan-consortium/caravan/api"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/internal/logging"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testnet"
	"github.com/caravan-consortium/caravan/p2p"
)

// Every test's gateways are closed in t.Cleanup; afterwards no goroutine of
// theirs may be left.
func TestMain(m *testing.M) {
	// tessera logs through klog, which is process-wide: keep it quiet here
	// rather than tie it to one test's logger.
	logging.RouteKlog(zap.NewNop())
	goleak.VerifyTestMain(m)
}

func TestMembersFormFullMesh(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	var nodes []*gateway.Gateway
	for i := range 3 {
		nodes = append(nodes, c.Start(i))
	}
	for _, n := range nodes {
		for _, o := range c.Net.Orgs {
			if o.Org != n.Services().Admin.Status().Org {
				poll.Until(t, func() bool { return testnet.ConnectedTo(n, o.Org) }, n.Services().Admin.Status().Org+" connected to "+o.Org)
			}
		}
	}
}

func TestNonMemberRefused(t *testing.T) {
	c := testnet.NewCluster(t, 1)
	n := c.Start(0)
	key, _, _ := crypto.GenerateEd25519Key(nil)
	h, err := p2p.NewHost(p2p.HostConfig{Key: key, Gater: p2p.NewGater(nil, []peer.ID{n.PeerID()}),
		Listen: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Over QUIC the client may finish its handshake before the gateway's
	// gater closes the connection, so the test is that no stream opens.
	err = h.Connect(ctx, peer.AddrInfo{ID: n.PeerID(), Addrs: n.Host().Addrs()})
	if err == nil {
		var s network.Stream
		if s, err = h.NewStream(ctx, n.PeerID(), ping.ID); err == nil {
			s.Reset()
			t.Fatal("a non-member opened a stream")
		}
	}
	poll.Until(t, func() bool { return n.Services().Admin.Status().Refused > 0 }, "the refusal to be counted")
}

func TestStartRefusesBadRoster(t *testing.T) {
	cases := []struct {
		name    string
		break_  func(c *testnet.Cluster)
		wantErr error
	}{
		{"tampered", func(c *testnet.Cluster) {
			data, _ := os.ReadFile(c.Net.Roster)
			c.WriteRosterBytes([]byte(strings.Replace(string(data), "country: KZ", "country: RU", 1)))
		}, consortium.ErrBadSignature},
		{"under threshold", func(c *testnet.Cluster) {
			r := c.Roster()
			r.Signatures = r.Signatures[:1]
			c.WriteRoster(r)
		}, consortium.ErrBelowThreshold},
		{"this node is not listed", func(c *testnet.Cluster) {
			c.WriteRoster(c.NextRoster(func(r *consortium.Roster) { r.Members = r.Members[1:] }, 0, 1))
		}, gateway.ErrNotInRoster},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testnet.NewCluster(t, 3)
			tc.break_(c)
			_, err := c.TryStart(0)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Start: %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != gateway.ErrNotInRoster && !strings.Contains(err.Error(), c.Net.Roster) {
				t.Fatalf("the error does not name the roster file: %v", err)
			}
			// Nothing was left running: the data directory can be used.
			if _, err := os.Stat(datadir.Dir(c.Dir(0)).Socket()); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("a failed Start left a control socket")
			}
		})
	}
}

func TestSecondGatewayOnSameDirRefused(t *testing.T) {
	c := testnet.NewCluster(t, 1)
	c.Start(0)
	if _, err := c.TryStart(0); !errors.Is(err, datadir.ErrLocked) {
		t.Fatalf("second Start: %v, want ErrLocked", err)
	}
}

func TestStatusThroughControlSocket(t *testing.T) {
	c := testnet.NewCluster(t, 2)
	a := c.Start(0)
	c.Start(1)
	poll.Until(t, func() bool { return testnet.ConnectedTo(a, c.Net.Orgs[1].Org) }, "the connection")
	cl, err := api.NewClient(c.Dir(0))
	if err != nil {
		t.Fatal(err)
	}
	st, err := cl.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.PeerID != a.PeerID().String() || st.Org != c.Net.Orgs[0].Org || st.RosterVersion != 1 || len(st.Addrs) == 0 {
		t.Fatalf("status %+v", st)
	}
	if len(st.Members) != 2 || !st.Members[0].Self || !st.Members[1].Connected() {
		t.Fatalf("members %+v", st.Members)
	}
	if fi, err := os.Stat(datadir.Dir(c.Dir(0)).Socket()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket: %v, mode %v", err, fi.Mode())
	}

	a.Close()
	if _, err := cl.Status(context.Background()); !errors.Is(err, api.ErrNotRunning) {
		t.Fatalf("Status of a stopped gateway: %v, want ErrNotRunning", err)
	}
}

func TestCloseIsIdempotentAndBounded(t *testing.T) {
	c := testnet.NewCluster(t, 2)
	a := c.Start(0)
	c.Start(1)
	poll.Until(t, func() bool { return testnet.ConnectedTo(a, c.Net.Orgs[1].Org) }, "the connection")
	start := time.Now()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > gateway.ShutdownTimeout {
		t.Fatalf("Close took %v", took)
	}
	// The directory is free again.
	b := c.Start(0)
	b.Close()
}
