package witness

import (
	"context"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/journal"
)

// validate accepts a gossiped checkpoint note only if a member's log signed it.
func (s *Service) validate(_ context.Context, _ peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	if len(m.Data) > maxNoteSize {
		return pubsub.ValidationReject
	}
	t, err := s.trust()
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
func (s *Service) announceLoop(ctx context.Context) {
	defer s.wg.Done()
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
		raw, err := s.cfg.Log.Checkpoint(ctx)
		if err != nil {
			continue
		}
		changed := !journal.SameCheckpoint(raw, last)
		if !changed && time.Since(lastSent) < journalHeartbeat {
			continue
		}
		cp, err := journal.ParseCheckpoint(raw)
		if err != nil {
			continue
		}
		merged, err := s.witnessed.Add(s.cfg.Org, s.origin, cp.Size, raw)
		if err != nil {
			s.alert(err)
			continue
		}
		if err := s.topic.Publish(ctx, merged); err == nil {
			last, lastSent = raw, time.Now()
		}
	}
}

// receiveLoop takes gossiped checkpoints: cosignatures of ours are merged;
// the others' checkpoints go to their mirrors.
func (s *Service) receiveLoop(ctx context.Context) {
	defer s.wg.Done()
	for {
		msg, err := s.sub.Next(ctx)
		if err != nil {
			return
		}
		s.take(ctx, msg.Data)
	}
}

func (s *Service) take(ctx context.Context, raw []byte) {
	t, err := s.trust()
	if err != nil {
		return
	}
	origin, _, _, err := t.Check(raw)
	if err != nil {
		return
	}
	lk, _ := t.Log(origin)
	cp, err := journal.ParseCheckpoint(raw)
	if err != nil {
		return
	}
	if _, err := s.witnessed.Add(lk.Org, origin, cp.Size, raw); err != nil {
		s.alert(err)
		return
	}
	if lk.Org == s.cfg.Org {
		return
	}
	s.log.Debug("checkpoint received", zap.String("of", lk.Org), zap.Uint64("size", cp.Size))
	select {
	case s.updates <- update{org: lk.Org, raw: raw}:
	case <-ctx.Done():
	default: // the mirror is busy; catch-up will bring it along
	}
}
