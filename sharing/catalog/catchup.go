package catalog

import (
	"bufio"
	"bytes"
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

// CatalogProtocol is the catch-up protocol (schemas/catalog-protocol.md):
//
//	requester -> {"summary": {ORG: {"count": N, "digest": B64}, ...}}
//	responder -> {"have": {ORG: [CID, ...], ...}, "more": true}   pages of at most HavePage CIDs,
//	             ...                                               of the orgs whose summary differs,
//	             {"have": {...}}                                   the last without "more"
//	requester -> {"want": [CID, ...]}                 at most MaxWant
//	responder -> one frame per statement (wire bytes), then an empty frame
//
// Each message is one frame: an unsigned-varint length, then JSON, at most
// maxControlFrame. Every statement received is verified as gossip is
// before it is kept. (Version 2: version 1 sent "have" in one frame, which
// outgrew its 4 MiB limit at about 67,000 statements, for good.)
const CatalogProtocol = "/caravan/catalog/2.0.0"

// Limits of the catch-up protocol.
const (
	MaxWant          = 20000
	HavePage         = 1000         // CIDs per "have" frame: about 64 KiB
	maxControlFrame  = 96 << 10     // a summary of a few hundred orgs, a page of CIDs
	maxWantFrame     = MaxWant * 72 // a want list: MaxWant CIDs, quoted
	catchUpDeadline  = 60 * time.Second
	catchUpRoundsMax = 16
	catchUpChunk     = 1000
	// catchUpMemory is reserved in the resource manager for each catch-up
	// stream, either side: read and write buffers, a control frame and a
	// statement frame, the want list.
	catchUpMemory = 2*bufio.MaxScanTokenSize + maxControlFrame + manifest.MaxStatementSize + 2*maxWantFrame
)

type summaryMsg struct {
	Summary map[string]OrgSummary `json:"summary"`
}

type haveMsg struct {
	Have map[string][]string `json:"have"`
	More bool                `json:"more,omitempty"` // another page follows
}

type wantMsg struct {
	Want []string `json:"want"`
}

// CatchUp compares catalogs with p and fetches the statements p holds and
// this gateway does not. It returns how many it added.
func (s *Service) CatchUp(ctx context.Context, p peer.ID) (int, error) {
	added := 0
	for range catchUpRoundsMax {
		n, more, err := s.catchUpRound(ctx, p)
		added += n
		if err != nil || !more {
			return added, err
		}
	}
	return added, nil
}

func (s *Service) catchUpRound(ctx context.Context, p peer.ID) (added int, more bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, catchUpDeadline)
	defer cancel()
	str, err := s.cfg.Host.NewStream(network.WithAllowLimitedConn(ctx, "catalog"), p, CatalogProtocol)
	if err != nil {
		return 0, false, err
	}
	defer func() {
		if err != nil {
			str.Reset()
		} else {
			str.Close()
		}
	}()
	if err := str.Scope().ReserveMemory(catchUpMemory, network.ReservationPriorityMedium); err != nil {
		return 0, false, fmt.Errorf("catch-up: %w", err)
	}
	defer str.Scope().ReleaseMemory(catchUpMemory)
	deadline, _ := ctx.Deadline()
	_ = str.SetDeadline(deadline)
	r := bufio.NewReader(str)

	if err := writeJSON(str, summaryMsg{Summary: s.memberSummary()}); err != nil {
		return 0, false, err
	}
	var want []string
	for page := true; page; {
		var have haveMsg
		if err := readJSON(r, &have); err != nil {
			return 0, false, err
		}
		n := 0
		for _, ids := range have.Have {
			n += len(ids)
		}
		if n > HavePage {
			return 0, false, fmt.Errorf("peer sent a page of %d CIDs, the limit is %d", n, HavePage)
		}
		for _, ids := range have.Have {
			for _, text := range ids {
				id, err := cid.Decode(text)
				if err != nil {
					return 0, false, fmt.Errorf("peer sent a bad CID %q", text)
				}
				if s.cat.Has(id) {
					continue
				}
				if len(want) == MaxWant {
					more = true // the next round asks for the rest
					continue
				}
				want = append(want, text)
			}
		}
		page = have.More
	}
	if err := writeJSON(str, wantMsg{Want: want}); err != nil {
		return 0, false, err
	}
	n, err := s.receiveStatements(r)
	return n, more && err == nil, err
}

