package datadir

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/internal/keyfile"
)

// InitOptions configures Init. Config.Org is required; the rest defaults.
type InitOptions struct {
	Dir    string
	Config Config
	// NoOrgKey makes no org key: a further node of an org, which holds
	// the org's key already.
	NoOrgKey bool
}

// ErrExists is returned by Init when the directory already has a node key or
// a config. It is keyfile.ErrExists, so either name works with errors.Is.
var ErrExists = keyfile.ErrExists

// InitResult says what Init created.
type InitResult struct {
	PeerID     peer.ID
	KeyPath    string
	ConfigPath string
	// APIFingerprint is the SHA-256 fingerprint of the self-signed
	// certificate made for the API's TCP listener (api.listen).
	APIFingerprint string
	// OrgKey is the public org key made (DIR/org.key); nil with NoOrgKey.
	OrgKey ed25519.PublicKey
}

// Init creates a gateway data directory: a new Ed25519 node key (mode 0600),
// unless NoOrgKey a new org key (org.key, mode 0600), and a commented
// config file. It refuses to touch a directory that already
// has a key or a config, wrapping keyfile.ErrExists.
func Init(opts InitOptions) (*InitResult, error) {
	cfgBytes, err := opts.Config.Marshal()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	res := &InitResult{
		KeyPath:    Dir(opts.Dir).Key(),
		ConfigPath: Dir(opts.Dir).Config(),
	}
	for _, p := range []string{res.KeyPath, res.ConfigPath} {
		if _, err := os.Stat(p); err == nil {
			return nil, fmt.Errorf("%s: %w (this directory is already a gateway)", p, ErrExists)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	priv, err := keyfile.Generate(res.KeyPath)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(res.ConfigPath, cfgBytes, 0o600); err != nil {
		return nil, err
	}
	policies := opts.Config.Policies
	if policies == "" {
		policies = DefaultPolicies
	}
	if !filepath.IsAbs(policies) {
		if err := os.MkdirAll(filepath.Join(opts.Dir, policies), 0o700); err != nil {
			return nil, err
		}
	}
	if res.APIFingerprint, err = MakeAPICert(opts.Dir, opts.Config.Org); err != nil {
		return nil, err
	}
	if !opts.NoOrgKey {
		org, err := keyfile.Generate(Dir(opts.Dir).OrgKey())
		if err != nil {
			return nil, err
		}
		res.OrgKey = org.Public().(ed25519.PublicKey)
	}
	res.PeerID, err = PeerIDOf(priv)
	return res, err
}

// PeerIDOf returns the libp2p PeerID of an Ed25519 key.
func PeerIDOf(priv ed25519.PrivateKey) (peer.ID, error) {
	k, err := crypto.UnmarshalEd25519PrivateKey(priv)
	if err != nil {
		return "", err
	}
	return peer.IDFromPrivateKey(k)
}

// LoadNodeKey reads DIR/node.key as a libp2p key.
func LoadNodeKey(dir string) (crypto.PrivKey, error) {
	priv, err := keyfile.Load(Dir(dir).Key())
	if err != nil {
		return nil, err
	}
	return crypto.UnmarshalEd25519PrivateKey(priv)
}
