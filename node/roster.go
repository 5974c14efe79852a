package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/internal/atomicfile"
)

// trustedPath is where the gateway keeps the last roster it accepted, so that
// an older file put in place of the roster is recognised as a downgrade.
func (n *Node) trustedPath() string {
	return filepath.Join(n.dir, StateDir, "roster.yaml")
}

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
		roster = trusted
	}
	if err := n.checkSelf(roster); err != nil {
		return nil, err
	}
	return roster, nil
}

func (n *Node) checkSelf(r *consortium.Roster) error {
	org, ok := r.OrgOf(n.self.String())
	if !ok || org != n.cfg.Org {
		return fmt.Errorf("%w: peer %s, org %q, roster %s version %d (ask an admin to run 'caravan consortium add-member')",
			ErrNotInRoster, n.self, n.cfg.Org, r.Consortium, r.Version)
	}
	return nil
}

func (n *Node) loadTrusted() (*consortium.Roster, error) {
	r, err := consortium.LoadVerified(n.trustedPath())
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
	if err := os.MkdirAll(filepath.Join(n.dir, StateDir), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(n.trustedPath(), data, 0o600)
}

// ReloadRoster reads the roster file again and puts it in force if it may
// replace the current one (see consortium.CheckUpdate). If it may not, the
// current roster stays in force and the reason is returned (and logged).
// Reloading the roster in force is not an error.
func (n *Node) ReloadRoster() error {
	n.rosterMu.Lock()
	defer n.rosterMu.Unlock()
	log := n.log.Named("roster")
	current := n.roster.Load()
	candidate, err := consortium.LoadVerified(n.cfg.Roster)
	if err == nil {
		err = consortium.CheckUpdate(current, candidate)
	}
	switch {
	case errors.Is(err, consortium.ErrSameVersion):
		return nil
	case err != nil:
		n.rosterRejected.Add(1)
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
	allowed, dial := rosterPeers(r, n.self)
	n.roster.Store(r)
	n.gater.SetAllowed(allowed)
	n.keeper.SetPeers(dial)
	for _, p := range n.host.Network().Peers() {
		if !n.gater.Allowed(p) {
			_ = n.host.Network().ClosePeer(p)
		}
	}
}

// rosterPeers returns every node the roster lists, and the addresses to
// dial each node other than self at.
func rosterPeers(r *consortium.Roster, self peer.ID) (allowed []peer.ID, dial map[peer.ID][]ma.Multiaddr) {
	dial = map[peer.ID][]ma.Multiaddr{}
	for _, m := range r.Members {
		for _, nd := range m.Nodes {
			p, err := peer.Decode(nd.PeerID)
			if err != nil {
				continue // Validate already refused it
			}
			allowed = append(allowed, p)
			if p == self {
				continue
			}
			for _, s := range nd.Addrs {
				if a, err := ma.NewMultiaddr(s); err == nil {
					dial[p] = append(dial[p], a)
				}
			}
		}
	}
	return allowed, dial
}
