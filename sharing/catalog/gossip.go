package catalog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// ErrWrongSigner means a statement is signed by a node that the roster does
// not list under the org the statement claims.
var ErrWrongSigner = errors.New("statement signer is not a node of the claimed org")

// Members says which org a node speaks for, from the roster in force.
type Members interface {
	OrgOf(peer.ID) (org string, ok bool)
	// SignerOrg returns the org a statement signed by the key id spells
	// speaks for: its org key's, or a node's.
	SignerOrg(id peer.ID) (org string, ok bool)
	// Nodes lists the other members' nodes.
	Nodes() []peer.ID
	// HasOrg reports whether the roster lists the org.
	HasOrg(org string) bool
}

// Topic returns the gossip topic of a consortium's catalog.
func Topic(consortium string) string { return "/caravan/" + consortium + "/catalog/1" }

// ServiceConfig configures NewService. All fields are required but Log,
// AntiEntropy and OnStatement.
type ServiceConfig struct {
	Host    host.Host
	PubSub  *pubsub.PubSub
	Topic   string // Topic(consortium)
	Catalog *Catalog
	Members Members
	Log     *zap.Logger
	// AntiEntropy is how often the catalog is compared with every
	// connected member; default 30 s. A member is also caught up with as
	// soon as it connects.
	AntiEntropy time.Duration
	// OnStatement, if set, is called with each statement from another
	// member once it is verified and stored (gossip or catch-up).
	OnStatement func(*manifest.Statement)
	// Check, if set, checks a statement from another member beyond its
	// signature and signer (a schema registration's document, say); a
	// statement it fails is refused as a forged one is.
	Check func(*manifest.Statement) error
	// Self is this gateway's org.
	Self string
	// Disclose, if set, decides whether this org reveals one of its sealed
	// statements to org (its discover policy), and journals the decision
	// if it does; an error refuses. Without it nothing is revealed.
	Disclose func(org string, st *manifest.Statement) error
}

// Service is the network side of a gateway's catalog: it announces this
// org's statements, takes in other members' statements from gossip
// (validated) and from the catch-up protocol, and serves catch-up to
// others.
type Service struct {
	cfg   ServiceConfig
	log   *zap.Logger
	cat   *Catalog
	topic *pubsub.Topic
	sub   *pubsub.Subscription
	evSub event.Subscription

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu        sync.Mutex
	catching  map[peer.ID]bool // catch-ups in progress, one per peer
	serving   map[peer.ID]bool // catch-ups answered, one per peer
	rates     *p2p.PeerRates   // gossiped statements, per forwarding peer
	counts    p2p.Verdicts     // the validator's verdicts on others' messages
	announced atomic.Uint64    // this org's statements gossiped
	// signerRates are gossiped statements and their bytes, per signing
	// node: a budget spent only by statements whose signature verifies.
	signerRates *p2p.PeerRates

	revealRates *p2p.PeerRates // reveal requests, per peer
	revealNow   chan struct{}  // a sealed statement arrived
}

// Gossip budgets. Each node that signs statements may have 20 a second
// and 64 KiB a second of them taken in and passed on, in bursts of 500
// and 1 MiB: a burst of publishes is a few hundred statements of a few KiB,
// and a consortium publishes a few a second at most, sustained. Beyond
// that its statements are dropped (not lost to an honest member: catch-up
// brings them). The budget is the signer's, checked once the signature
// verifies, so that the honest members that pass on a flooder's statements
// pass on only its budget, and no one can spend another's budget with
// forgeries. A forwarding peer may also send at most 100 messages a second
// (bursts of 2,000) before any is decoded; its bytes are bounded by the
// transport (p2p.GossipBytesPerSecond).
//
// At 200 statements of 60 KiB a second, with a budget per forwarding peer
// only, an honest fetch fell to 40% of its calm rate; then honest members
// passing the flood on exhausted each other's budgets (the hostile
// scenario). At 256 KiB a second per signer, the honest gossip p99 under
// every attack at once was 1.5-2.4x its calm value; at 64 KiB, 1.1-2x.
const (
	statementsPerSecond     = 20
	statementsBurst         = 500
	statementBytesPerSecond = 64 << 10
	statementBytesBurst     = 1 << 20
	forwardedPerSecond      = 100
	forwardedBurst          = 2000
)

