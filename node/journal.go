package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	libp2phttp "github.com/libp2p/go-libp2p/p2p/http"
	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/tessera/client"
	"go.uber.org/zap"
	"golang.org/x/mod/sumdb/note"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/journal"
)

// Journal layout inside the data directory.
const (
	JournalDir = "journal"
	// JournalProtocol serves every log this gateway holds (its own and its
	// mirrors) in the tlog-tiles layout over libp2p HTTP, at /ORG/.
	JournalProtocol = protocol.ID("/caravan/journal/1.0.0")
	// WitnessedProtocol serves the checkpoint notes this gateway holds, with
	// every signature it merged, at /ORG/SIZE (journal_witnessed.go), mounted
	// at /.witnessed/ on the same libp2p HTTP server.
	WitnessedProtocol = protocol.ID("/caravan/witnessed/1.0.0")
)

// Journal timings.
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
)

// JournalPaths are the directories of a gateway's journal.
type JournalPaths struct{ Root string }

func (p JournalPaths) Log() string              { return filepath.Join(p.Root, "log") }
func (p JournalPaths) Mirror(org string) string { return filepath.Join(p.Root, "mirrors", org) }
func (p JournalPaths) Witnessed() string        { return filepath.Join(p.Root, "witnessed") }
func (p JournalPaths) Alerts() string           { return filepath.Join(p.Root, "alerts") }

// Journal returns the paths of the journal in data directory dir.
func Journal(dir string) JournalPaths { return JournalPaths{Root: filepath.Join(dir, JournalDir)} }

// journalService runs this org's log, mirrors and cosigns the others', and
// gossips checkpoints.
type journalService struct {
	n         *Node
	paths     JournalPaths
	log       *journal.Log
	origin    string
	cosigner  note.Signer
	witnessed *journal.Witnessed
	zlog      *zap.Logger

	httpHost *libp2phttp.Host
	topic    *pubsub.Topic
	sub      *pubsub.Subscription

	mu         sync.Mutex
	mirrors    map[string]*journal.Mirror
	trustOf    *consortium.Roster // the roster trustCache was derived from
	trustCache *journal.Trust
	clients    map[clientKey]*http.Client

	updates chan update
	alerts  atomic.Uint64
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
}

type update struct {
	org string
	raw []byte
}

// openJournal opens this org's log. Networking starts later (startJournalNet).
func (n *Node) openJournal(key crypto.PrivKey) error {
	raw, err := key.Raw()
	if err != nil {
		return err
	}
	priv := ed25519.PrivateKey(raw)
	r := n.roster.Load()
	js := &journalService{n: n, paths: Journal(n.dir), origin: journal.Origin(r.Consortium, n.cfg.Org),
		zlog: n.log.Named("journal"), mirrors: map[string]*journal.Mirror{}, clients: map[clientKey]*http.Client{},
		updates: make(chan update, 256)}
	signer, err := journal.NewLogSigner(js.origin, priv)
	if err != nil {
		return err
	}
	if js.cosigner, err = journal.NewCosigner(journal.WitnessName(r.Consortium, n.cfg.Org), priv); err != nil {
		return err
	}
	if js.witnessed, err = journal.OpenWitnessed(js.paths.Witnessed()); err != nil {
		return err
	}
	if js.log, err = journal.Open(context.Background(), journal.LogConfig{Dir: js.paths.Log(), Origin: js.origin, Signer: signer}); err != nil {
		return err
	}
	n.journal = js
	return nil
}

// Append journals an event of this org; it returns once the entry is durable.
func (n *Node) Append(ctx context.Context, e *journal.Event) (uint64, error) {
	if n.journal == nil {
		return 0, errors.New("the journal is not open")
	}
	e.Org = n.cfg.Org
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	return n.journal.log.Append(ctx, e)
}

