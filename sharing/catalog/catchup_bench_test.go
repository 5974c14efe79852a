package catalog_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/sharing/catalog"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/store"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// BenchmarkCatchUp10k measures DESIGN's catch-up goal: a gateway that
// missed 10,000 manifests converges after reconnecting (goal: within 10 s).
func BenchmarkCatchUp10k(b *testing.B) {
	for range b.N {
		roster := &members{orgs: map[peer.ID]string{}}
		keyA, keyB := testkit.Key(b), testkit.Key(b)
		idA, _ := peer.IDFromPrivateKey(nodeKey(keyA))
		idB, _ := peer.IDFromPrivateKey(nodeKey(keyB))
		roster.orgs[idA], roster.orgs[idB] = "customs-cn", "customs-kz"
		start := func(key ed25519.PrivateKey) (*catalog.Service, host.Host, func()) {
			h, err := p2p.NewHost(p2p.HostConfig{Key: nodeKey(key), Gater: p2p.NewGater(nil, []peer.ID{idA, idB}), Listen: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			ps, _ := p2p.NewPubSub(ctx, h, p2p.PubSubOptions{Topics: []string{testTopic}})
			st, err := store.OpenEmbedded(b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			cat, err := catalog.Open(st)
			if err != nil {
				b.Fatal(err)
			}
			svc, err := catalog.NewService(catalog.ServiceConfig{Host: h, PubSub: ps, Topic: testTopic, Catalog: cat, Members: roster, AntiEntropy: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			return svc, h, func() { svc.Close(); cancel(); h.Close(); st.Close() }
		}
		a, ha, stopA := start(keyA)
		var sts []*manifest.Statement
		for i := range 10000 {
			m := testkit.Manifest()
			m.Dataset = fmt.Sprintf("ds-%d", i)
			st, _ := manifest.SignStatement(m, keyA)
			sts = append(sts, st)
		}
		if _, err := a.Catalog().AddAll(sts); err != nil {
			b.Fatal(err)
		}
		bsvc, hb, stopB := start(keyB)
		b.StartTimer()
		t0 := time.Now()
		if err := hb.Connect(context.Background(), peer.AddrInfo{ID: ha.ID(), Addrs: ha.Addrs()}); err != nil {
			b.Fatal(err)
		}
		for bsvc.Catalog().Len() < 10000 {
			if time.Since(t0) > 60*time.Second {
				b.Fatalf("converged %d of 10000 in 60 s", bsvc.Catalog().Len())
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.ReportMetric(time.Since(t0).Seconds(), "converge-s")
		b.StopTimer()
		stopB()
		stopA()
	}
}
