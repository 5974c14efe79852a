// Package keys holds the keys a gateway signs with, and which of them
// signs for its org under the roster in force.
package keys

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/internal/keyfile"
	"github.com/caravan-consortium/caravan/journal"
)

// Signers are the keys the gateway signs with. Its node key authenticates
// it on the network and signs its requests, receipts and cosignatures.
// The key that signs for its org (catalog statements, journal
// checkpoints) is the org key once the roster in force names one for the
// org (held in DIR/org.key), and the node key before (rosters without org
// keys). Each roster version put in force picks it again, so an org
// upgraded to an org key, or whose org key is rotated, signs its next
// statement and checkpoint with the new key; its journal stays one log.
type Signers struct {
	dir  datadir.Dir
	node ed25519.PrivateKey
	org  ed25519.PrivateKey // DIR/org.key; nil if the gateway holds none
	// orgName is the gateway's org.
	orgName    string
	statements atomic.Pointer[ed25519.PrivateKey]
	log        *journal.LogSigner
	zlog       *zap.Logger
}

// errOrgKey is returned when the roster names an org key that the
// gateway does not hold.
var errOrgKey = errors.New("the roster names an org key this gateway does not hold")

// Load picks the keys for roster r: the org key it names, from
// DIR/org.key, or the node key.
func Load(dir datadir.Dir, node ed25519.PrivateKey, orgName string, r *consortium.Roster, log *zap.Logger) (*Signers, error) {
	s := &Signers{dir: dir, node: node, orgName: orgName, zlog: log}
	key, err := s.keyFor(r)
	if err != nil {
		return nil, err
	}
	s.statements.Store(&key)
	if s.log, err = journal.NewSwitchingLogSigner(journal.Origin(r.Consortium, orgName), key); err != nil {
		return nil, err
	}
	return s, nil
}

// keyFor is the key that signs for the org under roster r.
func (s *Signers) keyFor(r *consortium.Roster) (ed25519.PrivateKey, error) {
	m := r.Member(s.orgName)
	if m == nil || m.OrgKey == "" {
		return s.node, nil
	}
	want, err := consortium.ParsePublicKey(m.OrgKey)
	if err != nil {
		return nil, err
	}
	if s.org == nil || !want.Equal(s.org.Public()) { // an org key put in place, or rotated: read it again
		if err := s.readOrgKey(); err != nil {
			return nil, err
		}
	}
	if s.org == nil {
		return nil, fmt.Errorf("%w: roster version %d names %s for %s, and the data directory has no org.key: put the org key there (mode 0600)",
			errOrgKey, r.Version, m.OrgKey, s.orgName)
	}
	if !want.Equal(s.org.Public()) {
		return nil, fmt.Errorf("%w: roster version %d names %s for %s, and org.key holds %s",
			errOrgKey, r.Version, m.OrgKey, s.orgName, consortium.EncodePublicKey(s.org.Public().(ed25519.PublicKey)))
	}
	return s.org, nil
}

// readOrgKey reads DIR/org.key, if there is one.
func (s *Signers) readOrgKey() error {
	org, err := keyfile.Load(s.dir.OrgKey())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.org = nil
	case err != nil:
		return err
	default:
		s.org = org
	}
	return nil
}

// OnRoster picks the keys for a roster version put in force. If the
// gateway does not hold the org key the version names, it says so loudly
// and keeps signing with the key it has: the members will refuse its
// checkpoints until the org key is in place and the gateway restarts.
func (s *Signers) OnRoster(r *consortium.Roster) {
	key, err := s.keyFor(r)
	if err != nil {
		s.zlog.Error("the org's statements and checkpoints are signed with a key the roster no longer names", zap.Error(err))
		return
	}
	if old := *s.statements.Load(); !old.Equal(key) {
		s.zlog.Info("the org signs with another key from now on", zap.Uint64("roster_version", r.Version),
			zap.String("key", consortium.EncodePublicKey(key.Public().(ed25519.PublicKey))))
	}
	s.statements.Store(&key)
	if err := s.log.Use(key); err != nil {
		s.zlog.Error("the journal's checkpoints are still signed with the old key", zap.Error(err))
	}
}

// Statement is the key that signs the org's next catalog statement.
func (s *Signers) Statement() ed25519.PrivateKey { return *s.statements.Load() }

// Log signs the journal's checkpoints with the key in force.
func (s *Signers) Log() *journal.LogSigner { return s.log }
