package catalog_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/internal/testnet"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// The attack: one member gossips thousands of statements of 60 KiB (3,000
// cost 614 MiB of heap on every gateway, for ever). Each org now has a
// catalog quota (statements and bytes, in the config); what is beyond it is
// neither kept nor passed on, and a peer's gossip is rate-limited. The
// other members' statements still get through.
func TestOneMemberCannotFillTheCatalogs(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	for i := range 2 { // a quota of 1 MiB per org on the honest gateways, below the gossip budget's burst
		path := filepath.Join(c.Dir(i), "caravan.yaml")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.Replace(data, []byte("megabytes_per_org: 64"), []byte("megabytes_per_org: 1"), 1)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a, b := c.Start(0), c.Start(1)
	evil := c.Hostile(2, a, b)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	key := c.NodeKey(2)
	for i := range 300 {
		m := testkit.Manifest()
		m.Publisher, m.Dataset = "logistics-az", fmt.Sprintf("junk-%d", i)
		m.Description = strings.Repeat("x", 60<<10)
		st, err := manifest.SignStatement(m, key)
		if err != nil {
			t.Fatal(err)
		}
		evil.Gossip(t, "catalog", st.Marshal())
	}
	time.Sleep(2 * time.Second)
	for _, g := range []struct {
		name  string
		count func() int
	}{{"customs-cn", func() int { return a.Services().Admin.Status().Catalog.Statements }}, {"customs-kz", func() int { return b.Services().Admin.Status().Catalog.Statements }}} {
		if n := g.count(); n < 10 || n > 20 {
			t.Fatalf("%s keeps %d statements; a quota of 1 MiB holds about 16 of the flood's 60 KiB", g.name, n)
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 64<<20 {
		t.Fatalf("the heap grew by %d MB", grown>>20)
	}
	// An honest member's statements still get through.
	cl, err := api.NewClient(c.Dir(0))
	if err != nil {
		t.Fatal(err)
	}
	testnet.RegisterDemoSchemas(t, []*gateway.Gateway{a, b}, cl)
}

// The attack: a member floods one honest member with statements of 60 KiB
// that are valid and within the catalog quota, and that member passes
// them on. Each peer's gossip is read at most p2p.GossipBytesPerSecond, so
// a relay that passed on all the flood it accepted (20 statements a second,
// 1.2 MB/s, bursts of 500) had its own stream slowed down behind it, and
// its own statements waited seconds (the hostile scenario's gossip p99
// went from 7 ms to 4.6 s). The budget is now also the signer's, in bytes
// too, spent once a signature verifies: the relay passes on only the
// flooder's budget, and its own statements get through at once.
func TestARelayOfAFloodStillGetsItsOwnStatementsThrough(t *testing.T) {
	n := newNet(t, "customs-cn", "customs-kz", "mallory")
	a, b, mal := n.start(0), n.start(1), n.startRaw(2)
	for _, link := range [][2]*member{{a, b}, {mal, a}} { // mallory reaches only customs-cn
		if err := link[0].host.Connect(context.Background(), peer.AddrInfo{ID: link[1].host.ID(), Addrs: link[1].host.Addrs()}); err != nil {
			t.Fatal(err)
		}
	}
	topic, err := mal.ps.Join(testTopic)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // let the topic meshes form
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			m := testkit.Manifest()
			m.Publisher, m.Dataset = "mallory", fmt.Sprintf("flood-%d", i)
			m.Description = strings.Repeat("x", 60<<10)
			st, err := manifest.SignStatement(m, mal.key)
			if err != nil {
				t.Error(err)
				return
			}
			_ = topic.Publish(ctx, st.Marshal())
			time.Sleep(5 * time.Millisecond)
		}
	})
	// customs-cn passes on the flooder's burst (about 17 statements), then
	// one a second: if its mesh did not hold customs-kz yet when the burst
	// came, customs-kz hears the flood at one a second only (3 runs in 15
	// under -race), so this waits up to 30 s.
	for start := time.Now(); b.svc.Catalog().Len() < 20; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("customs-kz heard %d of the flood through customs-cn in 30 s", b.svc.Catalog().Len())
		}
	}
	time.Sleep(2 * time.Second)
	res := a.publish(t, "after-the-flood", 5, 1)
	start := time.Now()
	for !b.svc.Catalog().Has(res.Statement.CID()) {
		if time.Since(start) > 5*time.Second { // no anti-entropy in this net: gossip only
			t.Fatalf("customs-kz did not get customs-cn's statement in 5 s; it holds %d of mallory's", b.svc.Catalog().Len())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("customs-kz listed customs-cn's statement after %v, holding %d of mallory's", time.Since(start).Round(time.Millisecond), b.svc.Catalog().Len())
}
