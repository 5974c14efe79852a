package catalog_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"path/filepath"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/zap/zaptest"

	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/internal/testnet"
	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/sharing/catalog"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/publish"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// members is a fixed roster for the tests.
type members struct {
	mu   sync.Mutex
	orgs map[peer.ID]string
}

func (m *members) OrgOf(p peer.ID) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orgs[p]
	return o, ok
}

// SignerOrg: in these tests, each org signs with its node's key.
func (m *members) SignerOrg(p peer.ID) (string, bool) { return m.OrgOf(p) }

func (m *members) HasOrg(org string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.orgs {
		if o == org {
			return true
		}
	}
	return false
}

func (m *members) remove(org string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for p, o := range m.orgs {
		if o == org {
			delete(m.orgs, p)
		}
	}
}

func (m *members) Nodes() []peer.ID {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []peer.ID
	for p := range m.orgs {
		out = append(out, p)
	}
	return out
}

type member struct {
	org    string
	key    ed25519.PrivateKey
	dir    string
	host   host.Host
	ps     *pubsub.PubSub
	store  *store.Embedded
	svc    *catalog.Service
	pub    *publish.Publisher
	cancel context.CancelFunc
	scores sync.Map // peer.ID -> float64
}

type net struct {
	t       *testing.T
	roster  *members
	members []*member
}

const testTopic = "/caravan/test/catalog/1"

func newNet(t *testing.T, orgs ...string) *net {
	n := &net{t: t, roster: &members{orgs: map[peer.ID]string{}}}
	for _, org := range orgs {
		key := testkit.Key(t)
		id, _ := peer.IDFromPrivateKey(testnet.NodeKey(t, key))
		n.roster.orgs[id] = org
		n.members = append(n.members, &member{org: org, key: key, dir: filepath.Join(t.TempDir(), org)})
	}
	return n
}

// start brings member i up (again) on a fresh host with its store.
func (n *net) start(i int) *member { return n.startMember(i, false) }

// startRaw brings member i up with a bare pubsub and no catalog service:
// a member that publishes whatever it likes.
func (n *net) startRaw(i int) *member { return n.startMember(i, true) }

