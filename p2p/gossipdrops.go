package p2p

import (
	"maps"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// GossipDrops counts the messages that GossipSub dropped before a topic
// validator judged them, or on their way out to a peer: a validation
// queue that was full, a validation throttled, a peer's outbound queue
// that was full (GossipSub's own limits). The validators' own verdicts
// are counted apart (Verdicts). A message dropped here does not reach that
// peer or this gateway by gossip; catch-up brings it later.
//
// It is a pubsub.RawTracer: GossipSub calls it from its event loop and
// validation workers, so each call only counts.
type GossipDrops struct {
	mu sync.Mutex
	m  map[GossipDrop]uint64
}

// GossipDrop is a kind of drop: Direction "in" (a message received) or
// "out" (one sent), the message's topic, and GossipSub's reason.
type GossipDrop struct {
	Direction, Topic, Reason string
}

// Counts returns how many messages were dropped, by kind.
func (d *GossipDrops) Counts() map[GossipDrop]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.m)
}

func (d *GossipDrops) add(dir, topic, reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[GossipDrop]uint64{}
	}
	d.m[GossipDrop{dir, topic, reason}]++
}

// RejectMessage counts the drops GossipSub decides itself; a validator's
// rejections and ignores are its own to count.
func (d *GossipDrops) RejectMessage(m *pubsub.Message, reason string) {
	switch reason {
	case pubsub.RejectValidationFailed, pubsub.RejectValidationIgnored, pubsub.RejectSelfOrigin:
		return
	}
	d.add("in", m.GetTopic(), reason)
}

// DropRPC counts the messages of an RPC that did not fit a peer's
// outbound queue.
func (d *GossipDrops) DropRPC(rpc *pubsub.RPC, _ peer.ID) {
	for _, m := range rpc.GetPublish() {
		d.add("out", m.GetTopic(), "peer queue full")
	}
}

// UndeliverableMessage counts the messages a subscriber read too slowly.
func (d *GossipDrops) UndeliverableMessage(m *pubsub.Message) {
	d.add("in", m.GetTopic(), "subscriber too slow")
}

func (*GossipDrops) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (*GossipDrops) OnClosedOutboundStream(peer.ID)                       {}
func (*GossipDrops) Join(string)                                          {}
func (*GossipDrops) Leave(string)                                         {}
func (*GossipDrops) Graft(peer.ID, string)                                {}
func (*GossipDrops) Prune(peer.ID, string)                                {}
func (*GossipDrops) ValidateMessage(*pubsub.Message)                      {}
func (*GossipDrops) DeliverMessage(*pubsub.Message)                       {}
func (*GossipDrops) DuplicateMessage(*pubsub.Message)                     {}
func (*GossipDrops) ThrottlePeer(peer.ID)                                 {}
func (*GossipDrops) RecvRPC(*pubsub.RPC)                                  {}
func (*GossipDrops) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (*GossipDrops) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}

var _ pubsub.RawTracer = (*GossipDrops)(nil)