// NewService starts the service. Close stops it; the caller owns the
// catalog and its store.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.AntiEntropy <= 0 {
		cfg.AntiEntropy = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{cfg: cfg, log: cfg.Log, cat: cfg.Catalog, ctx: ctx, cancel: cancel, catching: map[peer.ID]bool{}, serving: map[peer.ID]bool{},
		rates: &p2p.PeerRates{PerSecond: forwardedPerSecond, Burst: forwardedBurst},
		signerRates: &p2p.PeerRates{PerSecond: statementsPerSecond, Burst: statementsBurst,
			BytesPerSecond: statementBytesPerSecond, BytesBurst: statementBytesBurst},
		revealRates: &p2p.PeerRates{PerSecond: revealsPerSecond, Burst: revealsBurst}, revealNow: make(chan struct{}, 1)}
	var err error
	if err = cfg.PubSub.RegisterTopicValidator(cfg.Topic, s.validate); err != nil {
		cancel()
		return nil, err
	}
	if s.topic, err = cfg.PubSub.Join(cfg.Topic, pubsub.WithTopicMessageIdFn(messageID)); err != nil {
		s.Close()
		return nil, err
	}
	if s.sub, err = s.topic.Subscribe(pubsub.WithBufferSize(p2p.SubscribeBuffer)); err != nil {
		s.Close()
		return nil, err
	}
	if s.evSub, err = cfg.Host.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged)); err != nil {
		s.Close()
		return nil, err
	}
	cfg.Host.SetStreamHandler(CatalogProtocol, s.serveCatchUp)
	cfg.Host.SetStreamHandler(RevealProtocol, s.serveReveal)
	s.wg.Add(4)
	go s.receive()
	go s.watchPeers()
	go s.antiEntropy()
	go s.revealLoop()
	// Members connected before the service subscribed made no event.
	for _, p := range cfg.Members.Nodes() {
		if cfg.Host.Network().Connectedness(p) == network.Connected {
			s.startCatchUp(p)
		}
	}
	return s, nil
}

// Catalog returns the catalog the service keeps.
func (s *Service) Catalog() *Catalog { return s.cat }

// Close stops the service and waits for its goroutines. It may be called
// more than once.
func (s *Service) Close() error {
	s.once.Do(func() {
		s.cfg.Host.RemoveStreamHandler(CatalogProtocol)
		s.cfg.Host.RemoveStreamHandler(RevealProtocol)
		s.cancel()
		if s.sub != nil {
			s.sub.Cancel()
		}
		if s.evSub != nil {
			s.evSub.Close()
		}
		s.wg.Wait()
		if s.topic != nil {
			s.topic.Close()
		}
		_ = s.cfg.PubSub.UnregisterTopicValidator(s.cfg.Topic)
	})
	return nil
}

// messageID is the statement's CID: the same statement, however it
// arrives, is one message. In the canonical encoding the body is exactly
// the bytes between `{"body":` and the last `,"sig":"` (sig and signer hold
// no quotes), so the CID is computed without decoding; a message that is
// not canonical gets some id and is rejected by the validator.
func messageID(m *pb.Message) string {
	data := m.GetData()
	const head, tail = `{"body":`, `,"sig":"`
	if bytes.HasPrefix(data, []byte(head)) {
		if end := bytes.LastIndex(data, []byte(tail)); end > len(head) {
			return cids.OfJSON(data[len(head):end]).KeyString()
		}
	}
	sum := sha256.Sum256(data)
	return "invalid:" + string(sum[:])
}

// Verify checks a statement from another member: its signature, and that
// the roster lists its signer under the org it claims.
func (s *Service) Verify(st *manifest.Statement) error {
	if err := st.Verify(); err != nil {
		return err
	}
	org, err := st.Org()
	if err != nil {
		return err
	}
	signer, err := peer.Decode(st.Signer)
	if err != nil {
		return fmt.Errorf("%w: %v", manifest.ErrBadSignature, err)
	}
	if signerOrg, ok := s.cfg.Members.SignerOrg(signer); !ok || signerOrg != org {
		return fmt.Errorf("%w: %s claims org %q, the roster says %q", ErrWrongSigner, st.Signer, org, signerOrg)
	}
	if s.cfg.Check != nil {
		return s.cfg.Check(st)
	}
	return nil
}

// validate is the gossip validator. It rejects (and so penalizes the
// sender) what is malformed, unsigned, mis-signed or signed by a node not
// listed for the claimed org; it ignores what is already known or stale.
func (s *Service) validate(ctx context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	res, why := s.judge(ctx, from, m)
	if from != s.cfg.Host.ID() {
		s.counts.Add(res, why)
	}
	return res
}

