package roster

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/internal/atomicfile"
)

// Delegations: an org's own list of its nodes, signed by its org key
// (schemas/roster.md, "Delegations"). Under the roster in force, the newest
// valid one of an org replaces the nodes the roster lists for it: the
// gater admits them, the keeper dials them, and their cosignatures count.
// They are kept in DIR/state/delegations/ORG.yaml, travel as proposals do
// (exchange.go), and are dropped when a roster version no longer allows
// them (the org key rotated, the member removed).

// Delegations are the delegations in force, by org. The caller must not
// modify the map.
func (rs *Keeper) Delegations() map[string]*consortium.Delegation {
	if m := rs.delegations.Load(); m != nil {
		return *m
	}
	return nil
}

// Delegate takes an org's delegation: it is put in force if the roster in
// force allows it and it is newer than the org's one in force. It returns
// whether it changed anything.
func (rs *Keeper) Delegate(d *consortium.Delegation) (bool, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	held := rs.Delegations()
	if h := held[d.Org]; h != nil {
		switch {
		case consortium.SameDelegation(h, d) && h.Signature == d.Signature:
			return false, nil
		case d.Sequence <= h.Sequence:
			return false, fmt.Errorf("%w: sequence %d of %s, and %d is in force", consortium.ErrDelegation, d.Sequence, d.Org, h.Sequence)
		}
	}
	current := rs.Roster()
	if err := current.CheckDelegation(d, held); err != nil {
		return false, err
	}
	data, err := d.Marshal()
	if err != nil {
		return false, err
	}
	path := rs.delegationPath(d.Org)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, err
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return false, err
	}
	next := cloneMap(held)
	next[d.Org] = d
	rs.delegations.Store(&next)
	rs.apply(current)
	rs.log.Info("node delegation in force", zap.String("of", d.Org), zap.Uint64("sequence", d.Sequence), zap.Int("nodes", len(d.Nodes)))
	return true, nil
}

// AllDelegations lists the delegations in force, by org, for a member that
// asks.
func (rs *Keeper) AllDelegations() []*consortium.Delegation {
	var out []*consortium.Delegation
	for _, d := range rs.Delegations() {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *consortium.Delegation) int { return cmp.Compare(a.Org, b.Org) })
	return out
}

// loadDelegations reads the delegations kept and keeps those r allows
// (rs.mu held, or at the start).
func (rs *Keeper) loadDelegations(r *consortium.Roster) {
	files, _ := filepath.Glob(filepath.Join(rs.dir.State(), "delegations", "*.yaml"))
	ds := map[string]*consortium.Delegation{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if d, err := consortium.ParseDelegation(f, data); err == nil {
			ds[d.Org] = d
		}
	}
	rs.delegations.Store(ptr(rs.allowed(r, ds)))
}

// recheckDelegations drops the delegations that roster r, about to be put
// in force, no longer allows (rs.mu held).
func (rs *Keeper) recheckDelegations(r *consortium.Roster) {
	held := rs.Delegations()
	kept := rs.allowed(r, held)
	for org := range held {
		if kept[org] == nil {
			_ = os.Remove(rs.delegationPath(org))
			rs.log.Warn("node delegation dropped: the roster version put in force no longer allows it", zap.String("of", org),
				zap.Uint64("roster_version", r.Version))
		}
	}
	rs.delegations.Store(&kept)
}

// allowed is ds without those r does not allow.
func (rs *Keeper) allowed(r *consortium.Roster, ds map[string]*consortium.Delegation) map[string]*consortium.Delegation {
	out := map[string]*consortium.Delegation{}
	for org, d := range ds {
		others := cloneMap(ds)
		delete(others, org)
		if err := r.CheckDelegation(d, others); err == nil {
			out[org] = d
		} else if !errors.Is(err, consortium.ErrDelegation) {
			rs.log.Warn("node delegation unreadable", zap.String("of", org), zap.Error(err))
		}
	}
	return out
}

func (rs *Keeper) delegationPath(org string) string {
	return filepath.Join(rs.dir.State(), "delegations", org+".yaml")
}

func cloneMap(m map[string]*consortium.Delegation) map[string]*consortium.Delegation {
	out := make(map[string]*consortium.Delegation, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func ptr[T any](v T) *T { return &v }
