package sharing_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/sharing"
)

// BenchmarkGossipDelivery publishes 150 manifests from one of 20 gateways and
// measures, for every other gateway, the time from publish to the manifest
// being verified and stored in its catalog; then does the same with bare
// GossipSub (same hosts, options and topology, no validation, no store).
// It reports p50 and p99 of both and the p99 ratio (goal: at most 2).
func BenchmarkGossipDelivery(b *testing.B) {
	const gateways, messages = 20, 150
	var caravan, bare []time.Duration
	for range b.N {
		caravan = append(caravan, gossipRun(b, gateways, messages, true)...)
		bare = append(bare, gossipRun(b, gateways, messages, false)...)
	}
	cp50, cp99 := percentile(caravan, 50), percentile(caravan, 99)
	bp50, bp99 := percentile(bare, 50), percentile(bare, 99)
	b.ReportMetric(ms(cp50), "caravan-p50-ms")
	b.ReportMetric(ms(cp99), "caravan-p99-ms")
	b.ReportMetric(ms(bp50), "bare-p50-ms")
	b.ReportMetric(ms(bp99), "bare-p99-ms")
	b.ReportMetric(float64(cp99)/float64(bp99), "p99-ratio")
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, len(s)*p/100)]
}

type benchNode struct {
	h      host.Host
	key    crypto.PrivKey
	ps     *pubsub.PubSub
	svc    *sharing.Service
	store  *sharing.Store
	topic  *pubsub.Topic
	cancel context.CancelFunc
}

