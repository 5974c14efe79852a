// Package roster keeps a gateway's roster in force: the file an admin
// updates, the trusted copy in the data directory, the updates refused,
// and who a node speaks for under it.
package roster

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/internal/atomicfile"
	"github.com/caravan-consortium/caravan/internal/dirwatch"
	"github.com/caravan-consortium/caravan/policy"
)

// ErrNotInRoster is returned when this node's PeerID is not listed under
// its org in the roster.
var ErrNotInRoster = errors.New("this node is not listed under its org in the roster")

// Config configures a Keeper.
type Config struct {
	Self peer.ID
	Org  string
	File string // the config's roster file
	Dir  datadir.Dir
	Log  *zap.Logger
	// Shared, if set, is where the org's nodes on cluster storage share
	// node delegations.
	Shared SharedDelegations
	// Apply and Journal put a new version in force on the network and in
	// the journal.
	Apply   func(*consortium.Roster)
	Journal func(*consortium.Roster)
}

// Keeper is the roster in force and its keeping.
type Keeper struct {
	index     atomic.Pointer[consortium.Index]
	self      peer.ID
	org       string
	file      string
	dir       datadir.Dir
	log       *zap.Logger
	apply     func(*consortium.Roster)
	journal   func(*consortium.Roster)
	mu        sync.Mutex // serializes roster changes
	rejected  atomic.Uint64
	refusals  refusals
	proposals proposals   // proposals.go: the versions proposed, held
	nodeLists delegations // the orgs' own node lists in force (delegations.go)
}

// New returns a Keeper over cfg; Startup puts its first roster in force.
func New(cfg Config) *Keeper {
	return &Keeper{self: cfg.Self, org: cfg.Org, file: cfg.File, dir: cfg.Dir, log: cfg.Log, apply: cfg.Apply, journal: cfg.Journal,
		nodeLists: delegations{dir: filepath.Join(cfg.Dir.State(), "delegations"), log: cfg.Log, shared: cfg.Shared}, proposals: proposals{dir: cfg.Dir.Proposals()}}
}

// Index is the roster in force, its nodes parsed.
func (rs *Keeper) Index() *consortium.Index { return rs.index.Load() }

// SetIndex puts x in force (the gateway's network side, as it applies a
// version).
func (rs *Keeper) SetIndex(x *consortium.Index) { rs.index.Store(x) }

// Rejected counts the roster files refused since the start.
func (rs *Keeper) Rejected() uint64 { return rs.rejected.Load() }

// Refusals lists the roster updates refused since the start (the newest
// 20), oldest first.
func (rs *Keeper) Refusals() []api.RosterRefusal { return rs.refusals.all() }

// Watch reloads the roster when its file changes.
func (rs *Keeper) Watch() (*dirwatch.Watcher, error) {
	path := filepath.Clean(rs.file)
	return dirwatch.Watch(filepath.Dir(path), rs.log, func(p string) bool { return p == path }, func() {
		rs.log.Info("roster file changed; reloading", zap.String("file", path))
		_ = rs.Reload() // logged there
	})
}

// Startup returns the roster to start with. The configured file must
// verify (signatures and threshold), or the start fails. If the gateway
// already trusts a roster, the file replaces it only by the rules of
// consortium.CheckUpdate; otherwise the trusted one stays in force.
func (rs *Keeper) Startup() (*consortium.Roster, error) {
	log := rs.log
	candidate, err := consortium.LoadVerified(rs.file)
	if err != nil {
		return nil, fmt.Errorf("roster refused: %w", err)
	}
	trusted, err := rs.loadTrusted()
	if err != nil {
		return nil, err
	}
	roster := candidate
	switch err := consortium.CheckUpdate(trusted, candidate); {
	case err == nil:
		if err := rs.persistTrusted(candidate); err != nil {
			return nil, err
		}
	case errors.Is(err, consortium.ErrSameVersion):
		roster = trusted
	default:
		log.Error("roster file not accepted; the roster already trusted stays in force",
			zap.String("file", rs.file), zap.Error(err), zap.Uint64("in_force", trusted.Version))
		rs.refuse(trusted.Version, err)
		roster = trusted
	}
	rs.nodeLists.load(roster)
	if err := rs.checkSelf(roster); err != nil {
		return nil, err
	}
	rs.warnIfExpired(roster)
	if err := rs.keep(roster); err != nil { // a data directory from before versions were kept
		return nil, err
	}
	return roster, nil
}

