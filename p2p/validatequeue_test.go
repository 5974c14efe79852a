package p2p_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/caravan-consortium/caravan/p2p"
)

// The attack: a member sends one RPC that carries many messages (an
// IWANT answer, or what its backed-up queue merged). GossipSub queues
// every received message for validation, all peers together, and dropped
// the next ones, whoever sent them, once 32 waited: in the hostile
// scenario the victims dropped 40-50 journal messages a round, honest ones
// among them, and once an honest catalog statement, which then waited
// 30 s for catch-up. And a subscriber that read 32 messages behind lost
// the next ones, accepted and passed on but never kept. Every message of
// such an RPC is now validated and delivered, up to MaxMessagesPerRPC; an
// RPC with more is dropped whole.
func TestABurstOfGossipDropsNothing(t *testing.T) {
	const topic, burst = "/caravan/test/1", p2p.MaxMessagesPerRPC
	kv, v := newKey(t)
	km, m := newKey(t)
	hv := newHost(t, kv, "/ip4/127.0.0.1/tcp/0", nil, m)
	hm := newHost(t, km, "/ip4/127.0.0.1/tcp/0", nil, v)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var drops p2p.GossipDrops
	psv, err := p2p.NewPubSub(ctx, hv, p2p.PubSubOptions{Topics: []string{topic}, Drops: &drops})
	if err != nil {
		t.Fatal(err)
	}
	// The member speaks GossipSub by hand: it takes the victim's stream
	// (and reads nothing of it), and sends its RPCs on a stream of its own.
	// A GossipSub of its own would open that stream too, and replace the
	// member's, at any time.
	victimOpened := make(chan struct{}, 1)
	hm.SetStreamHandler(pubsub.GossipSubID_v11, func(s network.Stream) {
		select {
		case victimOpened <- struct{}{}:
		default:
		}
		_, _ = io.Copy(io.Discard, s)
	})
	// A validator that takes its time, as one that checks signatures does
	// under load.
	if err := psv.RegisterTopicValidator(topic, func(context.Context, peer.ID, *pubsub.Message) pubsub.ValidationResult {
		time.Sleep(time.Millisecond)
		return pubsub.ValidationAccept
	}); err != nil {
		t.Fatal(err)
	}
	tv, err := psv.Join(topic)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := tv.Subscribe(pubsub.WithBufferSize(p2p.SubscribeBuffer)) // as the gateway's services do
	if err != nil {
		t.Fatal(err)
	}
	if err := hm.Connect(ctx, info(hv)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-victimOpened:
	case <-time.After(10 * time.Second):
		t.Fatal("the victim did not open its GossipSub stream")
	}

	// The member's subscription, an RPC of more than MaxMessagesPerRPC
	// tiny messages, dropped whole, then one of burst messages.
	frames, err := frame(&pb.RPC{Subscriptions: []*pb.RPC_SubOpts{{Subscribe: new(true), Topicid: new(topic)}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{5000, burst} {
		rpc := &pb.RPC{}
		for i := range n {
			rpc.Publish = append(rpc.Publish, &pb.Message{Data: fmt.Appendf(nil, "%d of %d", i, n), Topic: new(topic)})
		}
		f, err := frame(rpc)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, f...)
	}
	s, err := hm.NewStream(ctx, hv.ID(), pubsub.GossipSubID_v11)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Reset()
	if _, err := s.Write(frames); err != nil {
		t.Fatal(err)
	}
	got := 0
	for got < burst {
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := sub.Next(rctx)
		rcancel()
		if err != nil {
			t.Fatalf("delivered %d of the %d messages of one RPC; GossipSub dropped %v", got, burst, drops.Counts())
		}
		if !strings.HasSuffix(string(m.Data), fmt.Sprintf(" of %d", burst)) {
			t.Fatalf("delivered %q, of an RPC of more than %d messages", m.Data, p2p.MaxMessagesPerRPC)
		}
		got++
	}
	if d := drops.Counts(); len(d) > 0 {
		t.Fatalf("GossipSub dropped %v", d)
	}
}

// frame is an RPC as GossipSub writes it: its length as a varint, then
// its protobuf encoding.
func frame(rpc *pb.RPC) ([]byte, error) {
	body, err := proto.Marshal(rpc)
	if err != nil {
		return nil, err
	}
	return append(binary.AppendUvarint(nil, uint64(len(body))), body...), nil
}
