package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/policy"
)

// PolicyChange is an accepted change of the policy bundle in force. The
// journal records one event per change.
type PolicyChange struct {
	Old   string        // CID of the bundle replaced; "" at start
	New   string        // CID of the bundle now in force
	Files []policy.File // the new bundle's files
	At    time.Time
}

// policyEngine holds the bundle in force. A reload swaps the pointer, so a
// session that started on the old bundle finishes on it.
type policyEngine struct {
	dir        string
	ledger     *policy.Ledger
	log        *zap.Logger
	metrics    *metrics
	vocabulary func() (*policy.Vocabulary, error) // of the registry now
	journal    func(PolicyChange) error           // before a bundle is put in force

	mu       sync.Mutex // serializes reloads
	current  atomic.Pointer[loadedBundle]
	accepted atomic.Uint64
	refused  atomic.Uint64
	lastErr  atomic.Pointer[string]
	onChange []func(PolicyChange)
	// waiting holds the problems of the policy directory's bundle while it
	// waits for the registry to declare the attributes it reads (a new
	// gateway catching up); meanwhile the empty bundle, which denies
	// everything, is in force.
	waiting atomic.Pointer[string]
}

type loadedBundle struct {
	bundle *policy.Bundle
	at     time.Time
}

// startPolicies loads the policy directory, which must hold a valid bundle
// (an empty directory is one: it denies everything), and opens the ledger.
// A bundle whose only problems are attributes that no schema in the
// registry declares yet waits for them (see policyEngine.waiting).
func startPolicies(pe *policyEngine, intent, ledger string) error {
	if err := os.MkdirAll(pe.dir, 0o700); err != nil {
		return fmt.Errorf("policies: %w", err)
	}
	if err := finishPolicyIntent(intent); err != nil { // an upload killed halfway
		return err
	}
	v, err := pe.vocabulary()
	if err != nil {
		return err
	}
	b, err := policy.Load(pe.dir, v)
	var be *policy.BundleError
	if errors.As(err, &be) && be.OnlyVocabulary() {
		// The gateway starts whatever its registry holds: a bundle that
		// does not check against it (an attribute not declared yet, or
		// typed otherwise by a registration signed before this org's)
		// waits, with every fetch denied, and is tried again whenever the
		// registry or the policy files change.
		msg := err.Error()
		pe.waiting.Store(&msg)
		if be.OnlyUndeclared() {
			pe.log.Warn("the policies read attributes that no registered schema declares yet; every fetch is denied until the registry has them",
				zap.String("dir", pe.dir), zap.Strings("problems", problems(be)))
		} else {
			pe.lastErr.Store(&msg)
			pe.log.Error("the policies do not check against the schema registry; the gateway starts with every discover and fetch denied until they do",
				zap.String("dir", pe.dir), zap.Strings("problems", problems(be)))
		}
		b, err = policy.Parse(nil, v)
	}
	if err != nil {
		return fmt.Errorf("policies in %s: %w", pe.dir, err)
	}
	if pe.ledger, err = policy.OpenLedger(ledger); err != nil {
		return err
	}
	if err := pe.put(b, "", nil); err != nil {
		return err
	}
	if len(b.Policies()) == 0 {
		pe.log.Warn("no policies: every discover and fetch is denied", zap.String("dir", pe.dir))
	}
	return nil
}

// putPolicy journals b, then puts it in force: a bundle is journaled
// before any decision uses it, and one that cannot be journaled is not put
// in force. The hooks, then settle (if set), run before the swap.
func (pe *policyEngine) put(b *policy.Bundle, old string, settle func()) error {
	now := time.Now()
	change := PolicyChange{Old: old, New: b.CID(), Files: b.Files(), At: now}
	if err := pe.journal(change); err != nil {
		return err
	}
	for _, f := range pe.onChange {
		f(change)
	}
	if settle != nil {
		settle()
	}
	pe.current.Store(&loadedBundle{bundle: b, at: now})
	pe.metrics.policyBundle(b.CID())
	pe.log.Info("policy bundle in force", zap.String("bundle", b.CID()),
		zap.String("previous", old), zap.Int("policies", len(b.Policies())), zap.Int("files", len(b.Files())))
	return nil
}

