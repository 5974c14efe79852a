package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/internal/logging"
	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing"
)

// ShutdownTimeout bounds Close.
const ShutdownTimeout = 5 * time.Second

// ErrNotInRoster is returned by Start when this node's PeerID is not listed
// under its org in the roster.
var ErrNotInRoster = errors.New("this node is not listed under its org in the roster")

// Options configures Start. Only Dir is required.
type Options struct {
	Dir string
	// Logger, if set, is used as is; otherwise a logger is built from the
	// config (LogLevel and LogFormat override it) writing to LogOutput
	// (default os.Stderr).
	Logger    *zap.Logger
	LogOutput io.Writer
	LogLevel  string
	LogFormat string
	// OnPolicyChange, if set, is called with every policy bundle put in
	// force, the first one included (the journal's seam).
	OnPolicyChange func(PolicyChange)
}

// Node is a running gateway.
type Node struct {
	dir     string
	cfg     *Config
	log     *zap.Logger
	self    peer.ID
	started time.Time

	key     crypto.PrivKey
	lock    *os.File
	host    host.Host
	gater   *p2p.Gater
	keeper  *p2p.Keeper
	control *controlServer
	watch   *dirWatcher
	pwatch  *dirWatcher
	metrics *metrics

	schemas     *schemas.Registry
	store       *sharing.Store
	sharing     *sharing.Service
	psCancel    context.CancelFunc
	policies    *policyEngine
	journal     *journalService
	fetchServer *sharing.FetchServer
	pubsub      *pubsub.PubSub

	rosterMu       sync.Mutex // serializes roster changes
	roster         atomic.Pointer[consortium.Roster]
	rosterRejected atomic.Uint64

	closeOnce sync.Once
	closeErr  error
}

// Start opens the gateway in opts.Dir and brings it up: it locks the data
// directory, loads the config, key and roster, starts the libp2p host,
// begins dialing the other members and opens the control endpoint. It fails
// if the roster is tampered with or under its threshold, or if this node is
// not in it.
func Start(ctx context.Context, opts Options) (_ *Node, err error) {
	n := &Node{dir: opts.Dir, started: time.Now(), metrics: newMetrics()}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	if n.lock, err = lockDir(opts.Dir); err != nil {
		return nil, err
	}
	if n.cfg, err = LoadConfig(filepath.Join(opts.Dir, ConfigFile)); err != nil {
		return nil, err
	}
	if n.log, err = buildLogger(opts, n.cfg); err != nil {
		return nil, err
	}
	key, err := LoadNodeKey(opts.Dir)
	if err != nil {
		return nil, err
	}
	n.key = key
	if n.self, err = peer.IDFromPrivateKey(key); err != nil {
		return nil, err
	}
	n.log = n.log.With(zap.String("org", n.cfg.Org))
	roster, err := n.startupRoster()
	if err != nil {
		return nil, err
	}
	if err := n.startNetwork(key); err != nil {
		return nil, err
	}
	n.applyRoster(roster)
	if err := n.openJournal(key); err != nil {
		return nil, err
	}
	hooks := []func(PolicyChange){n.journalPolicy}
	if opts.OnPolicyChange != nil {
		hooks = append(hooks, opts.OnPolicyChange)
	}
	if err := n.startPolicies(hooks); err != nil {
		return nil, err
	}
	if err := n.startSharing(key); err != nil {
		return nil, err
	}
	if err := n.journal.start(n.pubsub, JournalTopic(roster.Consortium)); err != nil {
		return nil, err
	}
	n.fetchServer = sharing.NewFetchServer(sharing.FetchConfig{Host: n.host, Store: n.store, Catalog: n.sharing.Catalog,
		Members: members{n}, Key: key, Org: n.cfg.Org, Authorizer: authorizer{n}, Log: n.log.Named("fetch")})
	n.journalRoster(roster)
	if n.control, err = startControl(n); err != nil {
		return nil, err
	}
	if n.watch, err = watchRoster(n); err != nil {
		return nil, err
	}
	if n.pwatch, err = watchPolicies(n); err != nil {
		return nil, err
	}
	n.log.Named("node").Info("gateway started",
		zap.Stringer("peer", n.self),
		zap.Strings("addrs", n.addrStrings()),
		zap.String("consortium", roster.Consortium),
		zap.Uint64("roster_version", roster.Version))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return n, nil
}

