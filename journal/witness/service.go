// Package witness is the journal's network side: it gossips this org's
// checkpoints, mirrors the other members' logs over libp2p HTTP (verifying
// every checkpoint against what it verified before), cosigns what it
// verified when this org is a witness, and serves its own log, its mirrors
// and the checkpoint notes it holds (with every cosignature merged) to the
// others. Contradicting checkpoints raise fork alerts, with both notes kept
// as evidence.
//
// Package journal, beside it, holds the logs, formats and rules and imports
// no libp2p; this package brings them onto the network.
//
// Protocols, on one libp2p HTTP server:
//
//	/caravan/journal/1.0.0    GET /ORG/PATH   a log in the tlog-tiles layout
//	/caravan/witnessed/1.0.0  GET /ORG/SIZE   the checkpoint note held for
//	                                          ORG's log at SIZE (mounted at
//	                                          /.witnessed/, a path no org
//	                                          name can take)
//
// and one gossip topic, Topic(consortium), of signed checkpoint notes.
package witness

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	libp2phttp "github.com/libp2p/go-libp2p/p2p/http"
	"go.uber.org/zap"
	"golang.org/x/mod/sumdb/note"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/p2p"
)

// Protocols of the service.
const (
	// JournalProtocol serves every log this gateway holds (its own and its
	// mirrors) in the tlog-tiles layout over libp2p HTTP, at /ORG/.
	JournalProtocol = protocol.ID("/caravan/journal/1.0.0")
	// WitnessedProtocol serves the checkpoint notes this gateway holds,
	// with every signature it merged, at /ORG/SIZE (witnessed.go), mounted
	// at /.witnessed/ on the same libp2p HTTP server.
	WitnessedProtocol = protocol.ID("/caravan/witnessed/1.0.0")
)

// Topic is the gossip topic of a consortium's journal checkpoints.
func Topic(consortium string) string { return "/caravan/" + consortium + "/journal/1" }

// Timings and bounds.
const (
	checkpointPoll   = 100 * time.Millisecond
	journalHeartbeat = 3 * time.Second // re-announce the newest checkpoint
	journalCatchUp   = 5 * time.Second // pull each member's checkpoint
	witnessedPrune   = time.Minute     // bound the witnessed-checkpoint store
	// witnessedKeep is how many checkpoint notes of each log the witnessed
	// store keeps (with the newest witnessed one). A log that is appended to
	// all the time signs a checkpoint every 100 ms: unpruned, that was a
	// file per member per checkpoint, some 860,000 a day. 256 notes are 25 s
	// of such a log, long enough for the cosignatures of a checkpoint, or a
	// second checkpoint of the same size (a fork), to meet its note.
	witnessedKeep = 256
	maxNoteSize   = 16 << 10
	// requestTimeout bounds one request to a member's journal server,
	// body included.
	requestTimeout = 10 * time.Second
	// A member's gateway forwards the others' checkpoints too: with 20
	// members checkpointing every 100 ms and cosigning, an honest peer sends
	// a few dozen notes a second at most.
	notesPerSecond = 50
	notesBurst     = 200
)

// servedPaths is where every gateway serves its protocols.
var servedPaths = libp2phttp.PeerMeta{JournalProtocol: {Path: "/"}, WitnessedProtocol: {Path: "/.witnessed/"}}

// Dirs are the journal's directories in a gateway's data directory.
type Dirs struct {
	Mirror    func(string) string // a member's mirror, by org
	Witnessed string              // checkpoint notes, with the signatures merged
	Alerts    string              // fork evidence
}

// Config configures New. All fields are required but Logger and OnFork.
type Config struct {
	Host   host.Host
	PubSub *pubsub.PubSub
	Org    string
	// Log is this org's journal; the caller closes it after the service.
	Log *journal.Log
	// Key is this org's journal key: it cosigns others' checkpoints when
	// the roster makes this org a witness.
	Key ed25519.PrivateKey
	// Roster returns the roster in force.
	Roster func() *consortium.Index
	Dirs   Dirs
	Logger *zap.Logger
	// OnFork, if set, is called once for each fork alert raised.
	OnFork func()
	// OnWitnessed, if set, is called once for each checkpoint of this org
	// that reaches the cosignatures the roster requires, with the time
	// since the service first announced it.
	OnWitnessed func(time.Duration)
}

// Service runs the journal's network side of one gateway.
type Service struct {
	cfg       Config
	origin    string
	cosigner  note.Signer
	witnessed *journal.Witnessed
	log       *zap.Logger

	httpHost *libp2phttp.Host
	topic    *pubsub.Topic
	sub      *pubsub.Subscription

	mu         sync.Mutex
	mirrors    map[string]*journal.Mirror
	trustOf    *consortium.Roster // the roster trustCache was derived from
	trustCache *journal.Trust
	clients    map[clientKey]*http.Client

	rates  *p2p.PeerRates // gossiped checkpoint notes, per forwarding peer
	timing timing
	// verdicts are the validator's on others' notes; announced counts
	// this org's notes gossiped (metrics).
	verdicts  p2p.Verdicts
	announced atomic.Uint64
	updates   chan update
	alerts    atomic.Uint64
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	once      sync.Once
}

type update struct {
	org string
	raw []byte
}

type clientKey struct {
	proto protocol.ID
	peer  peer.ID
}

