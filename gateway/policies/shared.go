package policies

import (
	"bytes"
	"context"
	"maps"
	"time"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/policy"
)

// Shared is where the nodes of an organization on cluster storage share
// their policy files: the files of the last bundle put in force from a
// policy directory on any node (an upload, or files edited in place), and
// the bundle's CID. Every node follows it, so every node decides with the
// same bundle.
type Shared interface {
	SharedPolicy() (bundle string, files map[string][]byte, err error)
	ShareBundle(bundle string, files map[string][]byte) error
}

// adoptShared makes the policy directory hold the organization's shared
// files, if there are any and the directory's differ: a node that was
// down, or is new, starts on the org's bundle, not on its stale files.
func (pe *Engine) adoptShared() error {
	if pe.cfg.Shared == nil {
		return nil
	}
	bundle, files, err := pe.cfg.Shared.SharedPolicy()
	if err != nil || bundle == "" {
		return err
	}
	local, err := bundleFiles(pe.dir)
	if err != nil {
		return err
	}
	if sameFiles(local, files) {
		return nil
	}
	pe.log.Info("the policy directory takes the organization's shared bundle", zap.String("bundle", bundle))
	return changePolicyFiles(pe.cfg.Intent, pe.dir, files)
}

// share publishes the directory's files once a bundle made of them is in
// force (not the empty bundle a gateway waits with while its registry
// lacks attributes the files read).
func (pe *Engine) share(b *policy.Bundle) {
	if pe.cfg.Shared == nil || pe.waiting.Load() != nil || len(b.Files()) == 0 {
		return
	}
	files, err := bundleFiles(pe.dir)
	if err != nil || !madeOf(b, files) {
		return
	}
	if err := pe.cfg.Shared.ShareBundle(b.CID(), files); err != nil {
		pe.log.Error("the policy bundle could not be shared with the organization's other nodes", zap.String("bundle", b.CID()), zap.Error(err))
	}
}

// FollowShared checks the shared bundle every interval until ctx ends, and
// puts it in force when the directory's files differ (Replace: written
// ahead, journaled once for the org).
func (pe *Engine) FollowShared(ctx context.Context, every time.Duration) {
	if pe.cfg.Shared == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		bundle, files, err := pe.cfg.Shared.SharedPolicy()
		if err != nil || bundle == "" {
			continue
		}
		local, err := bundleFiles(pe.dir)
		if err != nil || sameFiles(local, files) {
			continue
		}
		if err := pe.Replace(files, bundle); err != nil {
			pe.log.Warn("the organization's shared policy bundle was not put in force here", zap.String("bundle", bundle), zap.Error(err))
			continue
		}
		pe.log.Info("policy bundle taken from the organization's other nodes", zap.String("bundle", bundle))
	}
}

func sameFiles(a, b map[string][]byte) bool { return maps.EqualFunc(a, b, bytes.Equal) }

// madeOf says whether files are exactly b's files.
func madeOf(b *policy.Bundle, files map[string][]byte) bool {
	bf := b.Files()
	if len(bf) != len(files) {
		return false
	}
	for _, f := range bf {
		data, ok := files[f.Name]
		if !ok || cids.OfRaw(data).String() != f.CID {
			return false
		}
	}
	return true
}