func buildLogger(opts Options, cfg *Config) (*zap.Logger, error) {
	if opts.Logger != nil {
		return opts.Logger, nil
	}
	level, format := cfg.Log.Level, cfg.Log.Format
	if opts.LogLevel != "" {
		level = opts.LogLevel
	}
	if opts.LogFormat != "" {
		format = opts.LogFormat
	}
	out := opts.LogOutput
	if out == nil {
		out = os.Stderr
	}
	return logging.New(out, level, format)
}

func (n *Node) startNetwork(key crypto.PrivKey) error {
	var psk pnet.PSK
	if n.cfg.PrivateNetworkKey != "" {
		var err error
		if psk, err = p2p.LoadPSK(n.cfg.PrivateNetworkKey); err != nil {
			return fmt.Errorf("private_network_key: %w", err)
		}
	}
	listen := make([]ma.Multiaddr, 0, len(n.cfg.Listen))
	for _, s := range n.cfg.Listen {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return err
		}
		listen = append(listen, a)
	}
	n.gater = p2p.NewGater(n.log.Named("gater"), nil)
	h, err := p2p.NewHost(p2p.HostConfig{Key: key, Listen: listen, PSK: psk, Limits: n.cfg.limits(), Gater: n.gater})
	if err != nil {
		return err
	}
	n.host = h
	n.keeper, err = p2p.NewKeeper(h, n.log.Named("dial"), p2p.Backoff{Min: n.cfg.Dial.BackoffMin, Max: n.cfg.Dial.BackoffMax})
	return err
}

// PeerID returns this gateway's PeerID.
func (n *Node) PeerID() peer.ID { return n.self }

// Host returns the libp2p host.
func (n *Node) Host() host.Host { return n.host }

// Roster returns the roster in force.
func (n *Node) Roster() *consortium.Roster { return n.roster.Load() }

// Logger returns the gateway's logger.
func (n *Node) Logger() *zap.Logger { return n.log }

// Dir returns the data directory.
func (n *Node) Dir() string { return n.dir }

func (n *Node) addrStrings() []string {
	var out []string
	for _, a := range n.host.Addrs() {
		out = append(out, a.String())
	}
	return out
}

// Close shuts the gateway down: it stops the roster watcher, the dialer, the
// control endpoint and the host, and releases the data directory. It waits at
// most ShutdownTimeout and may be called more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		done := make(chan error, 1)
		go func() { done <- n.shutdown() }()
		select {
		case n.closeErr = <-done:
		case <-time.After(ShutdownTimeout):
			n.closeErr = fmt.Errorf("shutdown did not finish within %v", ShutdownTimeout)
		}
		if n.log != nil && n.host != nil {
			n.log.Named("node").Info("gateway stopped")
		}
	})
	return n.closeErr
}

func (n *Node) shutdown() error {
	var errs []error
	errs = append(errs, n.watch.close(), n.pwatch.close())
	if n.control != nil {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout/2)
		errs = append(errs, n.control.close(ctx))
		cancel()
	}
	if n.fetchServer != nil {
		n.fetchServer.Close()
	}
	if n.sharing != nil {
		errs = append(errs, n.sharing.Close())
	}
	errs = append(errs, n.journal.close())
	if n.psCancel != nil {
		n.psCancel()
	}
	if n.keeper != nil {
		errs = append(errs, n.keeper.Close())
	}
	if n.host != nil {
		errs = append(errs, n.host.Close())
	}
	if n.store != nil {
		errs = append(errs, n.store.Close())
	}
	if n.lock != nil {
		errs = append(errs, n.lock.Close())
	}
	if n.log != nil {
		_ = n.log.Sync()
	}
	return errors.Join(errs...)
}
