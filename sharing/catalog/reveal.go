package catalog

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// RevealProtocol lets a member ask an owner for a statement that the owner
// announced sealed (catalog-protocol.md):
//
//	requester -> {"statement": CID}            the CID a sealed statement names
//	owner     -> the statement (wire bytes)    if its discover policy permits
//	             or {"error": "..."}           (the decision is the owner's to journal)
//
// Each message is one frame.
const RevealProtocol = "/caravan/reveal/1.0.0"

const (
	revealDeadline = 10 * time.Second
	// A refused reveal is asked again this much later (the owner's
	// policies or the roster may have changed).
	revealRetry = 5 * time.Minute
	// revealsPerSecond bounds each peer's reveal requests at an owner.
	revealsPerSecond = 20
	revealsBurst     = 200
)

type revealRequest struct {
	Statement string `json:"statement"`
}

type revealRefusal struct {
	Error string `json:"error"`
}

// ErrNotRevealed is wrapped when an owner does not reveal a statement.
var ErrNotRevealed = errors.New("the owner does not reveal it")

// serveReveal answers a member's request for a sealed statement of this
// org.
func (s *Service) serveReveal(str network.Stream) {
	defer str.Close()
	p := str.Conn().RemotePeer()
	org, ok := s.cfg.Members.OrgOf(p)
	if !ok || !s.revealRates.Allow(p) {
		str.Reset()
		return
	}
	_ = str.SetDeadline(time.Now().Add(revealDeadline))
	var req revealRequest
	if err := readJSON(bufio.NewReader(str), &req); err != nil {
		str.Reset()
		return
	}
	refuse := func(format string, args ...any) {
		b, _ := json.Marshal(revealRefusal{Error: fmt.Sprintf(format, args...)})
		_ = p2p.WriteFrame(str, b)
	}
	id, err := cid.Decode(req.Statement)
	if err != nil {
		refuse("statement %q is not a CID", req.Statement)
		return
	}
	st, ok := s.cat.Statement(id)
	if !ok || !s.cat.Hidden(id) || s.cfg.Disclose == nil {
		refuse("no sealed statement %s here", id) // the same answer whether it exists or not
		return
	}
	if owner, _ := st.Org(); owner != s.cfg.Self {
		refuse("no sealed statement %s here", id)
		return
	}
	if err := s.cfg.Disclose(org, st); err != nil {
		s.log.Debug("a sealed statement not revealed", zap.String("to", org), zap.Stringer("cid", id), zap.Error(err))
		refuse("no sealed statement %s here", id)
		return
	}
	_ = p2p.WriteFrame(str, st.Marshal())
}

// Reveal asks the owner of a sealed statement for the statement it seals,
// and keeps it (hidden: it is never passed on) if the owner reveals it.
func (s *Service) Reveal(ctx context.Context, sealedSt *manifest.Statement) error {
	sl, err := sealedSt.Sealed()
	if err != nil {
		return err
	}
	target, err := cid.Decode(sl.Statement)
	if err != nil {
		return err
	}
	p, ok := p2p.ConnectedPeer(s.cfg.Host, s.nodesOf(sl.Publisher))
	if !ok {
		return fmt.Errorf("no node of %s is connected", sl.Publisher)
	}
	ctx, cancel := context.WithTimeout(ctx, revealDeadline)
	defer cancel()
	str, err := s.cfg.Host.NewStream(ctx, p, RevealProtocol)
	if err != nil {
		return err
	}
	defer str.Close()
	deadline, _ := ctx.Deadline()
	_ = str.SetDeadline(deadline)
	b, _ := json.Marshal(revealRequest{Statement: sl.Statement})
	if err := p2p.WriteFrame(str, b); err != nil {
		return err
	}
	frame, err := p2p.ReadFrame(bufio.NewReader(str), manifest.MaxStatementSize)
	if err != nil {
		return err
	}
	var refusal revealRefusal
	if json.Unmarshal(frame, &refusal) == nil && refusal.Error != "" {
		return fmt.Errorf("%w: %s", ErrNotRevealed, refusal.Error)
	}
	st, err := manifest.DecodeStatement(frame)
	if err != nil {
		return err
	}
	if st.CID() != target {
		return fmt.Errorf("%s answered with statement %s, not %s", sl.Publisher, st.CID(), target)
	}
	if err := s.Verify(st); err != nil {
		return err
	}
	if org, _ := st.Org(); org != sl.Publisher || (st.BodyType() != manifest.TypeManifest && st.BodyType() != manifest.TypeRetraction) {
		return fmt.Errorf("%s revealed a %s of %s", sl.Publisher, st.BodyType(), org)
	}
	if err := s.cat.AddHidden([]*manifest.Statement{st}, nil); err != nil {
		return err
	}
	s.notify(st)
	return nil
}

func (s *Service) nodesOf(org string) []peer.ID {
	var out []peer.ID
	for _, p := range s.cfg.Members.Nodes() {
		if o, ok := s.cfg.Members.OrgOf(p); ok && o == org {
			out = append(out, p)
		}
	}
	return out
}

// revealLoop asks the owners of the sealed statements this catalog holds
// for the statements they seal, now and then and when new ones arrive;
// one an owner refused is asked again after revealRetry.
func (s *Service) revealLoop() {
	defer s.wg.Done()
	refused := map[cid.Cid]time.Time{}
	tick := time.NewTicker(s.cfg.AntiEntropy)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		case <-s.revealNow:
		}
		for _, st := range s.cat.Unrevealed(s.cfg.Self) {
			if at, ok := refused[st.CID()]; ok && time.Since(at) < revealRetry {
				continue
			}
			err := s.Reveal(s.ctx, st)
			switch {
			case err == nil:
				delete(refused, st.CID())
				s.log.Info("a sealed statement revealed to us", zap.Stringer("sealed", st.CID()))
			case errors.Is(err, ErrNotRevealed):
				refused[st.CID()] = time.Now()
			default:
				s.log.Debug("reveal", zap.Stringer("sealed", st.CID()), zap.Error(err))
			}
		}
	}
}