// Bundle returns the policy bundle in force.
func (pe *policyEngine) Bundle() *policy.Bundle { return pe.current.Load().bundle }

// Reload reads the policy directory again. A valid bundle replaces the one
// in force atomically; an invalid one is refused, counted and returned, and
// the bundle in force stays. Reloading an unchanged bundle is not an error.
func (pe *policyEngine) Reload() error {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	return pe.reloadLocked()
}

// reloadLocked is Reload with pe.mu held.
func (pe *policyEngine) reloadLocked() error {
	log := pe.log
	old := pe.current.Load().bundle
	v, err := pe.vocabulary()
	if err != nil {
		return err
	}
	b, err := policy.Load(pe.dir, v)
	if err != nil && undeclaredOnly(err) && pe.waiting.Load() != nil {
		msg := err.Error()
		pe.waiting.Store(&msg)
		log.Info("the policies still wait for the registry to declare attributes", zap.Strings("problems", problems(err.(*policy.BundleError))))
		return err
	}
	if err == nil && b.CID() != old.CID() {
		// The status tells of b before b is in force: whoever sees the
		// new bundle sees its status too.
		err = pe.put(b, old.CID(), func() {
			pe.lastErr.Store(nil)
			pe.waiting.Store(nil)
			pe.accepted.Add(1)
			pe.metrics.policyReload(true)
		})
	}
	if err != nil {
		pe.refused.Add(1)
		pe.metrics.policyReload(false)
		msg := err.Error()
		pe.lastErr.Store(&msg)
		var be *policy.BundleError
		if errors.As(err, &be) {
			log.Error("policy change refused; the bundle in force stays", zap.String("in_force", old.CID()),
				zap.Strings("problems", problems(be)))
		} else {
			log.Error("policy change refused; the bundle in force stays", zap.String("in_force", old.CID()), zap.Error(err))
		}
		return err
	}
	pe.lastErr.Store(nil) // an unchanged bundle: what was refused is gone
	pe.waiting.Store(nil)
	return nil
}

// undeclaredOnly reports whether err is a bundle whose only problems are
// attributes that no schema in the registry declares.
func undeclaredOnly(err error) bool {
	var be *policy.BundleError
	return errors.As(err, &be) && be.OnlyUndeclared()
}

// reloadIfWaiting reloads the policies if they wait for the registry.
func (pe *policyEngine) reloadIfWaiting() {
	if pe != nil && pe.waiting.Load() != nil {
		_ = pe.Reload() // logged there
	}
}

func problems(be *policy.BundleError) []string {
	out := make([]string, len(be.Problems))
	for i, p := range be.Problems {
		out[i] = p.String()
	}
	return out
}

// watchPolicies reloads the bundle when a .cedar file in its directory
// changes.
func watchPolicies(pe *policyEngine) (*dirWatcher, error) {
	return watchDir(pe.dir, pe.log, func(p string) bool { return filepath.Ext(p) == policy.Ext }, func() {
		pe.log.Info("policy files changed; reloading", zap.String("dir", pe.dir))
		_ = pe.Reload() // logged there
	})
}

func (pe *policyEngine) status() api.PolicyStatus {
	cur := pe.current.Load()
	st := api.PolicyStatus{Bundle: cur.bundle.CID(), Dir: pe.dir, Count: len(cur.bundle.Policies()), LoadedAt: cur.at,
		Accepted: pe.accepted.Load(), Refused: pe.refused.Load()}
	if e := pe.lastErr.Load(); e != nil {
		st.LastError = *e
	}
	if w := pe.waiting.Load(); w != nil {
		st.Waiting = *w
	}
	return st
}

// OrgEntity maps a roster member to its policy entity.
func OrgEntity(m *consortium.Member) policy.Org {
	return policy.Org{ID: m.Org, Name: m.Name, Country: m.Country, Sector: m.Sector,
		Roles: append([]string(nil), m.Roles...), Groups: append([]string(nil), m.Groups...)}
}