// receiveStatements verifies the statements that answer a want, and stores
// them in chunks, one synced write each. It returns how many were new.
func (s *Service) receiveStatements(r *bufio.Reader) (added int, err error) {
	var pending []*manifest.Statement
	flush := func() error {
		n, err := s.cat.AddAll(pending)
		if err != nil {
			return err
		}
		added += n
		for _, st := range pending {
			s.notify(st)
		}
		pending = pending[:0]
		return nil
	}
	for {
		frame, err := p2p.ReadFrame(r, manifest.MaxStatementSize)
		if err != nil {
			return added, errors.Join(err, flush())
		}
		if len(frame) == 0 {
			return added, flush()
		}
		st, err := manifest.DecodeStatement(frame)
		if err == nil {
			err = s.Verify(st)
		}
		if errors.Is(err, ErrWrongSigner) {
			// Signed by a node the roster no longer lists: history the
			// peer holds from before a roster change. Not kept, not fatal.
			continue
		}
		if err != nil {
			return added, errors.Join(fmt.Errorf("peer sent a bad statement: %w", err), flush())
		}
		pending = append(pending, st)
		if len(pending) == catchUpChunk {
			if err := flush(); err != nil {
				return added, err
			}
		}
	}
}

// serveCatchUp answers a member's catch-up: one at a time per peer, with
// its memory reserved in the resource manager.
func (s *Service) serveCatchUp(str network.Stream) {
	p := str.Conn().RemotePeer()
	if _, ok := s.cfg.Members.OrgOf(p); !ok {
		str.Reset()
		return
	}
	s.mu.Lock()
	busy := s.serving[p]
	s.serving[p] = true
	s.mu.Unlock()
	if busy {
		str.Reset() // one catch-up per peer at a time
		return
	}
	defer func() {
		s.mu.Lock()
		delete(s.serving, p)
		s.mu.Unlock()
	}()
	if err := str.Scope().ReserveMemory(catchUpMemory, network.ReservationPriorityMedium); err != nil {
		s.log.Debug("catalog catch-up refused: no memory", zap.Stringer("peer", p), zap.Error(err))
		str.Reset()
		return
	}
	defer str.Scope().ReleaseMemory(catchUpMemory)
	_ = str.SetDeadline(time.Now().Add(catchUpDeadline))
	if err := s.answerCatchUp(str); err != nil {
		s.log.Debug("catalog catch-up request failed", zap.Stringer("peer", str.Conn().RemotePeer()), zap.Error(err))
		str.Reset()
		return
	}
	str.Close()
}

func (s *Service) answerCatchUp(str network.Stream) error {
	r := bufio.NewReader(str)
	var req summaryMsg
	if err := readJSON(r, &req); err != nil {
		return err
	}
	page, n := haveMsg{Have: map[string][]string{}}, 0
	for org, mine := range s.memberSummary() {
		theirs, ok := req.Summary[org]
		if ok && theirs.Count == mine.Count && bytes.Equal(theirs.Digest, mine.Digest) {
			continue
		}
		for _, id := range s.cat.CIDsOf(org) {
			if n == HavePage {
				page.More = true
				if err := writeJSON(str, page); err != nil {
					return err
				}
				page, n = haveMsg{Have: map[string][]string{}}, 0
			}
			page.Have[org] = append(page.Have[org], id.String())
			n++
		}
	}
	if err := writeJSON(str, page); err != nil {
		return err
	}
	var want wantMsg
	if err := readJSONLimit(r, &want, maxWantFrame); err != nil {
		return err
	}
	if len(want.Want) > MaxWant {
		return fmt.Errorf("peer wants %d statements, the limit is %d", len(want.Want), MaxWant)
	}
	w := bufio.NewWriter(str)
	for _, text := range want.Want {
		id, err := cid.Decode(text)
		if err != nil {
			return err
		}
		// Never a hidden one (its CID is public, its content is not), nor
		// one of an org the roster no longer lists.
		if st, ok := s.cat.SharedStatement(id); ok && s.isMembers(st) {
			if err := p2p.WriteFrame(w, st.Marshal()); err != nil {
				return err
			}
		}
	}
	if err := p2p.WriteFrame(w, nil); err != nil {
		return err
	}
	return w.Flush()
}

func writeJSON(str network.Stream, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return p2p.WriteFrame(str, b)
}

func readJSON(r *bufio.Reader, v any) error { return readJSONLimit(r, v, maxControlFrame) }

func readJSONLimit(r *bufio.Reader, v any, limit int) error {
	b, err := p2p.ReadFrame(r, limit)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// isMembers reports whether st is a statement of an org the roster lists.
func (s *Service) isMembers(st *manifest.Statement) bool {
	org, err := st.Org()
	return err == nil && s.cfg.Members.HasOrg(org)
}

// memberSummary is the catalog's summary for the orgs the roster lists:
// statements of removed orgs stay in the catalog but are not synced.
func (s *Service) memberSummary() map[string]OrgSummary {
	out := map[string]OrgSummary{}
	for org, sum := range s.cat.Summary() {
		if s.cfg.Members.HasOrg(org) {
			out[org] = sum
		}
	}
	return out
}
