package testnet

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/api/console"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/schemas"

	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap/zaptest"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/devnet"
	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/internal/atomicfile"
	"github.com/caravan-consortium/caravan/internal/keyfile"
)

// Cluster is a local consortium (devnet's layout: a signed roster, each
// org's data directory and admin key) whose gateways run in the test's
// process.
type Cluster struct {
	t   testing.TB
	Net *devnet.Net
}

// NewCluster lays out a consortium of n orgs in a temporary directory.
func NewCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	nt, err := devnet.Create(filepath.Join(t.TempDir(), "net"), n)
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, Net: nt}
	// One roster file for all (Roster, WriteRoster): most tests change the
	// roster by writing it; OwnRosters undoes this.
	for i := range nt.Orgs {
		c.pointRoster(i, "../consortium.yaml")
	}
	return c
}

// Dir is org i's data directory.
func (c *Cluster) Dir(i int) string { return c.Net.Orgs[i].Dir }

// Start starts org i's gateway; it is closed when the test ends.
func (c *Cluster) Start(i int) *gateway.Gateway {
	c.t.Helper()
	n, err := c.TryStart(i)
	if err != nil {
		c.t.Fatalf("start %s: %v", c.Net.Orgs[i].Org, err)
	}
	return n
}

// TryStart starts org i's gateway, or says why it did not.
func (c *Cluster) TryStart(i int) (*gateway.Gateway, error) {
	n, err := gateway.Start(context.Background(), gateway.Options{Dir: c.Dir(i), Logger: zaptest.NewLogger(c.t).Named(c.Net.Orgs[i].Org), Console: console.Handler})
	if err == nil {
		c.t.Cleanup(func() { n.Close() })
	}
	return n, err
}

// Admin is org i's admin key.
func (c *Cluster) Admin(i int) ed25519.PrivateKey {
	c.t.Helper()
	k, err := keyfile.Load(filepath.Join(c.Dir(i), "admin.key"))
	if err != nil {
		c.t.Fatal(err)
	}
	return k
}

// NodeKey is org i's node key.
func (c *Cluster) NodeKey(i int) ed25519.PrivateKey {
	c.t.Helper()
	k, err := keyfile.Load(datadir.Dir(c.Dir(i)).Key())
	if err != nil {
		c.t.Fatal(err)
	}
	return k
}

// OrgKey is org i's org key (DIR/org.key).
func (c *Cluster) OrgKey(i int) ed25519.PrivateKey {
	c.t.Helper()
	k, err := keyfile.Load(datadir.Dir(c.Dir(i)).OrgKey())
	if err != nil {
		c.t.Fatal(err)
	}
	return k
}

// PeerOf is org i's node.
func (c *Cluster) PeerOf(i int) peer.ID {
	c.t.Helper()
	p, err := peer.Decode(c.Net.Orgs[i].PeerID)
	if err != nil {
		c.t.Fatal(err)
	}
	return p
}

// Roster reads the roster file.
func (c *Cluster) Roster() *consortium.Roster {
	c.t.Helper()
	r, err := consortium.Load(c.Net.Roster)
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// NextRoster returns the next version of the roster file, changed by mutate
// and signed by the admins of the given orgs.
func (c *Cluster) NextRoster(mutate func(*consortium.Roster), signers ...int) *consortium.Roster {
	c.t.Helper()
	return c.Revise(c.Roster(), mutate, signers...)
}

// Revise returns the next version of base (base is not changed), changed by
// mutate and signed by the admins of the given orgs.
func (c *Cluster) Revise(base *consortium.Roster, mutate func(*consortium.Roster), signers ...int) *consortium.Roster {
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
		if _, err := r.Sign(c.Admin(i)); err != nil {
			c.t.Fatal(err)
		}
	}
	return r
}

// WriteRoster replaces the roster file with r, atomically.
func (c *Cluster) WriteRoster(r *consortium.Roster) {
	c.t.Helper()
	data, err := r.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := atomicfile.Write(c.Net.Roster, data, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// WriteRosterBytes writes data over the roster file.
func (c *Cluster) WriteRosterBytes(data []byte) {
	c.t.Helper()
	if err := os.WriteFile(c.Net.Roster, data, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// ConnectedTo reports whether gateway n is connected to a node of org.
func ConnectedTo(n *gateway.Gateway, org string) bool {
	for _, m := range n.Services().Admin.Status().Members {
		if m.Org == org {
			return m.Connected()
		}
	}
	return false
}

// RegisterDemoSchemas registers the demo's schemas with the gateway cl talks
// to, and waits until every gateway of nodes has them, and has its policies
// in force (they read the schemas' attributes).
func RegisterDemoSchemas(t testing.TB, nodes []*gateway.Gateway, cl *api.Client) {
	t.Helper()
	if err := devnet.RegisterDemoSchemas(context.Background(), cl); err != nil {
		t.Fatal(err)
	}
	want := len(schemas.DemoDocuments())
	for _, n := range nodes {
		poll.Until(t, func() bool {
			return len(n.Registry().All()) >= want && n.Services().Admin.Status().Policy.Waiting == ""
		},
			n.Services().Admin.Status().Org+" to hold the demo's schemas and have its policies in force")
	}
}

// RegisterDemoSchemasOffline starts org i's gateway, registers the demo's
// schemas with it and stops it again, so that its next start finds them in
// its store (and its policies in force from the start).
func (c *Cluster) RegisterDemoSchemasOffline(i int) {
	c.t.Helper()
	n, err := gateway.Start(context.Background(), gateway.Options{Dir: c.Dir(i), Logger: zaptest.NewLogger(c.t).Named(c.Net.Orgs[i].Org), Console: console.Handler})
	if err != nil {
		c.t.Fatal(err)
	}
	defer n.Close()
	cl, err := api.NewClient(c.Dir(i))
	if err != nil {
		c.t.Fatal(err)
	}
	RegisterDemoSchemas(c.t, []*gateway.Gateway{n}, cl)
}

// OwnRosters gives each org a roster file of its own (DIR/consortium.yaml,
// a copy of the shared one), as devnet lays them out and as members on
// separate machines have: a version then reaches a gateway only over the
// network. Call it before starting any gateway; the shared file (Roster,
// WriteRoster) is then no gateway's.
func (c *Cluster) OwnRosters() {
	c.t.Helper()
	data, err := os.ReadFile(c.Net.Roster)
	if err != nil {
		c.t.Fatal(err)
	}
	for i := range c.Net.Orgs {
		if err := atomicfile.Write(filepath.Join(c.Dir(i), devnet.RosterFile), data, 0o644); err != nil {
			c.t.Fatal(err)
		}
		c.pointRoster(i, devnet.RosterFile)
	}
}

// pointRoster sets org i's config to read the roster at path.
func (c *Cluster) pointRoster(i int, path string) {
	c.t.Helper()
	file := datadir.Dir(c.Dir(i)).Config()
	cfg, err := datadir.LoadConfig(file)
	if err != nil {
		c.t.Fatal(err)
	}
	cfg.Roster = path
	data, err := cfg.Marshal()
	if err == nil {
		err = atomicfile.Write(file, data, 0o600)
	}
	if err != nil {
		c.t.Fatal(err)
	}
}

// RosterOf reads org i's own roster file (OwnRosters).
func (c *Cluster) RosterOf(i int) *consortium.Roster {
	c.t.Helper()
	r, err := consortium.Load(filepath.Join(c.Dir(i), "consortium.yaml"))
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}
