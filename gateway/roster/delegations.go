package roster

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"

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

// SharedDelegations is where the nodes of organizations on cluster storage
// share the delegations they hold (by org, as signed), so that a node that
// only its org's newest delegation lists can start.
type SharedDelegations interface {
	SharedDelegations() (map[string][]byte, error)
	ShareDelegation(org string, data []byte) error
}

// delegations holds the org-signed node lists in force. They are read
// without the keeper's lock (the index is built from them as a version is
// applied, under it).
type delegations struct {
	dir    string // DIR/state/delegations
	log    *zap.Logger
	shared SharedDelegations // nil on embedded storage
	cur    atomic.Pointer[map[string]*consortium.Delegation]
}

// get is the delegations in force, by org. The caller must not modify the
// map.
func (ds *delegations) get() map[string]*consortium.Delegation {
	if m := ds.cur.Load(); m != nil {
		return *m
	}
	return nil
}

// put keeps d, if roster r allows it and it is newer than its org's in
// force; it says whether d changed anything (the keeper's lock held).
func (ds *delegations) put(d *consortium.Delegation, r *consortium.Roster) (bool, error) {
	held := ds.get()
	if h := held[d.Org]; h != nil {
		switch {
		case consortium.SameDelegation(h, d) && h.Signature == d.Signature:
			return false, nil
		case d.Sequence <= h.Sequence:
			return false, fmt.Errorf("%w: sequence %d of %s, and %d is in force", consortium.ErrDelegation, d.Sequence, d.Org, h.Sequence)
		}
	}
	others := cloneMap(held)
	delete(others, d.Org)
	if err := r.CheckDelegation(d, others); err != nil {
		return false, err
	}
	data, err := d.Marshal()
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(ds.dir, 0o700); err != nil {
		return false, err
	}
	if err := atomicfile.Write(ds.path(d.Org), data, 0o600); err != nil {
		return false, err
	}
	if ds.shared != nil {
		if err := ds.shared.ShareDelegation(d.Org, data); err != nil {
			ds.log.Warn("node delegation kept here but not shared with the org's other nodes", zap.String("of", d.Org), zap.Error(err))
		}
	}
	next := cloneMap(held)
	next[d.Org] = d
	ds.cur.Store(&next)
	return true, nil
}

// all lists the delegations in force, by org, for a member that asks.
func (ds *delegations) all() []*consortium.Delegation {
	var out []*consortium.Delegation
	for _, d := range ds.get() {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *consortium.Delegation) int { return cmp.Compare(a.Org, b.Org) })
	return out
}

// load reads the delegations kept and keeps those r allows.
func (ds *delegations) load(r *consortium.Roster) {
	files, _ := filepath.Glob(filepath.Join(ds.dir, "*.yaml"))
	read := map[string]*consortium.Delegation{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if d, err := consortium.ParseDelegation(f, data); err == nil {
			read[d.Org] = d
		}
	}
	ds.loadShared(read)
	kept := ds.allowed(r, read)
	ds.cur.Store(&kept)
}

// loadShared adds to read the shared delegations newer than its own, and
// keeps them here too.
func (ds *delegations) loadShared(read map[string]*consortium.Delegation) {
	if ds.shared == nil {
		return
	}
	shared, err := ds.shared.SharedDelegations()
	if err != nil {
		ds.log.Warn("the org's shared node delegations are not readable", zap.Error(err))
		return
	}
	for org, data := range shared {
		d, err := consortium.ParseDelegation("shared delegation of "+org, data)
		if err != nil || d.Org != org {
			continue
		}
		if h := read[org]; h == nil || d.Sequence > h.Sequence {
			read[org] = d
			if os.MkdirAll(ds.dir, 0o700) == nil {
				_ = atomicfile.Write(ds.path(org), data, 0o600)
			}
		}
	}
}

// recheck drops the delegations that roster r, about to be put in force,
// no longer allows (the keeper's lock held).
func (ds *delegations) recheck(r *consortium.Roster) {
	held := ds.get()
	kept := ds.allowed(r, held)
	for org := range held {
		if kept[org] == nil {
			_ = os.Remove(ds.path(org))
			ds.log.Warn("node delegation dropped: the roster version put in force no longer allows it", zap.String("of", org),
				zap.Uint64("roster_version", r.Version))
		}
	}
	ds.cur.Store(&kept)
}

// allowed is in without the delegations r does not allow.
func (ds *delegations) allowed(r *consortium.Roster, in map[string]*consortium.Delegation) map[string]*consortium.Delegation {
	out := map[string]*consortium.Delegation{}
	for org, d := range in {
		others := cloneMap(in)
		delete(others, org)
		if err := r.CheckDelegation(d, others); err == nil {
			out[org] = d
		} else if !errors.Is(err, consortium.ErrDelegation) {
			ds.log.Warn("node delegation unreadable", zap.String("of", org), zap.Error(err))
		}
	}
	return out
}

func (ds *delegations) path(org string) string { return filepath.Join(ds.dir, org+".yaml") }

// Delegations are the delegations in force, by org. The caller must not
// modify the map.
func (rs *Keeper) Delegations() map[string]*consortium.Delegation { return rs.nodeLists.get() }

// AllDelegations lists the delegations in force, by org, for a member that
// asks.
func (rs *Keeper) AllDelegations() []*consortium.Delegation { return rs.nodeLists.all() }

// Delegate takes an org's delegation: it is put in force, and applied to
// the network, if the roster in force allows it and it is newer than the
// org's one in force. It says whether it changed anything.
func (rs *Keeper) Delegate(d *consortium.Delegation) (bool, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	current := rs.Roster()
	changed, err := rs.nodeLists.put(d, current)
	if changed {
		rs.apply(current)
		rs.log.Info("node delegation in force", zap.String("of", d.Org), zap.Uint64("sequence", d.Sequence), zap.Int("nodes", len(d.Nodes)))
	}
	return changed, err
}

func cloneMap(m map[string]*consortium.Delegation) map[string]*consortium.Delegation {
	out := make(map[string]*consortium.Delegation, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