// startJournalNet serves the logs over libp2p HTTP, joins the journal topic
// and starts the loops that announce, mirror, cosign and catch up.
func (js *journalService) start(ps *pubsub.PubSub, topic string) error {
	n := js.n
	js.httpHost = &libp2phttp.Host{StreamHost: n.host}
	js.httpHost.SetHTTPHandlerAtPath(JournalProtocol, "/", http.HandlerFunc(js.serve))
	// Org names never start with a dot, so this path cannot shadow a log's.
	js.httpHost.SetHTTPHandlerAtPath(WitnessedProtocol, "/.witnessed/", http.HandlerFunc(js.serveWitnessed))
	var err error
	if err = ps.RegisterTopicValidator(topic, js.validate); err != nil {
		return err
	}
	if js.topic, err = ps.Join(topic); err != nil {
		return err
	}
	if js.sub, err = js.topic.Subscribe(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	js.cancel = cancel
	js.wg.Add(4)
	go func() { defer js.wg.Done(); _ = js.httpHost.Serve() }()
	go js.announceLoop(ctx)
	go js.receiveLoop(ctx)
	go js.mirrorLoop(ctx)
	js.wg.Add(1)
	go js.catchUpLoop(ctx)
	return nil
}

func (js *journalService) close() error {
	if js == nil {
		return nil
	}
	var errs []error
	js.once.Do(func() {
		if js.cancel != nil {
			js.cancel()
		}
		if js.sub != nil {
			js.sub.Cancel()
		}
		if js.httpHost != nil {
			errs = append(errs, js.httpHost.Close())
		}
		js.wg.Wait()
		if js.topic != nil {
			_ = js.topic.Close()
		}
		errs = append(errs, js.log.Close())
	})
	return errors.Join(errs...)
}

// serve answers GET /ORG/PATH from this org's log or a mirror.
func (js *journalService) serve(w http.ResponseWriter, r *http.Request) {
	org, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	var dir string
	switch {
	case org == js.n.cfg.Org:
		dir = js.paths.Log()
	case js.n.roster.Load().Member(org) != nil:
		dir = js.paths.Mirror(org)
	default:
		http.NotFound(w, r)
		return
	}
	if rest == "" || strings.Contains(rest, "..") || strings.HasPrefix(rest, ".") {
		http.NotFound(w, r)
		return
	}
	http.ServeFile(w, r, filepath.Join(dir, filepath.FromSlash(rest)))
}

// trust is the journal trust of the roster in force, derived once per
// roster (every gossiped checkpoint is checked against it).
func (js *journalService) trust() (*journal.Trust, error) {
	r := js.n.roster.Load()
	js.mu.Lock()
	defer js.mu.Unlock()
	if js.trustOf != r {
		t, err := JournalTrust(r)
		if err != nil {
			return nil, err
		}
		js.trustOf, js.trustCache = r, t
	}
	return js.trustCache, nil
}

// validate accepts a gossiped checkpoint note only if a member's log signed it.
func (js *journalService) validate(_ context.Context, _ peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	if len(m.Data) > maxNoteSize {
		return pubsub.ValidationReject
	}
	t, err := js.trust()
	if err != nil {
		return pubsub.ValidationIgnore
	}
	if _, _, _, err := t.Check(m.Data); err != nil {
		return pubsub.ValidationReject
	}
	return pubsub.ValidationAccept
}

// announceLoop gossips this org's checkpoint when it changes, and the newest
// one (with the cosignatures gathered so far) every heartbeat. Messages are
// identified by their content: GossipSub drops a heartbeat that repeats a
// note its peers have seen, and sends one with new cosignatures.
func (js *journalService) announceLoop(ctx context.Context) {
	defer js.wg.Done()
	tick := time.NewTicker(checkpointPoll)
	defer tick.Stop()
	var last []byte
	var lastSent time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		raw, err := js.log.Checkpoint(ctx)
		if err != nil {
			continue
		}
		changed := !journal.SameCheckpoint(raw, last)
		if !changed && time.Since(lastSent) < journalHeartbeat {
			continue
		}
		cp, err := parseCheckpoint(raw)
		if err != nil {
			continue
		}
		merged, err := js.witnessed.Add(js.n.cfg.Org, js.origin, cp.Size, raw)
		if err != nil {
			js.alert(err)
			continue
		}
		if err := js.topic.Publish(ctx, merged); err == nil {
			last, lastSent = raw, time.Now()
		}
	}
}

func parseCheckpoint(raw []byte) (*log.Checkpoint, error) {
	var c log.Checkpoint
	text := raw
	if i := strings.Index(string(raw), "\n\n"); i >= 0 {
		text = raw[:i+1]
	}
	if _, err := c.Unmarshal(text); err != nil {
		return nil, err
	}
	return &c, nil
}

// receiveLoop takes gossiped checkpoints: cosignatures of ours are merged;
// the others' checkpoints go to their mirrors.
func (js *journalService) receiveLoop(ctx context.Context) {
	defer js.wg.Done()
	for {
		msg, err := js.sub.Next(ctx)
		if err != nil {
			return
		}
		js.take(ctx, msg.Data)
	}
}

