package policies

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
	"github.com/caravan-consortium/caravan/internal/dirwatch"
	"github.com/caravan-consortium/caravan/policy"
)

// Change is an accepted change of the policy bundle in force. The journal
// records one event per change.
type Change struct {
	Old   string        // CID of the bundle replaced; "" at start
	New   string        // CID of the bundle now in force
	Files []policy.File // the new bundle's files
	At    time.Time
}

// Config configures Open.
type Config struct {
	Dir    string // the policy directory
	Intent string // the write-ahead file of an upload (Replace)
	Ledger string // the volume ledger behind released_today (a file)
	// Volume, if set, is the count behind released_today instead of the
	// Ledger file: the cluster's, shared by every node of the org.
	Volume policy.Volume
	// Shared, if set, is where the org's nodes share their policy files
	// (cluster storage): the engine starts on them and shares its own.
	Shared Shared
	Log    *zap.Logger
	// Vocabulary is the policy vocabulary of the schema registry now.
	Vocabulary func() (*policy.Vocabulary, error)
	// Journal journals a change before it is put in force; OnChange then
	// hears of it; OnBundle and OnReload count bundles and reloads.
	Journal  func(Change) error
	OnChange []func(Change)
	OnBundle func(cid string)
	OnReload func(accepted bool)
}

// Engine holds the policy bundle in force, loaded from the policy
// directory. A reload swaps the pointer, so a session that started on the
// old bundle finishes on it.
type Engine struct {
	cfg    Config
	dir    string
	ledger policy.Volume
	log    *zap.Logger

	mu       sync.Mutex // serializes reloads
	current  atomic.Pointer[loadedBundle]
	accepted atomic.Uint64
	refused  atomic.Uint64
	lastErr  atomic.Pointer[string]
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

// Open loads the policy directory, which must hold a valid bundle (an
// empty directory is one: it denies everything), and opens the ledger. A
// bundle whose only problems are attributes that no schema in the
// registry declares yet waits for them (see Engine.waiting).
func Open(cfg Config) (*Engine, error) {
	pe := &Engine{cfg: cfg, dir: cfg.Dir, log: cfg.Log}
	if err := pe.open(); err != nil {
		return nil, err
	}
	return pe, nil
}

func (pe *Engine) open() error {
	if err := os.MkdirAll(pe.dir, 0o700); err != nil {
		return fmt.Errorf("policies: %w", err)
	}
	if err := finishPolicyIntent(pe.cfg.Intent); err != nil { // an upload killed halfway
		return err
	}
	if err := pe.adoptShared(); err != nil {
		return fmt.Errorf("policies: the organization's shared bundle: %w", err)
	}
	v, err := pe.cfg.Vocabulary()
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
	if pe.ledger = pe.cfg.Volume; pe.ledger == nil {
		if pe.ledger, err = policy.OpenLedger(pe.cfg.Ledger); err != nil {
			return err
		}
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
func (pe *Engine) put(b *policy.Bundle, old string, settle func()) error {
	now := time.Now()
	change := Change{Old: old, New: b.CID(), Files: b.Files(), At: now}
	if err := pe.cfg.Journal(change); err != nil {
		return err
	}
	for _, f := range pe.cfg.OnChange {
		f(change)
	}
	if settle != nil {
		settle()
	}
	pe.current.Store(&loadedBundle{bundle: b, at: now})
	if pe.cfg.OnBundle != nil {
		pe.cfg.OnBundle(b.CID())
	}
	pe.share(b)
	pe.log.Info("policy bundle in force", zap.String("bundle", b.CID()),
		zap.String("previous", old), zap.Int("policies", len(b.Policies())), zap.Int("files", len(b.Files())))
	return nil
}

// Bundle returns the policy bundle in force.
func (pe *Engine) Bundle() *policy.Bundle { return pe.current.Load().bundle }

// Reload reads the policy directory again. A valid bundle replaces the one
// in force atomically; an invalid one is refused, counted and returned, and
// the bundle in force stays. Reloading an unchanged bundle is not an error.
func (pe *Engine) Reload() error {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	return pe.reloadLocked()
}

// reloadLocked is Reload with pe.mu held.
func (pe *Engine) reloadLocked() error {
	log := pe.log
	old := pe.current.Load().bundle
	v, err := pe.cfg.Vocabulary()
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
			if pe.cfg.OnReload != nil {
				pe.cfg.OnReload(true)
			}
		})
	}
	if err != nil {
		pe.refused.Add(1)
		if pe.cfg.OnReload != nil {
			pe.cfg.OnReload(false)
		}
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

// ReloadIfWaiting reloads the policies if they wait for the registry.
func (pe *Engine) ReloadIfWaiting() {
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

// Watch reloads the bundle when a .cedar file in its directory
// changes.
func (pe *Engine) Watch() (*dirwatch.Watcher, error) {
	return dirwatch.Watch(pe.dir, pe.log, func(p string) bool { return filepath.Ext(p) == policy.Ext }, func() {
		pe.log.Info("policy files changed; reloading", zap.String("dir", pe.dir))
		_ = pe.Reload() // logged there
	})
}

// Status is the bundle in force and its reloads.
func (pe *Engine) Status() api.PolicyStatus {
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

// Ledger is the volume ledger behind released_today.
func (pe *Engine) Ledger() policy.Volume { return pe.ledger }

// Dir is the policy directory.
func (pe *Engine) Dir() string { return pe.dir }

// Replace puts files in force in place of the policy directory's, under
// the reload lock: written ahead (files.go), so that an engine killed
// halfway restarts with the old bundle or the new one; the directory
// watcher, woken by the writes, waits and then finds the bundle in force
// unchanged. If the new bundle cannot be put in force, the old files are
// written back. want is the CID the files must make.
func (pe *Engine) Replace(files map[string][]byte, want string) error {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	old, err := bundleFiles(pe.dir)
	if err != nil {
		return err
	}
	if err := changePolicyFiles(pe.cfg.Intent, pe.dir, files); err != nil {
		return errors.Join(err, changePolicyFiles(pe.cfg.Intent, pe.dir, old))
	}
	if err := pe.reloadLocked(); err != nil {
		return errors.Join(fmt.Errorf("%w: the bundle was valid but not put in force: %w", ErrNotInForce, err),
			changePolicyFiles(pe.cfg.Intent, pe.dir, old))
	}
	if inForce := pe.current.Load().bundle.CID(); inForce != want {
		return fmt.Errorf("policies: the bundle in force is %s, not the uploaded %s", inForce, want)
	}
	pe.log.Info("policy bundle replaced by an upload", zap.String("bundle", want), zap.Int("files", len(files)))
	return nil
}

// ErrNotInForce: a bundle that checked was not put in force (its journal
// entry could not be written); the bundle in force stays.
var ErrNotInForce = errors.New("not put in force")
