package p2p

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// MaxGossipMessage bounds a gossiped message.
const MaxGossipMessage = 256 << 10

// ValidateQueue is how many received messages wait for validation, from
// all peers together, before GossipSub drops the next ones, whoever sent
// them. GossipSub's default, 32, is less than one RPC can carry (an IWANT
// answer carries every message asked for): in the hostile scenario the
// victims dropped 33-51 journal messages a round from a queue of 32,
// honest ones among them, and once an honest catalog statement, which
// then waited 30 s for catch-up. The queue holds only messages already
// read, and each peer's
// gossip is read at most GossipBytesPerSecond, so its size bounds little
// memory that the read throttle does not.
const ValidateQueue = 1024

// SubscribeBuffer is how many validated messages a subscription holds for
// its reader (pubsub.WithBufferSize); GossipSub drops the next ones for
// that reader, though it has passed them on. Its default is 32, and the
// gateway's readers store each message (the witness service writes and
// syncs a file): a burst of accepted messages, one RPC of them, must not
// be lost to a reader that is busy for a moment.
const SubscribeBuffer = 1024

// MaxMessagesPerRPC bounds the messages one RPC may carry: an RPC with
// more is dropped whole, before any of them is queued. Below it, one RPC
// cannot fill the ValidateQueue alone (an RPC of MaxGossipMessage holds
// thousands of tiny messages). A gateway never asks a peer for more at
// once (GossipSub's MaxIHaveLength, 5,000 by default, is set to it), so an
// honest peer's RPCs stay within it.
const MaxMessagesPerRPC = 512

// PubSubOptions configures NewPubSub.
type PubSubOptions struct {
	// Direct peers are always sent every message and never pruned: the
	// roster's other members.
	Direct []peer.AddrInfo
	// Topics are scored: a peer that sends invalid messages on them
	// (rejected by a validator) loses score and, below the graylist
	// threshold, is ignored.
	Topics []string
	// ScoreInspect, if set, receives every peer's score each interval.
	ScoreInspect pubsub.PeerScoreInspectFn
	// Drops, if set, counts the messages GossipSub drops itself.
	Drops *GossipDrops
}

// Score thresholds: a peer below GraylistThreshold is ignored entirely.
var scoreThresholds = &pubsub.PeerScoreThresholds{
	GossipThreshold:             -10,
	PublishThreshold:            -50,
	GraylistThreshold:           -80,
	AcceptPXThreshold:           10,
	OpportunisticGraftThreshold: 5,
}

// NewPubSub starts GossipSub with flood publishing (a publisher sends to
// every peer, not only its mesh: a consortium is small and latency
// matters), the members as direct peers, unsigned messages identified by
// their content, and peer scoring that penalizes invalid messages. Peers share loopback or NAT
// addresses, so IP colocation is not scored.
func NewPubSub(ctx context.Context, h host.Host, o PubSubOptions) (*pubsub.PubSub, error) {
	topics := map[string]*pubsub.TopicScoreParams{}
	for _, t := range o.Topics {
		topics[t] = &pubsub.TopicScoreParams{
			TopicWeight:                    1,
			TimeInMeshWeight:               0.01,
			TimeInMeshQuantum:              time.Second,
			TimeInMeshCap:                  10,
			FirstMessageDeliveriesWeight:   1,
			FirstMessageDeliveriesDecay:    0.5,
			FirstMessageDeliveriesCap:      10,
			InvalidMessageDeliveriesWeight: -100,
			InvalidMessageDeliveriesDecay:  0.9,
		}
	}
	params := &pubsub.PeerScoreParams{
		Topics:                      topics,
		AppSpecificScore:            func(peer.ID) float64 { return 0 },
		DecayInterval:               time.Second,
		DecayToZero:                 0.01,
		RetainScore:                 10 * time.Minute,
		BehaviourPenaltyWeight:      -1,
		BehaviourPenaltyDecay:       0.9,
		BehaviourPenaltyThreshold:   1,
		IPColocationFactorWeight:    0,
		IPColocationFactorThreshold: 1,
		SkipAtomicValidation:        true,
	}
	gsParams := pubsub.DefaultGossipSubParams()
	// The Keeper already dials every member; without this, GossipSub
	// sleeps a second in a goroutine that outlives a quick Close.
	gsParams.DirectConnectInitialDelay = 0
	gsParams.MaxIHaveLength = MaxMessagesPerRPC
	opts := []pubsub.Option{
		pubsub.WithGossipSubParams(gsParams),
		pubsub.WithFloodPublish(true),
		pubsub.WithDirectPeers(o.Direct),
		// Every message Caravan gossips carries its own signature (a
		// statement, a signed checkpoint note) that validators check
		// against the roster, and only members can connect: GossipSub's
		// own signature would be a second Ed25519 signature to verify per
		// message and hop, saying less. As in Ethereum's consensus layer,
		// messages are unsigned and anonymous, and a message's id is a
		// hash of its content (a topic may use a content id of its own).
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(contentID),
		pubsub.WithMaxMessageSize(MaxGossipMessage),
		pubsub.WithPeerScore(params, scoreThresholds),
		pubsub.WithValidateQueueSize(ValidateQueue),
		pubsub.WithAppSpecificRpcInspector(func(p peer.ID, rpc *pubsub.RPC) error {
			if n := len(rpc.GetPublish()); n > MaxMessagesPerRPC {
				return fmt.Errorf("an RPC of %d messages from %s: the limit is %d", n, p, MaxMessagesPerRPC)
			}
			return nil
		}),
	}
	if o.Drops != nil {
		opts = append(opts, pubsub.WithRawTracer(o.Drops))
	}
	if o.ScoreInspect != nil {
		opts = append(opts, pubsub.WithPeerScoreInspect(o.ScoreInspect, 200*time.Millisecond))
	}
	// Each peer's streams are read at most GossipBytesPerSecond
	// (throttledHost).
	return pubsub.NewGossipSub(ctx, throttleInbound(h, GossipBytesPerSecond, GossipBytesBurst), opts...)
}

// contentID is a message's id: the SHA-256 of its data.
func contentID(m *pb.Message) string {
	sum := sha256.Sum256(m.GetData())
	return string(sum[:])
}