func (rs *Keeper) checkSelf(r *consortium.Roster) error {
	org, ok := consortium.NewDelegatedIndex(r, rs.Delegations()).OrgOf(rs.self)
	if !ok || org != rs.org {
		return fmt.Errorf("%w: peer %s, org %q, roster %s version %d (ask an admin to run 'caravan consortium add-member')",
			ErrNotInRoster, rs.self, rs.org, r.Consortium, r.Version)
	}
	return nil
}

func (rs *Keeper) loadTrusted() (*consortium.Roster, error) {
	r, err := consortium.LoadVerified(rs.dir.TrustedRoster())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trusted roster is damaged: %w", err)
	}
	return r, nil
}

func (rs *Keeper) persistTrusted(r *consortium.Roster) error {
	data, err := r.Marshal()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(rs.dir.State(), 0o700); err != nil {
		return err
	}
	if err := atomicfile.Write(rs.dir.TrustedRoster(), data, 0o600); err != nil {
		return err
	}
	return rs.keep(r)
}

// keep adds r to the versions kept (DIR/state/rosters), if it is not
// there: every version in force stays, so that what was signed under it
// can be checked against it later.
func (rs *Keeper) keep(r *consortium.Roster) error {
	path := rs.dir.RosterVersion(r.Version)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	data, err := r.Marshal()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}

// ReloadRoster reads the roster file again and puts it in force if it may
// replace the current one (see consortium.CheckUpdate). If it may not, the
// current roster stays in force and the reason is returned (and logged).
// Reloading the roster in force is not an error.
func (rs *Keeper) Reload() error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	log := rs.log
	current := rs.Roster()
	candidate, err := consortium.LoadVerified(rs.file)
	if err == nil {
		err = consortium.CheckUpdate(current, candidate)
	}
	switch {
	case errors.Is(err, consortium.ErrSameVersion):
		return nil
	case err != nil:
		rs.refuse(current.Version, err)
		log.Error("roster change refused; the current roster stays in force",
			zap.Uint64("in_force", current.Version), zap.Error(err))
		return err
	}
	if err := rs.putInForce(candidate, false); err != nil {
		log.Error("roster change not saved; the current roster stays in force", zap.Error(err))
		return err
	}
	log.Info("roster updated", zap.Uint64("from", current.Version), zap.Uint64("to", candidate.Version),
		zap.Int("members", len(candidate.Members)))
	if err := rs.checkSelf(candidate); err != nil {
		log.Error("this node is no longer in the roster; every member will refuse it", zap.Error(err))
	}
	return nil
}

// putInForce makes r, which may replace the roster in force
// (consortium.CheckUpdate), the roster in force: trusted and kept,
// applied to the network, journaled, and the proposals it supersedes
// dropped. With toFile, r is written to the roster file too (a version
// adopted or caught up from a peer), so that the file and the roster in
// force agree. rs.mu is held.
func (rs *Keeper) putInForce(r *consortium.Roster, toFile bool) error {
	if err := rs.persistTrusted(r); err != nil {
		return err
	}
	rs.nodeLists.recheck(r)
	if toFile {
		data, err := r.Marshal()
		if err == nil {
			err = atomicfile.Write(rs.file, data, 0o644)
		}
		if err != nil {
			rs.log.Error("the roster put in force was not written to the roster file; the file will be refused as older", zap.Error(err))
		}
	}
	rs.apply(r)
	rs.journal(r)
	rs.warnIfExpired(r)
	rs.proposals.prune(r.Version)
	return nil
}

// Roster returns the roster in force.
func (rs *Keeper) Roster() *consortium.Roster { return rs.index.Load().Roster() }

// OrgOf, HasOrg and Nodes answer the catalog and the fetch server who a
// node speaks for, from the roster in force.
func (rs *Keeper) OrgOf(p peer.ID) (string, bool) { return rs.index.Load().OrgOf(p) }
func (rs *Keeper) HasOrg(org string) bool         { return rs.index.Load().HasOrg(org) }

// SignerOrg answers the catalog which org a statement's signer speaks for.
func (rs *Keeper) SignerOrg(p peer.ID) (string, bool) { return rs.index.Load().SignerOrg(p) }

