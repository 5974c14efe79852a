package p2p_test

import (
	"context"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/p2p"
)

// Gossip is unsigned and anonymous, and a message is identified by its
// content: publishing the same bytes twice delivers them once, and a
// message signed at the GossipSub level (a peer with the library's
// defaults) is dropped.
func TestPubSubUnsignedContentAddressed(t *testing.T) {
	ka, a := newKey(t)
	kb, b := newKey(t)
	kc, c := newKey(t)
	ha := newHost(t, ka, "/ip4/127.0.0.1/tcp/0", nil, b, c)
	hb := newHost(t, kb, "/ip4/127.0.0.1/tcp/0", nil, a, c)
	hc := newHost(t, kc, "/ip4/127.0.0.1/tcp/0", nil, a, b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const topic = "/caravan/test/1"
	psa, err := p2p.NewPubSub(ctx, ha, p2p.PubSubOptions{Topics: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}
	psb, err := p2p.NewPubSub(ctx, hb, p2p.PubSubOptions{Topics: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}
	signing, err := pubsub.NewGossipSub(ctx, hc) // StrictSign, the default
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []*testHost{hb, hc} {
		if err := ha.Connect(ctx, info(h)); err != nil {
			t.Fatal(err)
		}
	}
	if err := hb.Connect(ctx, info(hc)); err != nil {
		t.Fatal(err)
	}
	ta, _ := psa.Join(topic)
	tb, _ := psb.Join(topic)
	tc, _ := signing.Join(topic)
	sub, err := tb.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, func() bool { return len(ta.ListPeers()) == 1 && len(tc.ListPeers()) == 1 }, "peers to join the topic")

	if err := tc.Publish(ctx, []byte("signed by the library")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := ta.Publish(ctx, []byte("hello")); err != nil {
			t.Fatal(err)
		}
	}
	if err := ta.Publish(ctx, []byte("world")); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		m, err := sub.Next(rctx)
		rcancel()
		if err != nil {
			t.Fatalf("received %q, then: %v", got, err)
		}
		if m.From != nil || m.Signature != nil || m.Seqno != nil {
			t.Errorf("message %q carries author data: from %x, seqno %x", m.Data, m.From, m.Seqno)
		}
		got = append(got, string(m.Data))
	}
	rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer rcancel()
	if m, err := sub.Next(rctx); err == nil {
		got = append(got, string(m.Data))
	}
	if len(got) != 2 || got[0] != "hello" || got[1] != "world" {
		t.Fatalf("received %q, want [hello world]", got)
	}
}
