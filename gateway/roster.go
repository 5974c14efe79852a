package gateway

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/internal/atomicfile"
	"github.com/caravan-consortium/caravan/policy"
)

// rosterState is the roster in force and its keeping: the file an admin
// updates, the trusted copy in the data directory, and the updates refused.
// apply and journal put a new version in force on the network and in the
// journal.
type rosterState struct {
	index    atomic.Pointer[consortium.Index]
	self     peer.ID
	org      string
	file     string // the config's roster file
	dir      datadir.Dir
	log      *zap.Logger
	apply    func(*consortium.Roster)
	journal  func(*consortium.Roster)
	mu       sync.Mutex // serializes roster changes
	rejected atomic.Uint64
	refusals rosterRefusals
}

// startupRoster returns the roster to start with. The configured file must
// verify (signatures and threshold), or Start fails. If the gateway already
// trusts a roster, the file replaces it only by the rules of
// consortium.CheckUpdate; otherwise the trusted one stays in force.
func (rs *rosterState) startup() (*consortium.Roster, error) {
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
	if err := rs.checkSelf(roster); err != nil {
		return nil, err
	}
	return roster, nil
}

func (rs *rosterState) checkSelf(r *consortium.Roster) error {
	org, ok := consortium.NewIndex(r).OrgOf(rs.self)
	if !ok || org != rs.org {
		return fmt.Errorf("%w: peer %s, org %q, roster %s version %d (ask an admin to run 'caravan consortium add-member')",
			ErrNotInRoster, rs.self, rs.org, r.Consortium, r.Version)
	}
	return nil
}

func (rs *rosterState) loadTrusted() (*consortium.Roster, error) {
	r, err := consortium.LoadVerified(rs.dir.TrustedRoster())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trusted roster is damaged: %w", err)
	}
	return r, nil
}

func (rs *rosterState) persistTrusted(r *consortium.Roster) error {
	data, err := r.Marshal()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(rs.dir.State(), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(rs.dir.TrustedRoster(), data, 0o600)
}

// ReloadRoster reads the roster file again and puts it in force if it may
// replace the current one (see consortium.CheckUpdate). If it may not, the
// current roster stays in force and the reason is returned (and logged).
// Reloading the roster in force is not an error.
func (rs *rosterState) Reload() error {
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
	if err := rs.persistTrusted(candidate); err != nil {
		log.Error("roster change not saved; the current roster stays in force", zap.Error(err))
		return err
	}
	rs.apply(candidate)
	rs.journal(candidate)
	log.Info("roster updated", zap.Uint64("from", current.Version), zap.Uint64("to", candidate.Version),
		zap.Int("members", len(candidate.Members)))
	if err := rs.checkSelf(candidate); err != nil {
		log.Error("this node is no longer in the roster; every member will refuse it", zap.Error(err))
	}
	return nil
}

// applyRoster puts r in force: the gater admits its nodes, the keeper dials
// them, and connections to peers it no longer lists are closed.
func (n *Gateway) applyRoster(r *consortium.Roster) {
	x := consortium.NewIndex(r)
	dial := map[peer.ID][]ma.Multiaddr{}
	for _, p := range x.All() {
		if addrs := x.Addrs(p); p != n.self && len(addrs) > 0 {
			dial[p] = addrs // a node listed without addresses dials us
		}
	}
	n.roster.index.Store(x)
	n.gater.SetAllowed(x.All())
	n.gater.SetMemberAddrs(dial)
	n.allow.Set(dial)
	n.keeper.SetPeers(dial)
	for _, p := range n.host.Network().Peers() {
		if !n.gater.Allowed(p) {
			_ = n.host.Network().ClosePeer(p)
		}
	}
}

// Roster returns the roster in force.
func (rs *rosterState) Roster() *consortium.Roster { return rs.index.Load().Roster() }

// OrgOf, HasOrg and Nodes answer the catalog and the fetch server who a
// node speaks for, from the roster in force.
func (rs *rosterState) OrgOf(p peer.ID) (string, bool) { return rs.index.Load().OrgOf(p) }
func (rs *rosterState) HasOrg(org string) bool         { return rs.index.Load().HasOrg(org) }

// Nodes lists the other members' nodes.
func (rs *rosterState) Nodes() []peer.ID {
	var out []peer.ID
	for _, p := range rs.index.Load().All() {
		if p != rs.self {
			out = append(out, p)
		}
	}
	return out
}

// orgEntity returns the policy entity of a member org of the roster in force.
func (rs *rosterState) orgEntity(org string) (policy.Org, bool) {
	m := rs.Roster().Member(org)
	if m == nil {
		return policy.Org{}, false
	}
	return OrgEntity(m), true
}

func (rs *rosterState) refuse(inForce uint64, err error) {
	rs.rejected.Add(1)
	rs.refusals.add(api.RosterRefusal{At: time.Now().UTC(), File: rs.file, InForce: inForce, Reason: err.Error()})
}

// rosterRefusals keeps the newest roster updates refused since the start.
type rosterRefusals struct {
	mu   sync.Mutex
	list []api.RosterRefusal
}

const maxRefusals = 20

func (r *rosterRefusals) add(x api.RosterRefusal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, x)
	if len(r.list) > maxRefusals {
		r.list = r.list[len(r.list)-maxRefusals:]
	}
}

// list is the refusals, oldest first.
func (r *rosterRefusals) all() []api.RosterRefusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]api.RosterRefusal{}, r.list...)
}

// OrgEntity maps a roster member to its policy entity.
func OrgEntity(m *consortium.Member) policy.Org {
	return policy.Org{ID: m.Org, Name: m.Name, Country: m.Country, Sector: m.Sector,
		Roles: append([]string(nil), m.Roles...), Groups: append([]string(nil), m.Groups...)}
}
