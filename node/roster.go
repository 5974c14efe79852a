package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/internal/atomicfile"
)

// startupRoster returns the roster to start with. The configured file must
// verify (signatures and threshold), or Start fails. If the gateway already
// trusts a roster, the file replaces it only by the rules of
// consortium.CheckUpdate; otherwise the trusted one stays in force.
func (n *Node) startupRoster() (*consortium.Roster, error) {
	log := n.log.Named("roster")
	candidate, err := consortium.LoadVerified(n.cfg.Roster)
	if err != nil {
		return nil, fmt.Errorf("roster refused: %w", err)
	}
	trusted, err := n.loadTrusted()
	if err != nil {
		return nil, err
	}
	roster := candidate
	switch err := consortium.CheckUpdate(trusted, candidate); {
	case err == nil:
		if err := n.persistTrusted(candidate); err != nil {
			return nil, err
		}
	case errors.Is(err, consortium.ErrSameVersion):
		roster = trusted
	default:
		log.Error("roster file not accepted; the roster already trusted stays in force",
			zap.String("file", n.cfg.Roster), zap.Error(err), zap.Uint64("in_force", trusted.Version))
		n.rosterRejected.Add(1)
		n.refusals.add(api.RosterRefusal{At: time.Now().UTC(), File: n.cfg.Roster, InForce: trusted.Version, Reason: err.Error()})
		roster = trusted
	}
	if err := n.checkSelf(roster); err != nil {
		return nil, err
	}
	return roster, nil
}

func (n *Node) checkSelf(r *consortium.Roster) error {
	org, ok := consortium.NewIndex(r).OrgOf(n.self)
	if !ok || org != n.cfg.Org {
		return fmt.Errorf("%w: peer %s, org %q, roster %s version %d (ask an admin to run 'caravan consortium add-member')",
			ErrNotInRoster, n.self, n.cfg.Org, r.Consortium, r.Version)
	}
	return nil
}

func (n *Node) loadTrusted() (*consortium.Roster, error) {
	r, err := consortium.LoadVerified(n.dir.TrustedRoster())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trusted roster is damaged: %w", err)
	}
	return r, nil
}

func (n *Node) persistTrusted(r *consortium.Roster) error {
	data, err := r.Marshal()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(n.dir.State(), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(n.dir.TrustedRoster(), data, 0o600)
}

// ReloadRoster reads the roster file again and puts it in force if it may
// replace the current one (see consortium.CheckUpdate). If it may not, the
// current roster stays in force and the reason is returned (and logged).
// Reloading the roster in force is not an error.
func (n *Node) ReloadRoster() error {
	n.rosterMu.Lock()
	defer n.rosterMu.Unlock()
	log := n.log.Named("roster")
	current := n.Roster()
	candidate, err := consortium.LoadVerified(n.cfg.Roster)
	if err == nil {
		err = consortium.CheckUpdate(current, candidate)
	}
	switch {
	case errors.Is(err, consortium.ErrSameVersion):
		return nil
	case err != nil:
		n.rosterRejected.Add(1)
		n.refusals.add(api.RosterRefusal{At: time.Now().UTC(), File: n.cfg.Roster, InForce: current.Version, Reason: err.Error()})
		log.Error("roster change refused; the current roster stays in force",
			zap.Uint64("in_force", current.Version), zap.Error(err))
		return err
	}
	if err := n.persistTrusted(candidate); err != nil {
		log.Error("roster change not saved; the current roster stays in force", zap.Error(err))
		return err
	}
	n.applyRoster(candidate)
	n.journalRoster(candidate)
	log.Info("roster updated", zap.Uint64("from", current.Version), zap.Uint64("to", candidate.Version),
		zap.Int("members", len(candidate.Members)))
	if err := n.checkSelf(candidate); err != nil {
		log.Error("this node is no longer in the roster; every member will refuse it", zap.Error(err))
	}
	return nil
}

// applyRoster puts r in force: the gater admits its nodes, the keeper dials
// them, and connections to peers it no longer lists are closed.
func (n *Node) applyRoster(r *consortium.Roster) {
	x := consortium.NewIndex(r)
	dial := map[peer.ID][]ma.Multiaddr{}
	for _, p := range x.All() {
		if addrs := x.Addrs(p); p != n.self && len(addrs) > 0 {
			dial[p] = addrs // a node listed without addresses dials us
		}
	}
	n.index.Store(x)
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
func (n *Node) Roster() *consortium.Roster { return n.index.Load().Roster() }

// members is the roster in force, as the catalog and the fetch server ask
// it who a node speaks for.
type members struct{ n *Node }

func (m members) OrgOf(p peer.ID) (string, bool) { return m.n.index.Load().OrgOf(p) }
func (m members) HasOrg(org string) bool         { return m.n.index.Load().HasOrg(org) }

// Nodes lists the other members' nodes.
func (m members) Nodes() []peer.ID {
	var out []peer.ID
	for _, p := range m.n.index.Load().All() {
		if p != m.n.self {
			out = append(out, p)
		}
	}
	return out
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

// RosterRefusals lists the roster updates refused since the gateway
// started (the newest 20), oldest first.
func (n *Node) RosterRefusals() []api.RosterRefusal {
	n.refusals.mu.Lock()
	defer n.refusals.mu.Unlock()
	return append([]api.RosterRefusal{}, n.refusals.list...)
}
