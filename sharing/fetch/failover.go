package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/internal/atomicfile"
)

// An organization may run several nodes. A fetch that loses the node it
// asks (the connection breaks: the node stopped or died) keeps what it
// verified and resumes through a node of the provider's org as soon as
// one is connected (another one, or the same one back). A provider with one node, a refusal, a response
// that fails verification or a cancel end the fetch as before, with its
// resume point kept for the next try.

// FailoverWait bounds how long a fetch that lost its provider's node waits
// for another node of the provider's org to be connected.
const FailoverWait = 20 * time.Second

// maxFailovers bounds how often one fetch moves to another node.
const maxFailovers = 3

// failoverPoll is how often a fetch that lost its node looks for another.
const failoverPoll = 100 * time.Millisecond

// ask asks the provider for opts (from opts.From), moving to another node
// of the provider's org when the one asked is lost. It returns the last
// request's result, where that request started, and the nodes asked.
func (r *Requester) ask(ctx context.Context, t *Target, ref, resume string, opts Options) (*Result, uint64, []string, error) {
	var served []string
	for n := 0; ; n++ {
		served = append(served, t.Peer.String())
		res, err := r.cfg.Client.Fetch(ctx, t.Peer, t.Manifest, opts)
		if err == nil || n == maxFailovers || t.Nodes < 2 || !lostNode(ctx, err) {
			return res, opts.From, served, err
		}
		// The node may still look connected: over QUIC a killed node sends
		// nothing, and its connection lives until its idle timeout. Drop it,
		// so that only a node that answers a dial again is asked.
		_ = r.cfg.Client.Host.Network().ClosePeer(t.Peer)
		next, werr := r.awaitNode(ctx, ref)
		if werr != nil {
			return res, opts.From, served, err
		}
		if res != nil && res.Next > opts.From {
			opts.From = res.Next
			data, _ := json.Marshal(resumeState{Next: res.Next})
			_ = os.MkdirAll(filepath.Dir(resume), 0o700)
			_ = atomicfile.Write(resume, data, 0o600)
		}
		r.cfg.Log.Warn("lost the provider's node during a fetch; resuming through a node of its org",
			zap.Stringer("lost", t.Peer), zap.Stringer("node", next.Peer), zap.Uint64("from", opts.From), zap.Error(err))
		t.Peer = next.Peer
	}
}

// lostNode says whether err is the loss of the node asked, not an answer.
func lostNode(ctx context.Context, err error) bool {
	var refused *RefusedError
	var tampered *TamperError
	switch {
	case ctx.Err() != nil, errors.As(err, &refused), errors.As(err, &tampered):
		return false
	}
	for _, answer := range []error{ErrFrame, ErrTampered, ErrProof, ErrReplay, ErrStale, ErrBudget, ErrNotMember, ErrBusy,
		ErrNotProvider, ErrNoCheckpoint} {
		if errors.Is(err, answer) {
			return false
		}
	}
	return true
}

// awaitNode waits, at most FailoverWait, until a node of the org that
// provides ref is connected (the connection to the node lost was closed:
// if that one is connected again, it answered a new dial), and returns it.
func (r *Requester) awaitNode(ctx context.Context, ref string) (Target, error) {
	ctx, cancel := context.WithTimeout(ctx, FailoverWait)
	defer cancel()
	t := time.NewTicker(failoverPoll)
	defer t.Stop()
	for {
		next, err := r.cfg.Resolve(ctx, ref)
		if err == nil {
			return next, nil
		}
		select {
		case <-ctx.Done():
			return Target{}, err
		case <-t.C:
		}
	}
}