// gossipRun returns one delivery latency per (receiver, message).
func gossipRun(b *testing.B, n, messages int, withCaravan bool) []time.Duration {
	b.Helper()
	roster := &members{orgs: map[peer.ID]string{}}
	keys := make([]crypto.PrivKey, n)
	var ids []peer.ID
	for i := range n {
		keys[i] = testKey(b)
		id, _ := peer.IDFromPrivateKey(keys[i])
		roster.orgs[id] = fmt.Sprintf("org-%02d", i)
		ids = append(ids, id)
	}
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var lat []time.Duration
	got := make(chan struct{}, n*messages)
	record := func(key string) {
		mu.Lock()
		if t, ok := sent[key]; ok {
			lat = append(lat, time.Since(t))
		}
		mu.Unlock()
		got <- struct{}{}
	}
	nodes := make([]*benchNode, n)
	dir := b.TempDir()
	for i := range n {
		h, err := p2p.NewHost(p2p.HostConfig{Key: keys[i], Gater: p2p.NewGater(nil, ids), Listen: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ps, err := p2p.NewPubSub(ctx, h, p2p.PubSubOptions{Topics: []string{testTopic}})
		if err != nil {
			b.Fatal(err)
		}
		nd := &benchNode{h: h, key: keys[i], ps: ps, cancel: cancel}
		if withCaravan {
			nd.store, err = sharing.OpenStore(filepath.Join(dir, fmt.Sprint(i)), nil)
			if err != nil {
				b.Fatal(err)
			}
			nd.svc, err = sharing.NewService(sharing.ServiceConfig{Host: h, PubSub: ps, Topic: testTopic, Store: nd.store, Members: roster,
				Key: keys[i], Org: roster.orgs[ids[i]], AntiEntropy: time.Hour,
				OnStatement: func(st *sharing.Statement) { record(st.CID().String()) }})
			if err != nil {
				b.Fatal(err)
			}
		} else {
			if nd.topic, err = ps.Join(testTopic); err != nil {
				b.Fatal(err)
			}
			sub, err := nd.topic.Subscribe()
			if err != nil {
				b.Fatal(err)
			}
			self := h.ID()
			go func() {
				for {
					m, err := sub.Next(ctx)
					if err != nil {
						return
					}
					if m.ReceivedFrom != self {
						record(string(m.Data))
					}
				}
			}()
		}
		nodes[i] = nd
	}
	defer func() {
		for _, nd := range nodes {
			if nd.svc != nil {
				nd.svc.Close()
			}
			nd.cancel()
			nd.h.Close()
			if nd.store != nil {
				nd.store.Close()
			}
		}
	}()
	for i, a := range nodes { // full mesh, as the Keeper makes it
		for _, c := range nodes[i+1:] {
			if err := a.h.Connect(context.Background(), peer.AddrInfo{ID: c.h.ID(), Addrs: c.h.Addrs()}); err != nil {
				b.Fatal(err)
			}
		}
	}
	time.Sleep(2 * time.Second) // meshes form after a heartbeat or two
	pub := nodes[0]
	for m := range messages {
		manifest := testManifest()
		manifest.Publisher = roster.orgs[ids[0]]
		manifest.Dataset = fmt.Sprintf("ds-%d", m)
		st, err := sharing.SignStatement(manifest, pub.key)
		if err != nil {
			b.Fatal(err)
		}
		data := st.Marshal()
		key := string(data)
		if withCaravan {
			key = st.CID().String()
		}
		mu.Lock()
		sent[key] = time.Now()
		mu.Unlock()
		if withCaravan {
			if err := pub.svc.Submit(st); err != nil {
				b.Fatal(err)
			}
		} else if err := pub.topic.Publish(context.Background(), data); err != nil {
			b.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	deadline := time.After(30 * time.Second)
	for range (n - 1) * messages {
		select {
		case <-got:
		case <-deadline:
			b.Fatalf("only %d of %d deliveries", len(lat), (n-1)*messages)
		}
	}
	return lat
}

// BenchmarkCatchUp10k measures DESIGN's catch-up goal: a gateway that
// missed 10,000 manifests converges after reconnecting (goal: within 10 s).
func BenchmarkCatchUp10k(b *testing.B) {
	for range b.N {
		roster := &members{orgs: map[peer.ID]string{}}
		keyA, keyB := testKey(b), testKey(b)
		idA, _ := peer.IDFromPrivateKey(keyA)
		idB, _ := peer.IDFromPrivateKey(keyB)
		roster.orgs[idA], roster.orgs[idB] = "customs-cn", "customs-kz"
		start := func(key crypto.PrivKey, org string) (*sharing.Service, host.Host, func()) {
			h, err := p2p.NewHost(p2p.HostConfig{Key: key, Gater: p2p.NewGater(nil, []peer.ID{idA, idB}), Listen: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			ps, _ := p2p.NewPubSub(ctx, h, p2p.PubSubOptions{Topics: []string{testTopic}})
			store, err := sharing.OpenStore(b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			svc, err := sharing.NewService(sharing.ServiceConfig{Host: h, PubSub: ps, Topic: testTopic, Store: store, Members: roster, Key: key, Org: org, AntiEntropy: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			return svc, h, func() { svc.Close(); cancel(); h.Close(); store.Close() }
		}
		a, ha, stopA := start(keyA, "customs-cn")
		var sts []*sharing.Statement
		for i := range 10000 {
			m := testManifest()
			m.Dataset = fmt.Sprintf("ds-%d", i)
			st, _ := sharing.SignStatement(m, keyA)
			sts = append(sts, st)
		}
		if _, err := a.Catalog.AddAll(sts); err != nil {
			b.Fatal(err)
		}
		bsvc, hb, stopB := start(keyB, "customs-kz")
		b.StartTimer()
		t0 := time.Now()
		if err := hb.Connect(context.Background(), peer.AddrInfo{ID: ha.ID(), Addrs: ha.Addrs()}); err != nil {
			b.Fatal(err)
		}
		for bsvc.Catalog.Len() < 10000 {
			if time.Since(t0) > 60*time.Second {
				b.Fatalf("converged %d of 10000 in 60 s", bsvc.Catalog.Len())
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.ReportMetric(time.Since(t0).Seconds(), "converge-s")
		b.StopTimer()
		stopB()
		stopA()
	}
}