func (js *journalService) take(ctx context.Context, raw []byte) {
	t, err := js.trust()
	if err != nil {
		return
	}
	origin, _, _, err := t.Check(raw)
	if err != nil {
		return
	}
	lk, _ := t.Log(origin)
	cp, err := parseCheckpoint(raw)
	if err != nil {
		return
	}
	if _, err := js.witnessed.Add(lk.Org, origin, cp.Size, raw); err != nil {
		js.alert(err)
		return
	}
	if lk.Org == js.n.cfg.Org {
		return
	}
	js.zlog.Debug("checkpoint received", zap.String("of", lk.Org), zap.Uint64("size", cp.Size))
	select {
	case js.updates <- update{org: lk.Org, raw: raw}:
	case <-ctx.Done():
	default: // the mirror is busy; catch-up will bring it along
	}
}

// mirrorLoop updates mirrors one checkpoint at a time, and cosigns what it
// verified.
func (js *journalService) mirrorLoop(ctx context.Context) {
	defer js.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case u := <-js.updates:
			js.mirrorUpdate(ctx, u)
		}
	}
}

func (js *journalService) mirrorUpdate(ctx context.Context, u update) {
	t, err := js.trust()
	if err != nil {
		return
	}
	lk, ok := t.Log(journal.Origin(js.n.roster.Load().Consortium, u.org))
	if !ok {
		return
	}
	m, err := js.mirror(u.org, lk)
	if err != nil {
		js.zlog.Warn("mirror", zap.String("of", u.org), zap.Error(err))
		return
	}
	src, err := js.source(u.org)
	if err != nil {
		return
	}
	uctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	t0 := time.Now()
	cp, advanced, err := m.Update(uctx, src, u.raw)
	js.zlog.Debug("mirror update", zap.String("of", u.org), zap.Duration("took", time.Since(t0)), zap.Error(err))
	if err != nil {
		var fe *journal.ForkError
		if errors.As(err, &fe) {
			js.alert(err)
		} else {
			js.zlog.Debug("mirror update failed", zap.String("of", u.org), zap.Error(err))
		}
		return
	}
	if advanced {
		js.zlog.Debug("mirrored", zap.String("of", u.org), zap.Uint64("size", cp.Size))
	}
	if !js.isWitness() {
		return
	}
	// Cosign a checkpoint once. An owner that missed our cosignature pulls
	// it (pullCosigs): gossip drops a note it has seen, so sending the same
	// note again would not reach it.
	self := js.n.cfg.Org
	if held, err := js.witnessed.Get(u.org, cp.Size); err == nil && hasCosig(t, held, self) {
		return
	}
	cosigned, err := journal.Cosign(u.raw, js.cosigner)
	if err != nil {
		return
	}
	merged, err := js.witnessed.Add(u.org, lk.Origin, cp.Size, cosigned)
	if err != nil {
		js.alert(err)
		return
	}
	_ = js.topic.Publish(ctx, merged)
}

// hasCosig reports whether a checkpoint note carries org's valid cosignature.
func hasCosig(t *journal.Trust, raw []byte, org string) bool {
	_, cosigs, _, err := t.Check(raw)
	if err != nil {
		return false
	}
	for _, c := range cosigs {
		if c.Org == org {
			return true
		}
	}
	return false
}

func (js *journalService) isWitness() bool {
	for _, w := range js.n.roster.Load().Witnesses() {
		if w == js.n.cfg.Org {
			return true
		}
	}
	return false
}

func (js *journalService) mirror(org string, lk journal.LogKey) (*journal.Mirror, error) {
	js.mu.Lock()
	defer js.mu.Unlock()
	if m, ok := js.mirrors[org]; ok {
		return m, nil
	}
	m, err := journal.OpenMirror(js.paths.Mirror(org), lk.Origin, lk.Verifier)
	if err != nil {
		return nil, err
	}
	js.mirrors[org] = m
	return m, nil
}

// source fetches org's log from one of its connected nodes over libp2p HTTP.
func (js *journalService) source(org string) (journal.Source, error) {
	hc, err := js.client(JournalProtocol, org)
	if err != nil {
		return nil, err
	}
	return client.NewHTTPFetcher(&url.URL{Path: "/" + org + "/"}, hc)
}

type clientKey struct {
	proto protocol.ID
	peer  peer.ID
}