// New serves the logs over libp2p HTTP, joins the journal topic and starts
// the loops that announce, mirror, cosign and catch up. Close stops it.
func New(cfg Config) (_ *Service, err error) {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	r := cfg.Roster().Roster()
	s := &Service{cfg: cfg, origin: journal.Origin(r.Consortium, cfg.Org), log: cfg.Logger,
		mirrors: map[string]*journal.Mirror{}, clients: map[clientKey]*http.Client{}, updates: make(chan update, 256),
		rates: &p2p.PeerRates{PerSecond: notesPerSecond, Burst: notesBurst}}
	if s.cosigner, err = journal.NewCosigner(journal.WitnessName(r.Consortium, cfg.Org), cfg.Key); err != nil {
		return nil, err
	}
	if s.witnessed, err = journal.OpenWitnessed(cfg.Dirs.Witnessed); err != nil {
		return nil, err
	}
	if held, err := journal.Alerts(cfg.Dirs.Alerts); err == nil { // the count survives a restart
		s.alerts.Store(uint64(len(held)))
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	s.httpHost = &libp2phttp.Host{StreamHost: cfg.Host}
	s.httpHost.SetHTTPHandlerAtPath(JournalProtocol, "/", http.HandlerFunc(s.serveLogs))
	// Org names never start with a dot, so this path cannot shadow a log's.
	s.httpHost.SetHTTPHandlerAtPath(WitnessedProtocol, "/.witnessed/", http.HandlerFunc(s.serveWitnessed))
	// Every gateway serves the same mapping: the clients use it as known,
	// instead of asking each peer for its .well-known resource (a request
	// with no bound of ours, and libp2phttp makes its cache unsafely on
	// first use).
	s.httpHost.SetPeerMetadata(cfg.Host.ID(), servedPaths)
	topic := Topic(r.Consortium)
	if err = cfg.PubSub.RegisterTopicValidator(topic, s.validate); err != nil {
		return nil, err
	}
	if s.topic, err = cfg.PubSub.Join(topic); err != nil {
		return nil, err
	}
	if s.sub, err = s.topic.Subscribe(pubsub.WithBufferSize(p2p.SubscribeBuffer)); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(5)
	go func() { defer s.wg.Done(); _ = s.httpHost.Serve() }()
	go s.announceLoop(ctx)
	go s.receiveLoop(ctx)
	go s.mirrorLoop(ctx)
	go s.catchUpLoop(ctx)
	return s, nil
}

// Close stops the service and waits for its goroutines. It may be called
// more than once.
func (s *Service) Close() error {
	var err error
	s.once.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		if s.sub != nil {
			s.sub.Cancel()
		}
		if s.httpHost != nil {
			err = s.httpHost.Close()
		}
		s.wg.Wait()
		if s.topic != nil {
			_ = s.topic.Close()
			_ = s.cfg.PubSub.UnregisterTopicValidator(s.topic.String())
		}
	})
	return err
}

// trust is the journal trust of the roster in force, derived once per
// roster (every gossiped checkpoint is checked against it).
func (s *Service) trust() (*journal.Trust, error) {
	r := s.cfg.Roster().Members() // an org's nodes as its delegation lists them, if it has one
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.trustOf != r {
		t, err := journal.TrustOf(r.Consortium, r)
		if err != nil {
			return nil, err
		}
		s.trustOf, s.trustCache = r, t
	}
	return s.trustCache, nil
}

// alert records a fork: an error log, a count, and both signed checkpoints
// in the alerts directory.
func (s *Service) alert(err error) {
	var fe *journal.ForkError
	if !errors.As(err, &fe) {
		s.log.Warn("journal", zap.Error(err))
		return
	}
	res, werr := journal.SaveAlert(s.cfg.Dirs.Alerts, fe, time.Now())
	switch {
	case res.New:
		s.alerts.Add(1)
		s.log.Error("LOG FORK: a member's journal shows two inconsistent checkpoints; both are kept as evidence",
			zap.String("origin", fe.Origin), zap.String("reason", fe.Reason), zap.String("evidence", res.Path), zap.NamedError("save", werr))
		if s.cfg.OnFork != nil {
			s.cfg.OnFork()
		}
	case werr != nil && !errors.Is(werr, journal.ErrAlertsFull):
		s.log.Error("LOG FORK: the evidence could not be saved", zap.String("origin", fe.Origin), zap.String("reason", fe.Reason), zap.Error(werr))
	case res.Conflicts&(res.Conflicts-1) == 0 && res.Conflicts > 1: // 2, 4, 8, ...: a flood logs little
		s.log.Warn("more checkpoints contradict a fork already alerted",
			zap.String("origin", fe.Origin), zap.Int("conflicting", res.Conflicts), zap.String("evidence", res.Path), zap.NamedError("save", werr))
	}
}

// isWitness reports whether the roster in force makes this org a witness.
func (s *Service) isWitness() bool {
	for _, w := range s.cfg.Roster().Roster().Witnesses() {
		if w == s.cfg.Org {
			return true
		}
	}
	return false
}

// Status is this org's log, its witnessing, and the mirrors.
func (s *Service) Status() journal.Status {
	st := journal.Status{Origin: s.origin, Alerts: s.alerts.Load()}
	sizes := s.witnessed.Sizes(s.cfg.Org)
	if len(sizes) > 0 {
		st.Size = sizes[len(sizes)-1]
		if raw, err := s.witnessed.Get(s.cfg.Org, st.Size); err == nil {
			if t, err := s.trust(); err == nil {
				_, st.Cosigs, st.Witness, _ = t.Check(raw)
			}
		}
	}
	for _, m := range s.cfg.Roster().Roster().Members {
		if m.Org == s.cfg.Org {
			continue
		}
		ms := journal.MirrorStatus{Org: m.Org, Heard: s.timing.heardOf(m.Org)}
		if mr, err := journal.OpenMirror(s.cfg.Dirs.Mirror(m.Org), "", nil); err == nil {
			_, ms.Size = mr.Latest()
		}
		st.Mirrors = append(st.Mirrors, ms)
	}
	return st
}
