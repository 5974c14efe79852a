package witness

import (
	"bytes"
	"context"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/p2p"
)

// validate accepts a gossiped checkpoint note only if a member's log signed
// it and it carries nothing but the signatures Check counts (gateways only
// send cleaned notes, so anything else is dropped rather than passed on),
// and only at an honest member's rate from each forwarding peer.
func (s *Service) validate(_ context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	res, why := s.judge(from, m)
	if from != s.cfg.Host.ID() {
		s.verdicts.Add(res, why)
	}
	return res
}

// judge is the validator's verdict on a note, and why.
func (s *Service) judge(from peer.ID, m *pubsub.Message) (pubsub.ValidationResult, string) {
	if len(m.Data) > maxNoteSize {
		return pubsub.ValidationReject, "too-large"
	}
	if !s.rates.Allow(from) {
		return pubsub.ValidationIgnore, "peer-rate"
	}
	t, err := s.trust()
	if err != nil {
		return pubsub.ValidationIgnore, "no-roster"
	}
	clean, err := t.Clean(m.Data)
	if err != nil {
		return pubsub.ValidationReject, "invalid"
	}
	if !bytes.Equal(clean, m.Data) {
		return pubsub.ValidationIgnore, "unclean" // perhaps signed under another roster's keys
	}
	return pubsub.ValidationAccept, "valid"
}

// GossipCounts returns how many of other members' checkpoint notes the
// validator accepted, rejected and ignored, and why (valid, too-large,
// peer-rate, no-roster, invalid, unclean), since the start.
func (s *Service) GossipCounts() map[p2p.Verdict]uint64 { return s.verdicts.Counts() }

// Announced is how many notes of this org's checkpoints the service has
// gossiped.
func (s *Service) Announced() uint64 { return s.announced.Load() }

// announceLoop gossips this org's checkpoint when it changes, and the newest
// one (with the cosignatures gathered so far) every heartbeat. Messages are
// identified by their content: GossipSub drops a heartbeat that repeats a
// note its peers have seen, and sends one with new cosignatures. It reads
// the checkpoint once per checkpoint interval of the log (100 ms on disk,
// 1 s on cluster storage, where each read is an S3 request).
func (s *Service) announceLoop(ctx context.Context) {
	defer s.wg.Done()
	tick := time.NewTicker(max(checkpointPoll, s.cfg.Log.CheckpointInterval()))
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
		t, err := s.trust()
		if err != nil {
			continue
		}
		merged, err := s.witnessed.Add(s.cfg.Org, s.origin, cp.Size, raw, t.Clean)
		if err != nil {
			s.alert(err)
			continue
		}
		s.timing.announce(cp.Size, time.Now())
		if err := s.topic.Publish(ctx, merged); err == nil {
			s.announced.Add(1)
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
	merged, err := s.witnessed.Add(lk.Org, origin, cp.Size, raw, t.Clean)
	if err != nil {
		s.alert(err)
		return
	}
	if lk.Org == s.cfg.Org {
		s.ownAdded(cp.Size, merged, t)
		return
	}
	s.timing.hear(lk.Org, cp.Size)
	s.log.Debug("checkpoint received", zap.String("of", lk.Org), zap.Uint64("size", cp.Size))
	s.queue(ctx, update{org: lk.Org, raw: raw})
}

// queue hands a member's checkpoint to the mirror loop.
func (s *Service) queue(ctx context.Context, u update) {
	select {
	case s.updates <- u:
	case <-ctx.Done():
	default: // the loop is busy; catch-up will bring it along
	}
}
