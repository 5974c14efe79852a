package node

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
	dir    string
	ledger *policy.Ledger

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
func (n *Node) startPolicies(hooks []func(PolicyChange)) error {
	pe := &policyEngine{dir: n.cfg.Policies, onChange: hooks}
	if err := os.MkdirAll(pe.dir, 0o700); err != nil {
		return fmt.Errorf("policies: %w", err)
	}
	if err := finishPolicyIntent(n.dir.PolicyIntent()); err != nil { // an upload killed halfway
		return err
	}
	v, err := n.vocabulary()
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
			n.log.Named("policy").Warn("the policies read attributes that no registered schema declares yet; every fetch is denied until the registry has them",
				zap.String("dir", pe.dir), zap.Strings("problems", problems(be)))
		} else {
			pe.lastErr.Store(&msg)
			n.log.Named("policy").Error("the policies do not check against the schema registry; the gateway starts with every discover and fetch denied until they do",
				zap.String("dir", pe.dir), zap.Strings("problems", problems(be)))
		}
		b, err = policy.Parse(nil, v)
	}
	if err != nil {
		return fmt.Errorf("policies in %s: %w", pe.dir, err)
	}
	if pe.ledger, err = policy.OpenLedger(n.dir.Ledger()); err != nil {
		return err
	}
	n.policies = pe
	if err := n.putPolicy(b, "", nil); err != nil {
		return err
	}
	if len(b.Policies()) == 0 {
		n.log.Named("policy").Warn("no policies: every discover and fetch is denied", zap.String("dir", pe.dir))
	}
	return nil
}

// putPolicy journals b, then puts it in force: a bundle is journaled
// before any decision uses it, and one that cannot be journaled is not put
// in force. The hooks, then settle (if set), run before the swap.
func (n *Node) putPolicy(b *policy.Bundle, old string, settle func()) error {
	pe := n.policies
	now := time.Now()
	change := PolicyChange{Old: old, New: b.CID(), Files: b.Files(), At: now}
	if err := n.journalPolicy(change); err != nil {
		return err
	}
	for _, f := range pe.onChange {
		f(change)
	}
	if settle != nil {
		settle()
	}
	pe.current.Store(&loadedBundle{bundle: b, at: now})
	n.metrics.policyBundle(b.CID())
	n.log.Named("policy").Info("policy bundle in force", zap.String("bundle", b.CID()),
		zap.String("previous", old), zap.Int("policies", len(b.Policies())), zap.Int("files", len(b.Files())))
	return nil
}

// Policies returns the policy bundle in force.
func (n *Node) Policies() *policy.Bundle { return n.policies.current.Load().bundle }

// PolicyLedger returns the ledger behind released_today.
func (n *Node) PolicyLedger() *policy.Ledger { return n.policies.ledger }

// ReloadPolicies reads the policy directory again. A valid bundle replaces
// the one in force atomically; an invalid one is refused, counted and
// returned, and the bundle in force stays. Reloading an unchanged bundle is
// not an error.
func (n *Node) ReloadPolicies() error {
	pe := n.policies
	pe.mu.Lock()
	defer pe.mu.Unlock()
	return n.reloadPoliciesLocked()
}

// reloadPoliciesLocked is ReloadPolicies with pe.mu held.
func (n *Node) reloadPoliciesLocked() error {
	pe := n.policies
	log := n.log.Named("policy")
	old := pe.current.Load().bundle
	v, err := n.vocabulary()
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
		err = n.putPolicy(b, old.CID(), func() {
			pe.lastErr.Store(nil)
			pe.waiting.Store(nil)
			pe.accepted.Add(1)
			n.metrics.policyReload(true)
		})
	}
	if err != nil {
		pe.refused.Add(1)
		n.metrics.policyReload(false)
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

// policiesWaiting reloads the policies if they wait for the registry.
func (n *Node) policiesWaiting() {
	if n.policies != nil && n.policies.waiting.Load() != nil {
		_ = n.ReloadPolicies() // logged there
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
func watchPolicies(n *Node) (*dirWatcher, error) {
	log := n.log.Named("policy")
	return watchDir(n.policies.dir, log, func(p string) bool { return filepath.Ext(p) == policy.Ext }, func() {
		log.Info("policy files changed; reloading", zap.String("dir", n.policies.dir))
		_ = n.ReloadPolicies() // logged there
	})
}

func (n *Node) policyStatus() api.PolicyStatus {
	pe := n.policies
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

// orgEntity returns the policy entity of a member org of the roster in force.
func (n *Node) orgEntity(org string) (policy.Org, bool) {
	m := n.Roster().Member(org)
	if m == nil {
		return policy.Org{}, false
	}
	return OrgEntity(m), true
}

// maxPolicyUpload bounds an uploaded bundle's files.
const maxPolicyUpload = 256

// CheckPolicies checks an uploaded bundle against this gateway's registry,
// as a reload would check the policy directory; nothing is put in force.
func (n *Node) CheckPolicies(req api.PolicyCheckRequest) (*api.PolicyCheckResult, error) {
	if len(req.Files) == 0 || len(req.Files) > maxPolicyUpload {
		return nil, api.FieldErrorf(http.StatusBadRequest, "files", "files: give 1 to %d policy files by name", maxPolicyUpload)
	}
	dir, err := os.MkdirTemp("", "caravan-policy-check-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for name, text := range req.Files {
		if name != filepath.Base(name) || !strings.HasSuffix(name, ".cedar") || strings.HasPrefix(name, ".") {
			return nil, api.FieldErrorf(http.StatusBadRequest, "files", "files: %q is not a file name ending in .cedar", name)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			return nil, err
		}
	}
	v, err := n.vocabulary()
	if err != nil {
		return nil, err
	}
	b, err := policy.Load(dir, v)
	var be *policy.BundleError
	switch {
	case errors.As(err, &be):
		res := &api.PolicyCheckResult{}
		for _, p := range be.Problems {
			res.Problems = append(res.Problems, api.PolicyProblem{File: p.File, Line: p.Line, Message: p.Msg})
		}
		return res, nil
	case err != nil:
		return nil, err
	}
	res := &api.PolicyCheckResult{Valid: true, CID: b.CID()}
	for _, p := range b.Policies() {
		res.Policies = append(res.Policies, api.PolicyRef{ID: p.ID, Effect: p.Effect, File: p.File, Line: p.Line})
	}
	if req.Table != "" {
		if res.Cases, err = runTable(b, req.Table); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// TestPolicies runs a decision table (YAML, as caravan policy test reads)
// against the bundle in force.
func (n *Node) TestPolicies(table string) ([]api.PolicyCase, error) {
	return runTable(n.Policies(), table)
}

// runTable runs a decision table against b.
func runTable(b *policy.Bundle, table string) ([]api.PolicyCase, error) {
	dir, err := os.MkdirTemp("", "caravan-policy-table-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "table.yaml")
	if err := os.WriteFile(path, []byte(table), 0o600); err != nil {
		return nil, err
	}
	tbl, err := policy.LoadTable(path)
	if err != nil {
		return nil, api.FieldErrorf(http.StatusBadRequest, "table", "table: %v", strings.ReplaceAll(err.Error(), path, "table"))
	}
	cases := []api.PolicyCase{}
	for _, r := range tbl.Run(b) {
		cases = append(cases, api.PolicyCase{Name: r.Case.Name, Line: r.Case.Line, Expect: r.Case.Expect, Pass: r.Pass(), Result: r.String()})
	}
	return cases, nil
}
