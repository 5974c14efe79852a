package witness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/journal"
)

// serveWitnessed answers GET /ORG/SIZE with the checkpoint note of ORG's log
// at SIZE as this gateway holds it, every signature it has merged included.
func (s *Service) serveWitnessed(w http.ResponseWriter, r *http.Request) {
	org, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	size, err := strconv.ParseUint(rest, 10, 64)
	if err != nil || s.cfg.Roster().Roster().Member(org) == nil {
		http.NotFound(w, r)
		return
	}
	raw, err := s.witnessed.Get(org, size)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(raw)
}

// pullCosigs asks each connected witness whose cosignature our newest
// checkpoint lacks for its copy of that checkpoint, and merges what it
// signed. Gossip alone cannot repair a missed cosignature: GossipSub drops
// a note it has already seen (messages are identified by their content), so
// a witness sending the same note again would not reach us.
func (s *Service) pullCosigs(ctx context.Context) {
	self := s.cfg.Org
	sizes := s.witnessed.Sizes(self)
	if len(sizes) == 0 {
		return
	}
	size := sizes[len(sizes)-1]
	held, err := s.witnessed.Get(self, size)
	if err != nil {
		return
	}
	t, err := s.trust()
	if err != nil {
		return
	}
	_, have, _, err := t.Check(held)
	if err != nil {
		return
	}
	for _, w := range s.cfg.Roster().Roster().Witnesses() {
		if w == self || slices.ContainsFunc(have, func(c journal.Cosig) bool { return c.Org == w }) {
			continue
		}
		raw, err := s.fetchWitnessed(ctx, w, size)
		if err != nil {
			s.log.Debug("cosignature pull", zap.String("witness", w), zap.Error(err))
			continue
		}
		// Only our own checkpoint, cosigned there: anything else is not an
		// answer to the question (and must not raise a fork alert of ours).
		if !journal.SameCheckpoint(held, raw) || !hasCosig(t, raw, w) {
			continue
		}
		merged, err := s.witnessed.Add(self, s.origin, size, raw, t.Clean)
		if err != nil {
			s.alert(err)
			return
		}
		s.ownAdded(size, merged, t)
	}
}

// fetchWitnessed gets witness's copy of our checkpoint at size.
func (s *Service) fetchWitnessed(ctx context.Context, witness string, size uint64) ([]byte, error) {
	hc, err := s.client(WitnessedProtocol, witness)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("/%s/%d", s.cfg.Org, size), nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s", resp.Status)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxNoteSize+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxNoteSize {
		return nil, fmt.Errorf("note larger than %d bytes", maxNoteSize)
	}
	return raw, nil
}