// judge is the validator's verdict on a message, and why.
func (s *Service) judge(_ context.Context, from peer.ID, m *pubsub.Message) (pubsub.ValidationResult, string) {
	// A peer beyond its rate is dropped before its message is even
	// decoded.
	if from != s.cfg.Host.ID() && !s.rates.Allow(from) {
		return pubsub.ValidationIgnore, "peer-rate"
	}
	// A signer already over its budget: dropped before its statement is
	// decoded (a flood's 60 KiB statements cost a victim more to decode
	// than anything else it does with them) or its signature checked. The
	// signer the message names is not authenticated yet; Spent spends
	// nothing, so naming another member's node costs that node nothing.
	if from != s.cfg.Host.ID() {
		if name, ok := manifest.NamedSigner(m.Data); ok {
			if signer, err := peer.Decode(name); err == nil && s.signerRates.Spent(signer, len(m.Data)) {
				return pubsub.ValidationIgnore, "signer-budget"
			}
		}
	}
	st, err := manifest.DecodeStatement(m.Data)
	if err != nil {
		s.log.Warn("rejected a malformed catalog message", zap.Stringer("from", from), zap.Error(err))
		return pubsub.ValidationReject, "malformed"
	}
	if from == s.cfg.Host.ID() {
		return pubsub.ValidationAccept, "own" // our own statement, already in the catalog
	}
	if s.cat.Has(st.CID()) {
		return pubsub.ValidationIgnore, "known"
	}
	if err := s.Verify(st); err != nil {
		s.log.Warn("rejected a catalog statement", zap.Stringer("from", from), zap.Stringer("cid", st.CID()), zap.Error(err))
		return pubsub.ValidationReject, "invalid"
	}
	if signer, _ := peer.Decode(st.Signer); !s.signerRates.AllowBytes(signer, len(m.Data)) {
		return pubsub.ValidationIgnore, "signer-budget" // not kept, not passed on
	}
	if org, _ := st.Org(); s.cat.Room(org, len(m.Data)) != nil {
		return pubsub.ValidationIgnore, "quota" // not kept, not passed on
	}
	if st.BodyType() == manifest.TypeManifest {
		m, _ := st.Manifest()
		if _, head, ok := s.cat.Head(m.Publisher, m.Dataset); ok && head.Version >= m.Version {
			return pubsub.ValidationIgnore, "stale" // catch-up still fetches it
		}
	}
	m.ValidatorData = st
	return pubsub.ValidationAccept, "new"
}

func (s *Service) receive() {
	defer s.wg.Done()
	for {
		m, err := s.sub.Next(s.ctx)
		if err != nil {
			return
		}
		st, ok := m.ValidatorData.(*manifest.Statement)
		if !ok || m.ReceivedFrom == s.cfg.Host.ID() {
			continue
		}
		switch err := s.cat.Add(st); {
		case errors.Is(err, ErrKnown):
			continue
		case err != nil:
			s.log.Error("could not store a catalog statement", zap.Stringer("cid", st.CID()), zap.Error(err))
			continue
		}
		s.notify(st)
		s.log.Info("catalog statement received", zap.Stringer("cid", st.CID()), zap.String("type", st.BodyType()), zap.Stringer("from", m.ReceivedFrom))
	}
}

// Announce gossips a statement of this org, which the catalog already
// holds, to the consortium.
func (s *Service) Announce(st *manifest.Statement) error {
	if err := s.topic.Publish(s.ctx, st.Marshal()); err != nil {
		return err
	}
	s.announced.Add(1)
	return nil
}

// Announced is how many statements of this org the service has gossiped.
func (s *Service) Announced() uint64 { return s.announced.Load() }

// watchPeers catches up with each member as soon as it connects.
func (s *Service) watchPeers() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case e, ok := <-s.evSub.Out():
			if !ok {
				return
			}
			ev := e.(event.EvtPeerConnectednessChanged)
			if ev.Connectedness == network.Connected {
				s.startCatchUp(ev.Peer)
			}
		}
	}
}

// antiEntropy compares catalogs with every connected member periodically,
// in case gossip lost something.
func (s *Service) antiEntropy() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.AntiEntropy)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			for _, p := range s.cfg.Members.Nodes() {
				if s.cfg.Host.Network().Connectedness(p) == network.Connected {
					s.startCatchUp(p)
				}
			}
		}
	}
}

func (s *Service) startCatchUp(p peer.ID) {
	if _, ok := s.cfg.Members.OrgOf(p); !ok {
		return
	}
	s.mu.Lock()
	if s.catching[p] || s.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	s.catching[p] = true
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.catching, p)
			s.mu.Unlock()
		}()
		n, err := s.CatchUp(s.ctx, p)
		switch {
		case err != nil && s.ctx.Err() == nil:
			s.log.Debug("catalog catch-up failed", zap.Stringer("peer", p), zap.Error(err))
		case n > 0:
			s.log.Info("catalog caught up", zap.Stringer("peer", p), zap.Int("statements", n))
		}
	}()
}

func (s *Service) notify(st *manifest.Statement) {
	if st.BodyType() == manifest.TypeSealed {
		select {
		case s.revealNow <- struct{}{}:
		default:
		}
	}
	if s.cfg.OnStatement != nil {
		s.cfg.OnStatement(st)
	}
}

// GossipCounts returns how many of other members' gossiped statements the
// validator accepted, rejected and ignored, and why (new, own, peer-rate,
// malformed, known, invalid, signer-budget, quota, stale), since the start.
func (s *Service) GossipCounts() map[p2p.Verdict]uint64 { return s.counts.Counts() }
