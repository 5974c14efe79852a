package witness

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/transparency-dev/tessera/client"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/p2p"
)

// serveLogs answers GET /ORG/PATH from this org's log or a mirror.
func (s *Service) serveLogs(w http.ResponseWriter, r *http.Request) {
	org, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	var dir string
	switch {
	case org == s.cfg.Org:
		// The own log, wherever it is stored (on disk, or on cluster
		// storage, which every node of the org serves alike).
		journal.ServeSource(w, r, s.cfg.Log.Source(), rest)
		return
	case s.cfg.Roster().Roster().Member(org) != nil:
		dir = s.cfg.Dirs.Mirror(org)
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

// mirrorLoop hands each checkpoint to its org's mirror worker: mirrors of
// different members update side by side, so that a slow or stalling
// member's server holds up its own mirror only. A worker that is busy
// keeps only the newest checkpoint waiting.
func (s *Service) mirrorLoop(ctx context.Context) {
	defer s.wg.Done()
	var workers sync.WaitGroup
	defer workers.Wait()
	queues := map[string]chan update{}
	for {
		var u update
		select {
		case <-ctx.Done():
			return
		case u = <-s.updates:
		}
		q, ok := queues[u.org]
		if !ok {
			q = make(chan update, 1)
			queues[u.org] = q
			workers.Go(func() {
				for {
					select {
					case <-ctx.Done():
						return
					case u := <-q:
						s.mirrorUpdate(ctx, u)
					}
				}
			})
		}
		select {
		case q <- u:
		default: // replace the waiting checkpoint with this newer one
			select {
			case <-q:
			default:
			}
			q <- u
		}
	}
}

func (s *Service) mirrorUpdate(ctx context.Context, u update) {
	t, err := s.trust()
	if err != nil {
		return
	}
	lk, ok := t.Log(journal.Origin(s.cfg.Roster().Roster().Consortium, u.org))
	if !ok {
		return
	}
	m, err := s.mirror(u.org, lk)
	if err != nil {
		s.log.Warn("mirror", zap.String("of", u.org), zap.Error(err))
		return
	}
	src, err := s.source(u.org)
	if err != nil {
		return
	}
	uctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	t0 := time.Now()
	cp, advanced, err := m.Update(uctx, src, u.raw)
	s.log.Debug("mirror update", zap.String("of", u.org), zap.Duration("took", time.Since(t0)), zap.Error(err))
	if err != nil {
		var fe *journal.ForkError
		if errors.As(err, &fe) {
			s.alert(err)
		} else {
			s.log.Debug("mirror update failed", zap.String("of", u.org), zap.Error(err))
		}
		return
	}
	if advanced {
		s.log.Debug("mirrored", zap.String("of", u.org), zap.Uint64("size", cp.Size))
	}
	if !s.isWitness() {
		return
	}
	// Cosign a checkpoint once. An owner that missed our cosignature pulls
	// it (pullCosigs): gossip drops a note it has seen, so sending the same
	// note again would not reach it.
	if held, err := s.witnessed.Get(u.org, cp.Size); err == nil && hasCosig(t, held, s.cfg.Org) {
		return
	}
	cosigned, err := journal.Cosign(u.raw, s.cosigner)
	if err != nil {
		return
	}
	merged, err := s.witnessed.Add(u.org, lk.Origin, cp.Size, cosigned, t.Clean)
	if err != nil {
		s.alert(err)
		return
	}
	_ = s.topic.Publish(ctx, merged)
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

func (s *Service) mirror(org string, lk journal.LogKey) (*journal.Mirror, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.mirrors[org]; ok {
		m.UseVerifier(lk.Verifier) // the key in force, rotated or not
		return m, nil
	}
	m, err := journal.OpenMirror(s.cfg.Dirs.Mirror(org), lk.Origin, lk.Verifier)
	if err != nil {
		return nil, err
	}
	s.mirrors[org] = m
	return m, nil
}

// source fetches org's log from one of its connected nodes over libp2p HTTP.
func (s *Service) source(org string) (journal.Source, error) {
	hc, err := s.client(JournalProtocol, org)
	if err != nil {
		return nil, err
	}
	return client.NewHTTPFetcher(&url.URL{Path: "/" + org + "/"}, hc)
}

// client returns an HTTP client for proto on one of org's connected nodes.
func (s *Service) client(proto protocol.ID, org string) (*http.Client, error) {
	p, ok := p2p.ConnectedPeer(s.cfg.Host, s.cfg.Roster().NodesOf(org))
	if !ok {
		return nil, fmt.Errorf("no node of %s is connected", org)
	}
	key := clientKey{proto, p}
	s.mu.Lock()
	hc, ok := s.clients[key]
	s.mu.Unlock()
	if ok {
		return hc, nil
	}
	// The paths are known (servedPaths): making the client asks the peer
	// nothing.
	s.httpHost.SetPeerMetadata(p, maps.Clone(servedPaths)) // replaced, never merged into: no shared map
	c, err := s.httpHost.NamespacedClient(proto, peer.AddrInfo{ID: p})
	if err != nil {
		return nil, err
	}
	if c.Transport == nil {
		return nil, fmt.Errorf("libp2p HTTP client for %s has no transport", org)
	}
	c.Timeout = requestTimeout
	c.Transport = boundedTransport{base: c.Transport}
	s.mu.Lock()
	s.clients[key] = &c
	s.mu.Unlock()
	return &c, nil
}

// catchUpLoop pulls every member's newest checkpoint, and the witnesses'
// cosignatures of ours that we lack, now and then, so that a gateway that
// was offline (and missed the gossip) converges.
func (s *Service) catchUpLoop(ctx context.Context) {
	defer s.wg.Done()
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
			s.pruneWitnessed()
			pruned = time.Now()
		}
		var reads sync.WaitGroup
		for _, m := range s.cfg.Roster().Roster().Members {
			if m.Org == s.cfg.Org {
				continue
			}
			reads.Go(func() { // side by side: one stalling server delays no one else
				src, err := s.source(m.Org)
				if err != nil {
					return
				}
				raw, err := src.ReadCheckpoint(ctx)
				if err == nil {
					s.queue(ctx, update{org: m.Org, raw: raw})
				}
			})
		}
		reads.Wait()
		s.pullCosigs(ctx)
		timer.Reset(journalCatchUp)
	}
}

// pruneWitnessed bounds the witnessed-checkpoint store: it keeps, per
// log, the newest witnessedKeep notes and the newest witnessed one.
func (s *Service) pruneWitnessed() {
	t, err := s.trust()
	if err != nil {
		return
	}
	witnessed := func(raw []byte) bool {
		_, _, ok, err := t.Check(raw)
		return err == nil && ok
	}
	for _, org := range s.witnessed.Orgs() {
		n, err := s.witnessed.Prune(org, witnessedKeep, witnessed)
		if err != nil {
			s.log.Warn("pruning witnessed checkpoints", zap.String("of", org), zap.Error(err))
		} else if n > 0 {
			s.log.Debug("pruned witnessed checkpoints", zap.String("of", org), zap.Int("removed", n))
		}
	}
}