func (n *net) startMember(i int, raw bool) *member {
	t := n.t
	m := n.members[i]
	var allowed []peer.ID
	for p := range n.roster.orgs {
		allowed = append(allowed, p)
	}
	h, err := p2p.NewHost(p2p.HostConfig{Key: testnet.NodeKey(t, m.key), Gater: p2p.NewGater(nil, allowed),
		Listen: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ps, err := p2p.NewPubSub(ctx, h, p2p.PubSubOptions{Topics: []string{testTopic}, ScoreInspect: func(s map[peer.ID]float64) {
		for p, score := range s {
			m.scores.Store(p, score)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	m.host, m.ps, m.cancel = h, ps, cancel
	t.Cleanup(func() { m.stop() })
	if raw {
		return m
	}
	st, err := store.OpenEmbedded(filepath.Join(m.dir, "store"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(st)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := catalog.NewService(catalog.ServiceConfig{Host: h, PubSub: ps, Topic: testTopic, Catalog: cat,
		Members: n.roster, Log: zaptest.NewLogger(t).Named(m.org), AntiEntropy: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	m.store, m.svc = st, svc
	m.pub = publish.New(publish.Config{Store: st, Catalog: cat, Key: m.key, Org: m.org, Announce: svc.Announce})
	return m
}

func (m *member) stop() {
	if m.host == nil {
		return
	}
	if m.svc != nil {
		m.svc.Close()
		m.store.Close()
	}
	m.cancel()
	m.host.Close()
	m.svc, m.host = nil, nil
}

func (n *net) connectAll() {
	for _, a := range n.members {
		for _, b := range n.members {
			if a != b && a.host != nil && b.host != nil {
				if err := a.host.Connect(context.Background(), peer.AddrInfo{ID: b.host.ID(), Addrs: b.host.Addrs()}); err != nil {
					n.t.Fatal(err)
				}
			}
		}
	}
}

func (m *member) publish(t *testing.T, dataset string, n int, seed uint64) *publish.Result {
	t.Helper()
	res, err := m.pub.Publish(context.Background(), publish.Request{Dataset: dataset, Schema: testkit.Schema(t, "shipment-event"),
		Purposes: []string{"tracking"}}, bytes.NewReader(testkit.JSONL(t, "shipment-event", n, seed)))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestGossipDeliversManifests(t *testing.T) {
	n := newNet(t, "customs-cn", "customs-kz", "logistics-az")
	for i := range n.members {
		n.start(i)
	}
	n.connectAll()
	a := n.members[0]
	time.Sleep(500 * time.Millisecond) // let the topic meshes form
	res := a.publish(t, "rail-events", 50, 1)
	for _, m := range n.members[1:] {
		poll.Until(t, func() bool { return m.svc.Catalog().Has(res.Statement.CID()) }, m.org+" to list the manifest")
		list := m.svc.Catalog().List(catalog.Filter{Org: "customs-cn"})
		if len(list) != 1 || list[0].Manifest.Records != 50 {
			t.Fatalf("%s lists %+v", m.org, list)
		}
	}
}

// A member that publishes a manifest claiming another org, or a forged
// signature, is rejected by the others, which lower its score.
func TestForgedManifestRejectedAndSenderPenalized(t *testing.T) {
	n := newNet(t, "customs-cn", "customs-kz", "mallory")
	a, b, mal := n.start(0), n.start(1), n.startRaw(2)
	n.connectAll()
	topic, err := mal.ps.Join(testTopic)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)

	// Mallory's node signs a manifest that claims to be customs-cn's.
	forged := testkit.Manifest()
	forged.Publisher = "customs-cn"
	st, err := manifest.SignStatement(forged, mal.key)
	if err != nil {
		t.Fatal(err)
	}
	// And a manifest of its own with a broken signature, and garbage.
	own := testkit.Manifest()
	own.Publisher = "mallory"
	broken, _ := manifest.SignStatement(own, mal.key)
	broken.Sig[0] ^= 1
	for _, msg := range [][]byte{st.Marshal(), broken.Marshal(), []byte("not a statement")} {
		if err := topic.Publish(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}

	for _, m := range []*member{a, b} {
		poll.Until(t, func() bool {
			s, ok := m.scores.Load(mal.host.ID())
			return ok && s.(float64) < 0
		}, m.org+" to penalize mallory")
		if m.svc.Catalog().Len() != 0 {
			t.Fatalf("%s kept a forged statement", m.org)
		}
	}
}

// A member that was offline while others published converges when it comes
// back, with nobody publishing again.
func TestCatchUpAfterPartition(t *testing.T) {
	n := newNet(t, "customs-cn", "customs-kz", "logistics-az")
	for i := range n.members {
		n.start(i)
	}
	n.connectAll()
	a, c := n.members[0], n.members[2]
	time.Sleep(300 * time.Millisecond)
	first := a.publish(t, "rail-events", 10, 1)
	poll.Until(t, func() bool { return c.svc.Catalog().Has(first.Statement.CID()) }, "c to see the first version")

	c.stop()
	var missed []*publish.Result
	missed = append(missed, a.publish(t, "rail-events", 20, 2), a.publish(t, "rail-events", 30, 3), a.publish(t, "border-events", 5, 4))
	if _, err := n.members[1].pub.Retract("nothing-here", "x"); err == nil {
		t.Fatal("retracting an unknown dataset succeeded")
	}

	c = n.start(2)
	n.connectAll()
	poll.Until(t, func() bool { return c.svc.Catalog().Digest() == a.svc.Catalog().Digest() }, "c to converge")
	for _, r := range missed {
		if !c.svc.Catalog().Has(r.Statement.CID()) {
			t.Fatalf("c is missing %s", r.Statement.CID())
		}
	}
	heads := c.svc.Catalog().List(catalog.Filter{Org: "customs-cn"})
	if len(heads) != 2 || heads[1].Manifest.Version != 3 {
		t.Fatalf("c's heads: %+v", heads)
	}
}

// After an org leaves the roster, a member that holds its old statements
// still catches others up on everything else.
func TestCatchUpAfterAnOrgLeft(t *testing.T) {
	n := newNet(t, "customs-cn", "customs-kz", "logistics-az")
	a, b := n.start(0), n.start(1)
	n.connectAll()
	time.Sleep(300 * time.Millisecond)
	fromB := b.publish(t, "kz-events", 5, 1)
	poll.Until(t, func() bool { return a.svc.Catalog().Has(fromB.Statement.CID()) }, "a to hold kz's manifest")
	fromA := a.publish(t, "cn-events", 5, 2)

	// customs-kz leaves; logistics-az, new, catches up from a.
	b.stop()
	n.roster.remove("customs-kz")
	c := n.start(2)
	n.connectAll()
	poll.Until(t, func() bool { return c.svc.Catalog().Has(fromA.Statement.CID()) }, "c to get cn's manifest")
	if c.svc.Catalog().Has(fromB.Statement.CID()) {
		t.Fatal("c took a statement signed by a node the roster no longer lists")
	}
}