// Nodes lists the other members' nodes.
func (rs *Keeper) Nodes() []peer.ID {
	var out []peer.ID
	for _, p := range rs.index.Load().All() {
		if p != rs.self {
			out = append(out, p)
		}
	}
	return out
}

// OrgEntity returns the policy entity of a member org of the roster in force.
func (rs *Keeper) OrgEntity(org string) (policy.Org, bool) {
	m := rs.Roster().Member(org)
	if m == nil {
		return policy.Org{}, false
	}
	return OrgEntity(m), true
}

// warnIfExpired says loudly that r, put in force, has expired.
func (rs *Keeper) warnIfExpired(r *consortium.Roster) {
	if r.Expired(time.Now()) {
		rs.log.Error("the roster in force has expired; the gateway keeps serving under it: ask the admins to sign a new version",
			zap.Uint64("version", r.Version), zap.String("expired", r.Expires))
	}
}

func (rs *Keeper) refuse(inForce uint64, err error) {
	rs.rejected.Add(1)
	rs.refusals.add(api.RosterRefusal{At: time.Now().UTC(), File: rs.file, InForce: inForce, Reason: err.Error()})
}

// refusals keeps the newest roster updates refused since the start.
type refusals struct {
	mu   sync.Mutex
	list []api.RosterRefusal
}

const maxRefusals = 20

func (r *refusals) add(x api.RosterRefusal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, x)
	if len(r.list) > maxRefusals {
		r.list = r.list[len(r.list)-maxRefusals:]
	}
}

// list is the refusals, oldest first.
func (r *refusals) all() []api.RosterRefusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]api.RosterRefusal{}, r.list...)
}

// OrgEntity maps a roster member to its policy entity.
func OrgEntity(m *consortium.Member) policy.Org {
	return policy.Org{ID: m.Org, Name: m.Name, Country: m.Country, Sector: m.Sector,
		Roles: append([]string(nil), m.Roles...), Groups: append([]string(nil), m.Groups...)}
}

// Walk puts in force, in order, the versions of chain that follow the
// roster in force, as a gateway that was offline catches up: each must be
// signed by a threshold of its own admins and of the admins of the
// version before it (consortium.CheckUpdate), so a peer can offer only
// what the admins signed. The walk stops at the first version that may not
// follow. It returns how many versions it put in force.
func (rs *Keeper) Walk(chain []*consortium.Roster) (int, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	chain = slices.Clone(chain)
	slices.SortFunc(chain, func(a, b *consortium.Roster) int { return cmp.Compare(a.Version, b.Version) })
	walked := 0
	for _, r := range chain {
		current := rs.Roster()
		if r.Version <= current.Version {
			continue
		}
		_, err := r.Verify()
		if err == nil {
			err = consortium.CheckUpdate(current, r)
		}
		if err == nil {
			err = rs.putInForce(r, true)
		}
		if err != nil {
			return walked, fmt.Errorf("roster version %d may not follow version %d: %w", r.Version, current.Version, err)
		}
		walked++
		rs.log.Info("roster updated from a member's chain", zap.Uint64("from", current.Version), zap.Uint64("to", r.Version),
			zap.Int("members", len(r.Members)))
		if err := rs.checkSelf(r); err != nil {
			rs.log.Error("this node is no longer in the roster; every member will refuse it", zap.Error(err))
		}
	}
	return walked, nil
}

// Chain is the versions kept after version from, up to the roster in
// force, oldest first, at most limit of them: what a member that was
// offline asks for.
func (rs *Keeper) Chain(from uint64, limit int) []*consortium.Roster {
	var out []*consortium.Roster
	for v := from + 1; v <= rs.Roster().Version && len(out) < limit; v++ {
		if r, err := consortium.Load(rs.dir.RosterVersion(v)); err == nil {
			out = append(out, r)
		}
	}
	return out
}

// Pending is the proposals held, signatures and all, for a member that
// asks.
func (rs *Keeper) Pending() []*consortium.Roster {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var out []*consortium.Roster
	for _, p := range rs.proposals.all() {
		if p.Version > rs.Roster().Version {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *consortium.Roster) int { return cmp.Compare(a.Version, b.Version) })
	return out
}