// client returns an HTTP client for proto on one of org's connected nodes.
func (js *journalService) client(proto protocol.ID, org string) (*http.Client, error) {
	m := js.n.roster.Load().Member(org)
	if m == nil {
		return nil, fmt.Errorf("org %s is not in the roster", org)
	}
	for _, nd := range m.Nodes {
		p, err := peer.Decode(nd.PeerID)
		if err != nil || js.n.host.Network().Connectedness(p) != network.Connected {
			continue
		}
		key := clientKey{proto, p}
		js.mu.Lock()
		hc, ok := js.clients[key]
		js.mu.Unlock()
		if !ok {
			c, err := js.httpHost.NamespacedClient(proto, peer.AddrInfo{ID: p})
			if err != nil {
				return nil, err
			}
			c.Timeout = 20 * time.Second
			hc = &c
			js.mu.Lock()
			js.clients[key] = hc
			js.mu.Unlock()
		}
		return hc, nil
	}
	return nil, fmt.Errorf("no node of %s is connected", org)
}

// catchUpLoop pulls every member's newest checkpoint, and the witnesses'
// cosignatures of ours that we lack, now and then, so that a gateway that
// was offline (and missed the gossip) converges.
func (js *journalService) catchUpLoop(ctx context.Context) {
	defer js.wg.Done()
	timer := time.NewTimer(time.Second)
	defer timer.Stop()
	var pruned time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if time.Since(pruned) >= witnessedPrune {
			js.pruneWitnessed()
			pruned = time.Now()
		}
		for _, m := range js.n.roster.Load().Members {
			if m.Org == js.n.cfg.Org {
				continue
			}
			src, err := js.source(m.Org)
			if err != nil {
				continue
			}
			fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			raw, err := src.ReadCheckpoint(fctx)
			cancel()
			if err != nil {
				continue
			}
			js.mirrorUpdate(ctx, update{org: m.Org, raw: raw})
		}
		js.pullCosigs(ctx)
		timer.Reset(journalCatchUp)
	}
}

// pruneWitnessed bounds the witnessed-checkpoint store: it keeps, per
// log, the newest witnessedKeep notes and the newest witnessed one.
func (js *journalService) pruneWitnessed() {
	t, err := js.trust()
	if err != nil {
		return
	}
	witnessed := func(raw []byte) bool {
		_, _, ok, err := t.Check(raw)
		return err == nil && ok
	}
	for _, org := range js.witnessed.Orgs() {
		n, err := js.witnessed.Prune(org, witnessedKeep, witnessed)
		if err != nil {
			js.zlog.Warn("pruning witnessed checkpoints", zap.String("of", org), zap.Error(err))
		} else if n > 0 {
			js.zlog.Debug("pruned witnessed checkpoints", zap.String("of", org), zap.Int("removed", n))
		}
	}
}

// alert records a fork: an error log, a counter, and both signed
// checkpoints in DIR/journal/alerts.
func (js *journalService) alert(err error) {
	var fe *journal.ForkError
	if !errors.As(err, &fe) {
		js.zlog.Warn("journal", zap.Error(err))
		return
	}
	js.alerts.Add(1)
	path, werr := journal.SaveAlert(js.paths.Alerts(), fe, time.Now())
	js.zlog.Error("LOG FORK: a member's journal shows two inconsistent checkpoints; both are kept as evidence",
		zap.String("origin", fe.Origin), zap.String("reason", fe.Reason), zap.String("evidence", path), zap.NamedError("save", werr))
	js.n.metrics.journalFork()
}

// JournalStatus is the journal part of Status.
type JournalStatus struct {
	Origin  string          `json:"origin"`
	Size    uint64          `json:"size"`
	Cosigs  []journal.Cosig `json:"cosigs"` // on the newest checkpoint of our log
	Witness bool            `json:"witnessed"`
	Mirrors []MirrorStatus  `json:"mirrors"`
	Alerts  uint64          `json:"alerts"`
}

// MirrorStatus is one mirrored log.
type MirrorStatus struct {
	Org  string `json:"org"`
	Size uint64 `json:"size"`
}

func (js *journalService) status() JournalStatus {
	st := JournalStatus{Origin: js.origin, Alerts: js.alerts.Load()}
	sizes := js.witnessed.Sizes(js.n.cfg.Org)
	if len(sizes) > 0 {
		st.Size = sizes[len(sizes)-1]
		if raw, err := js.witnessed.Get(js.n.cfg.Org, st.Size); err == nil {
			if t, err := js.trust(); err == nil {
				_, st.Cosigs, st.Witness, _ = t.Check(raw)
			}
		}
	}
	for _, m := range js.n.roster.Load().Members {
		if m.Org == js.n.cfg.Org {
			continue
		}
		ms := MirrorStatus{Org: m.Org}
		if mr, err := journal.OpenMirror(js.paths.Mirror(m.Org), "", nil); err == nil {
			_, ms.Size = mr.Latest()
		}
		st.Mirrors = append(st.Mirrors, ms)
	}
	return st
}
