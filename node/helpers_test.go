package node_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap/zaptest"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/devnet"
	"github.com/caravan-consortium/caravan/internal/atomicfile"
	"github.com/caravan-consortium/caravan/internal/keyfile"
	"github.com/caravan-consortium/caravan/node"
)

// cluster is a local consortium whose gateways run in this process.
type cluster struct {
	t   *testing.T
	net *devnet.Net
}

func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	nt, err := devnet.Create(filepath.Join(t.TempDir(), "net"), n)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{t: t, net: nt}
}

func (c *cluster) dir(i int) string { return c.net.Orgs[i].Dir }

// start starts org i's gateway; it is closed when the test ends.
func (c *cluster) start(i int) *node.Node {
	c.t.Helper()
	n, err := c.tryStart(i)
	if err != nil {
		c.t.Fatalf("start %s: %v", c.net.Orgs[i].Org, err)
	}
	return n
}

func (c *cluster) tryStart(i int) (*node.Node, error) {
	n, err := node.Start(context.Background(), node.Options{Dir: c.dir(i), Logger: zaptest.NewLogger(c.t).Named(c.net.Orgs[i].Org)})
	if err == nil {
		c.t.Cleanup(func() { n.Close() })
	}
	return n, err
}

func (c *cluster) admin(i int) ed25519.PrivateKey {
	c.t.Helper()
	k, err := keyfile.Load(filepath.Join(c.dir(i), "admin.key"))
	if err != nil {
		c.t.Fatal(err)
	}
	return k
}

func (c *cluster) roster() *consortium.Roster {
	c.t.Helper()
	r, err := consortium.Load(c.net.Roster)
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// nextRoster returns the next version of the roster file, changed by mutate
// and signed by the admins of the given orgs.
func (c *cluster) nextRoster(mutate func(*consortium.Roster), signers ...int) *consortium.Roster {
	c.t.Helper()
	return c.revise(c.roster(), mutate, signers...)
}

// revise returns the next version of base (base is not changed), changed by
// mutate and signed by the admins of the given orgs.
func (c *cluster) revise(base *consortium.Roster, mutate func(*consortium.Roster), signers ...int) *consortium.Roster {
	c.t.Helper()
	data, err := base.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	r, err := consortium.Parse("copy", data)
	if err != nil {
		c.t.Fatal(err)
	}
	r.StartRevision()
	if mutate != nil {
		mutate(r)
	}
	for _, i := range signers {
		if _, err := r.Sign(c.admin(i)); err != nil {
			c.t.Fatal(err)
		}
	}
	return r
}

func (c *cluster) writeRoster(r *consortium.Roster) {
	c.t.Helper()
	data, err := r.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := atomicfile.Write(c.net.Roster, data, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) writeRosterBytes(data []byte) {
	c.t.Helper()
	if err := os.WriteFile(c.net.Roster, data, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func connectedTo(n *node.Node, org string) bool {
	for _, m := range n.Status().Members {
		if m.Org == org {
			return m.Connected()
		}
	}
	return false
}

func peerOf(t *testing.T, c *cluster, i int) peer.ID {
	t.Helper()
	p, err := peer.Decode(c.net.Orgs[i].PeerID)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
