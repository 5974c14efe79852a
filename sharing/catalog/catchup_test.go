package catalog_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/sharing/catalog"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// catalogPeer starts a host with a catalog service for key, in roster.
func catalogPeer(t testing.TB, key ed25519.PrivateKey, roster *members, allowed []peer.ID) (*catalog.Service, host.Host) {
	t.Helper()
	h, err := p2p.NewHost(p2p.HostConfig{Key: nodeKey(key), Gater: p2p.NewGater(nil, allowed), Listen: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ps, err := p2p.NewPubSub(ctx, h, p2p.PubSubOptions{Topics: []string{testTopic}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenEmbedded(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(st)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := catalog.NewService(catalog.ServiceConfig{Host: h, PubSub: ps, Topic: testTopic, Catalog: cat, Members: roster, AntiEntropy: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(); cancel(); h.Close(); st.Close() })
	return svc, h
}

// Catch-up sent the list of every statement an org's catalog holds in one
// frame, which outgrew the 4 MiB frame limit at about 67,000 statements,
// after which two catalogs could never converge again. It is now paged
// (HavePage CIDs a frame): a catalog several pages larger converges.
func TestCatchUpIsPaged(t *testing.T) {
	keyA, keyB := testkit.Key(t), testkit.Key(t)
	idA, _ := peer.IDFromPrivateKey(nodeKey(keyA))
	idB, _ := peer.IDFromPrivateKey(nodeKey(keyB))
	roster := &members{orgs: map[peer.ID]string{idA: "customs-cn", idB: "customs-kz"}}
	a, ha := catalogPeer(t, keyA, roster, []peer.ID{idA, idB})
	n := 3*catalog.HavePage + 500
	var sts []*manifest.Statement
	for i := range n {
		m := testkit.Manifest()
		m.Dataset = fmt.Sprintf("ds-%d", i)
		st, err := manifest.SignStatement(m, keyA)
		if err != nil {
			t.Fatal(err)
		}
		sts = append(sts, st)
	}
	if _, err := a.Catalog().AddAll(sts); err != nil {
		t.Fatal(err)
	}
	b, hb := catalogPeer(t, keyB, roster, []peer.ID{idA, idB})
	if err := hb.Connect(context.Background(), peer.AddrInfo{ID: ha.ID(), Addrs: ha.Addrs()}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, func() bool { return b.Catalog().Len() == n }, fmt.Sprintf("all %d statements caught up", n))
}

// The attack: a member opens dozens of catch-up streams at once and reads
// nothing (50 streams added 311 MiB of heap). A gateway now answers one
// catch-up per peer at a time, within a resource-manager reservation, and
// resets the others at once.
func TestCatchUpStreamsFromOnePeerAreOneAtATime(t *testing.T) {
	keyA, keyB := testkit.Key(t), testkit.Key(t)
	idA, _ := peer.IDFromPrivateKey(nodeKey(keyA))
	idB, _ := peer.IDFromPrivateKey(nodeKey(keyB))
	roster := &members{orgs: map[peer.ID]string{idA: "customs-cn", idB: "customs-kz"}}
	a, ha := catalogPeer(t, keyA, roster, []peer.ID{idA, idB})
	var sts []*manifest.Statement
	for i := range 2000 {
		m := testkit.Manifest()
		m.Dataset = fmt.Sprintf("ds-%d", i)
		st, _ := manifest.SignStatement(m, keyA)
		sts = append(sts, st)
	}
	if _, err := a.Catalog().AddAll(sts); err != nil {
		t.Fatal(err)
	}
	// The hostile member: a bare host with customs-kz's key.
	h, err := p2p.NewHost(p2p.HostConfig{Key: nodeKey(keyB), Gater: p2p.NewGater(nil, []peer.ID{idA, idB}), Listen: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.Connect(context.Background(), peer.AddrInfo{ID: ha.ID(), Addrs: ha.Addrs()}); err != nil {
		t.Fatal(err)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	summary, _ := json.Marshal(map[string]any{"summary": map[string]any{}})
	answered := 0
	for range 50 {
		str, err := h.NewStream(context.Background(), ha.ID(), catalog.CatalogProtocol)
		if err != nil {
			continue
		}
		defer str.Reset()
		if err := p2p.WriteFrame(str, summary); err != nil {
			continue
		}
		_ = str.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := p2p.ReadFrame(bufio.NewReader(str), 1<<20); err == nil {
			answered++ // and then read nothing more
		}
	}
	if answered != 1 {
		t.Fatalf("%d of 50 concurrent catch-ups from one peer were answered, want 1", answered)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 32<<20 {
		t.Fatalf("the heap grew by %d MB", grown>>20)
	}
}

// TestSoakCatchUpBeyondTheOldFrameLimit: 70,000 statements of one org, past
// the 67,000 at which version 1 of the protocol stopped converging for
// good. A soak test: CARAVAN_SOAK=1 (make soak).
func TestSoakCatchUpBeyondTheOldFrameLimit(t *testing.T) {
	if os.Getenv("CARAVAN_SOAK") == "" {
		t.Skip("a soak test: run with CARAVAN_SOAK=1 (make soak)")
	}
	keyA, keyB := testkit.Key(t), testkit.Key(t)
	idA, _ := peer.IDFromPrivateKey(nodeKey(keyA))
	idB, _ := peer.IDFromPrivateKey(nodeKey(keyB))
	roster := &members{orgs: map[peer.ID]string{idA: "customs-cn", idB: "customs-kz"}}
	a, ha := catalogPeer(t, keyA, roster, []peer.ID{idA, idB})
	a.Catalog().SetQuota(catalog.Quota{Statements: 100_000})
	const n = 70_000
	var sts []*manifest.Statement
	for i := range n {
		m := testkit.Manifest()
		m.Dataset = fmt.Sprintf("ds-%d", i)
		st, err := manifest.SignStatement(m, keyA)
		if err != nil {
			t.Fatal(err)
		}
		sts = append(sts, st)
	}
	if _, err := a.Catalog().AddAll(sts); err != nil {
		t.Fatal(err)
	}
	b, hb := catalogPeer(t, keyB, roster, []peer.ID{idA, idB})
	b.Catalog().SetQuota(catalog.Quota{Statements: 100_000})
	start := time.Now()
	if err := hb.Connect(context.Background(), peer.AddrInfo{ID: ha.ID(), Addrs: ha.Addrs()}); err != nil {
		t.Fatal(err)
	}
	for b.Catalog().Len() < n {
		if time.Since(start) > 5*time.Minute {
			t.Fatalf("%d of %d statements caught up in 5 minutes", b.Catalog().Len(), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d statements caught up in %v", n, time.Since(start).Round(time.Millisecond))
}
