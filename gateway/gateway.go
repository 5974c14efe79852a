package gateway

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/gateway/keys"
	"github.com/caravan-consortium/caravan/gateway/metrics"
	"github.com/caravan-consortium/caravan/gateway/policies"
	"github.com/caravan-consortium/caravan/gateway/roster"
	"github.com/caravan-consortium/caravan/gateway/storage"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/api/server"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/internal/dirwatch"
	"github.com/caravan-consortium/caravan/internal/keyfile"
	"github.com/caravan-consortium/caravan/internal/logging"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/journal/witness"
	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/policy"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing/catalog"
	"github.com/caravan-consortium/caravan/sharing/fetch"
	"github.com/caravan-consortium/caravan/sharing/publish"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// ShutdownTimeout bounds Close.
const ShutdownTimeout = 5 * time.Second

// ErrNotInRoster is returned by Start when this node's PeerID is not listed
// under its org in the roster.
var ErrNotInRoster = roster.ErrNotInRoster

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
	OnPolicyChange func(policies.Change)
	// Console, if set, makes the console that the TCP listener serves
	// under /console/ (console.Handler; cmd/caravan passes it).
	Console Console
	// NodeKey, if set, is the node key's file in place of DIR/node.key,
	// and Listen, if set, replaces the config's listen addresses: a
	// second node of the org, run on the same data directory (standby.go).
	NodeKey string
	Listen  []string
	// RouteKlog sends klog's output (tessera, the journal, logs through
	// klog) to the gateway's log as soon as it has one, before the journal
	// opens. klog is process-wide: the command sets it, not a test that
	// runs several gateways in one process.
	RouteKlog bool
	// Standby waits for the data directory's lock, held by the org's node
	// that runs, and starts when it is released (the node stopped, or was
	// killed): a hot standby. Without it, a held lock fails the start.
	Standby bool
}

// Gateway is a running gateway: it starts and stops the parts, and builds
// the services the API serves (services.go). It is not itself a service.
type Gateway struct {
	dir     datadir.Dir
	cfg     *datadir.Config
	log     *zap.Logger
	self    peer.ID
	started time.Time

	key       crypto.PrivKey     // the node key, as libp2p takes it
	signer    ed25519.PrivateKey // the same key: statements, checkpoints, cosignatures
	lock      *os.File
	host      host.Host
	gater     *p2p.Gater
	keeper    *p2p.Keeper
	pubsub    *pubsub.PubSub
	psDrops   p2p.GossipDrops // what GossipSub dropped itself
	psStop    context.CancelFunc
	api       *server.Server
	console   Console
	apiStatus atomic.Pointer[api.APIStatus] // the TCP listener, if any
	watch     *dirwatch.Watcher
	pwatch    *dirwatch.Watcher
	metrics   *metrics.Metrics
	allow     *p2p.MemberAllowlist // members' own connection slots

	roster      *roster.Keeper
	exchange    *roster.Exchange
	signers     *keys.Signers
	journal     *journaler
	witness     *witness.Service
	policies    *policies.Engine
	registry    *schemas.Registry // the consortium's dataset schemas (registry.go)
	registrar   *registrar
	discovery   *discovery
	backend     *storage.Backend // the store, the journal's place, the volume ledger
	stopFollow  func()           // the policy engine's following of the org's shared bundle
	catalog     *catalog.Catalog
	gossip      *catalog.Service
	publisher   *publish.Publisher
	fetchServer *fetch.Server
	requester   *fetch.Requester
	services    server.Services

	closeOnce sync.Once
	closeErr  error
}

// Start opens the gateway in opts.Dir and brings it up: it locks the data
// directory, loads the config, key and roster, starts the libp2p host,
// begins dialing the other members and serves the API. It fails if the
// roster is tampered with or under its threshold, or if this node is not in
// it.
func Start(ctx context.Context, opts Options) (_ *Gateway, err error) {
	n := &Gateway{dir: datadir.Dir(opts.Dir), started: time.Now(), metrics: metrics.New(), console: opts.Console}
	n.metrics.Register(metrics.State(stateSources(n)))
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	if n.cfg, err = datadir.LoadConfig(n.dir.Config()); err != nil {
		return nil, err
	}
	if n.log, err = buildLogger(opts, n.cfg); err != nil {
		return nil, err
	}
	if opts.RouteKlog {
		logging.RouteKlog(n.log.Named("tessera"))
	}
	if err := n.takeNode(ctx, opts); err != nil {
		return nil, err
	}
	n.log = n.log.With(zap.String("org", n.cfg.Org))
	roster, err := n.startRoster(ctx)
	if err != nil {
		return nil, err
	}
	if n.signers, err = keys.Load(n.dir, n.signer, n.cfg.Org, roster, n.log.Named("keys")); err != nil {
		return nil, err
	}
	if err := n.startNetwork(); err != nil {
		return nil, err
	}
	n.applyRoster(roster)
	if err := n.openState(); err != nil {
		return nil, err
	}
	pcfg := policies.Config{Dir: n.cfg.Policies, Intent: n.dir.PolicyIntent(), Ledger: n.dir.Ledger(), Volume: n.backend.Volume, Shared: n.backend.Policies, Log: n.log.Named("policy"),
		Vocabulary: func() (*policy.Vocabulary, error) { return policy.VocabularyOf(n.registry) },
		Journal:    n.journal.policy, OnBundle: n.metrics.PolicyBundle, OnReload: n.metrics.PolicyReload}
	if opts.OnPolicyChange != nil {
		pcfg.OnChange = append(pcfg.OnChange, opts.OnPolicyChange)
	}
	if n.policies, err = policies.Open(pcfg); err != nil {
		return nil, err
	}
	if err := n.startServices(); err != nil {
		return nil, err
	}
	n.journal.roster(roster)
	l, err := api.ListenSocket(opts.Dir)
	if err != nil {
		return nil, err
	}
	n.requester = n.newRequester()
	n.services = n.buildServices()
	n.api = server.New(n.services, server.Options{Metrics: n.metrics.Handler(), Logger: n.log.Named("control")})
	n.api.Serve(l)
	if err := n.serveAPI(); err != nil {
		return nil, err
	}
	if n.watch, err = n.roster.Watch(); err != nil {
		return nil, err
	}
	if n.pwatch, err = n.policies.Watch(); err != nil {
		return nil, err
	}
	n.followPolicies()
	n.log.Named("node").Info("gateway started",
		zap.Stringer("peer", n.self),
		zap.Strings("addrs", addrStrings(n.host)),
		zap.String("consortium", roster.Consortium),
		zap.Uint64("roster_version", roster.Version))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return n, nil
}

// stateSources are the parts the metrics read the gateway's state from,
// once they have started.
func stateSources(n *Gateway) func() (metrics.Sources, bool) {
	return func() (metrics.Sources, bool) {
		if n.witness == nil { // the last part started
			return metrics.Sources{}, false
		}
		return metrics.Sources{Org: n.cfg.Org, Host: n.host, Roster: n.roster.Roster(), Gater: n.gater, Catalog: n.catalog,
			Gossip: n.gossip, Drops: &n.psDrops, Witness: n.witness}, true
	}
}

// takeNode takes the data directory (a standby waits for it) and this
// node's key and addresses.
func (n *Gateway) takeNode(ctx context.Context, opts Options) (err error) {
	if n.lock, err = lockDir(ctx, opts, n.log); err != nil {
		return err
	}
	if len(opts.Listen) > 0 {
		n.cfg.Listen = opts.Listen
	}
	return n.loadKey(cmp.Or(opts.NodeKey, n.dir.Key()))
}

// loadKey reads the node key.
func (n *Gateway) loadKey(path string) error {
	priv, err := keyfile.Load(path)
	if err != nil {
		return err
	}
	key, err := crypto.UnmarshalEd25519PrivateKey(priv)
	if err != nil {
		return err
	}
	n.key, n.signer = key, priv
	n.self, err = peer.IDFromPrivateKey(key)
	return err
}

// followPolicies has the policy engine follow the bundle the org's other
// nodes share (cluster storage) until the gateway closes.
func (n *Gateway) followPolicies() {
	ctx, stop := context.WithCancel(context.Background())
	n.stopFollow = stop
	go n.policies.FollowShared(ctx, 2*time.Second)
}

// startRoster opens the backend the config names (embedded or cluster:
// on a cluster, the org's node delegations are shared, so a node that
// only a delegation lists starts), then the roster in force.
func (n *Gateway) startRoster(ctx context.Context) (*consortium.Roster, error) {
	var err error
	if n.backend, err = storage.Open(ctx, n.cfg, n.dir, n.log.Named("store")); err != nil {
		return nil, err
	}
	n.roster = roster.New(roster.Config{Self: n.self, Org: n.cfg.Org, File: n.cfg.Roster, Dir: n.dir, Log: n.log.Named("roster"),
		Shared: n.backend.Delegations, Apply: n.applyRoster, Journal: func(r *consortium.Roster) { n.journal.roster(r) }})
	return n.roster.Startup()
}

// openState opens the journal and the catalog on the backend.
func (n *Gateway) openState() error {
	var err error
	if n.journal, err = openJournal(n.backend, n.cfg.Org, n.signers.Log(), n.log.Named("journal")); err != nil {
		return err
	}
	return n.openCatalog()
}

// openCatalog opens the catalog from the store, and the schema registry
// that the catalog's registrations make (the policies are checked against
// it).
func (n *Gateway) openCatalog() error {
	var err error
	if n.catalog, err = catalog.Open(n.backend.Store); err != nil {
		return err
	}
	n.catalog.SetQuota(n.cfg.CatalogQuota())
	n.registry = loadRegistry(n.catalog, n.log.Named("schemas"))
	n.registrar = &registrar{registry: n.registry, log: n.log.Named("schemas"), added: func() { n.policies.ReloadIfWaiting() }}
	return nil
}

// startServices starts GossipSub once for the topics of the catalog and the
// journal, and the services over them: the catalog's gossip and catch-up,
// the publisher, the journal's network side and the fetch server.
func (n *Gateway) startServices() error {
	var err error
	consortiumName := n.roster.Roster().Consortium
	n.discovery = &discovery{org: n.cfg.Org, catalog: n.catalog, policies: n.policies, roster: n.roster, journal: n.journal}
	if err := n.startPubSub(catalog.Topic(consortiumName), witness.Topic(consortiumName), roster.Topic(consortiumName)); err != nil {
		return err
	}
	if n.exchange, err = roster.NewExchange(roster.ExchangeConfig{Host: n.host, PubSub: n.pubsub, Keeper: n.roster,
		Log: n.log.Named("roster")}); err != nil {
		return err
	}
	if n.gossip, err = catalog.NewService(catalog.ServiceConfig{Host: n.host, PubSub: n.pubsub, Topic: catalog.Topic(consortiumName),
		Catalog: n.catalog, Members: n.roster, Log: n.log.Named("catalog"),
		Check: checkStatement, OnStatement: n.registrar.add, Self: n.cfg.Org, Disclose: n.discovery.disclose}); err != nil {
		return err
	}
	n.publisher = publish.New(publish.Config{Store: n.backend.Store, Catalog: n.catalog, KeyInForce: n.signers.Statement, Org: n.cfg.Org,
		Journal: n.journal.statement, Announce: n.gossip.Announce, Seal: n.discovery.sealManifest})
	if n.witness, err = witness.New(witness.Config{Host: n.host, PubSub: n.pubsub, Org: n.cfg.Org, Log: n.journal.log, Key: n.signer,
		Roster: n.roster.Index, Logger: n.log.Named("journal"), OnFork: n.metrics.JournalFork, OnWitnessed: n.metrics.WitnessedAfter,
		Dirs: witness.Dirs{Mirror: n.dir.Mirror, Witnessed: n.dir.Witnessed(), Alerts: n.dir.Alerts()}}); err != nil {
		return err
	}
	auth := &authorizer{roster: n.roster, registry: n.registry, policies: n.policies, catalog: n.catalog, discovery: n.discovery,
		journal: n.journal, metrics: n.metrics, log: n.log.Named("fetch")}
	n.fetchServer = fetch.NewServer(fetch.ServerConfig{Host: n.host, Store: n.backend.Store, Manifests: n.catalog, Members: n.roster,
		Budget: fetch.Budget{RequestsPerMinute: n.cfg.Fetch.RequestsPerMinute, RecordsPerHour: n.cfg.Fetch.RecordsPerHour},
		Key:    n.signer, Org: n.cfg.Org, Authorizer: auth, Log: n.log.Named("fetch")})
	return nil
}

// buildLogger is opts.Logger, or a logger of the config's level and
// format (the options' own, if set) writing to opts.LogOutput or stderr.
func buildLogger(opts Options, cfg *datadir.Config) (*zap.Logger, error) {
	if opts.Logger != nil {
		return opts.Logger, nil
	}
	return logging.New(cmp.Or[io.Writer](opts.LogOutput, os.Stderr), cmp.Or(opts.LogLevel, cfg.Log.Level), cmp.Or(opts.LogFormat, cfg.Log.Format))
}

func (n *Gateway) startNetwork() error {
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
	h, err := p2p.NewHost(p2p.HostConfig{Key: n.key, Listen: listen, PSK: psk, Limits: n.cfg.P2PLimits(), Gater: n.gater})
	if err != nil {
		return err
	}
	n.host = h
	n.allow = p2p.NewMemberAllowlist(h)
	n.keeper, err = p2p.NewKeeper(h, n.log.Named("dial"), p2p.Backoff{Min: n.cfg.Dial.BackoffMin, Max: n.cfg.Dial.BackoffMax})
	return err
}

// startPubSub starts GossipSub, once, for the topics the services declare,
// with the other members as direct peers.
func (n *Gateway) startPubSub(topics ...string) error {
	var direct []peer.AddrInfo
	x := n.roster.Index()
	for _, p := range x.All() {
		if addrs := x.Addrs(p); p != n.self && len(addrs) > 0 {
			direct = append(direct, peer.AddrInfo{ID: p, Addrs: addrs})
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.psStop = cancel
	var err error
	n.pubsub, err = p2p.NewPubSub(ctx, n.host, p2p.PubSubOptions{Direct: direct, Topics: topics, Drops: &n.psDrops})
	return err
}

// PeerID returns this gateway's PeerID.
func (n *Gateway) PeerID() peer.ID { return n.self }

// Host returns the libp2p host.
func (n *Gateway) Host() host.Host { return n.host }

// Logger returns the gateway's logger.
func (n *Gateway) Logger() *zap.Logger { return n.log }

// Dir returns the data directory.
func (n *Gateway) Dir() string { return string(n.dir) }

// Store returns the gateway's store (embedded or cluster).
func (n *Gateway) Store() store.Store { return n.backend.Store }

// Registry returns the dataset schema registry.
func (n *Gateway) Registry() *schemas.Registry { return n.registry }

// Policies returns the policy bundle in force.
func (n *Gateway) Policies() *policy.Bundle { return n.policies.Bundle() }

// PolicyLedger returns the ledger behind released_today.
func (n *Gateway) PolicyLedger() policy.Volume { return n.policies.Ledger() }

// Roster returns the roster in force.
func (n *Gateway) Roster() *consortium.Roster { return n.roster.Roster() }

// Append journals an event of this org; it returns once the entry is durable.
func (n *Gateway) Append(ctx context.Context, e *journal.Event) (uint64, error) {
	return n.journal.Append(ctx, e)
}

// Services are the gateway's services, as the API serves them.
func (n *Gateway) Services() server.Services { return n.services }

// Close shuts the gateway down: it stops the roster watcher, the dialer, the
// control endpoint and the host, and releases the data directory. It waits at
// most ShutdownTimeout and may be called more than once.
func (n *Gateway) Close() error {
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

func (n *Gateway) shutdown() error {
	var errs []error
	errs = append(errs, n.watch.Close(), n.pwatch.Close())
	if n.api != nil {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout/2)
		errs = append(errs, n.api.Close(ctx))
		cancel()
	}
	if n.requester != nil {
		n.requester.Close()
	}
	if n.fetchServer != nil {
		n.fetchServer.Close()
	}
	if n.gossip != nil {
		errs = append(errs, n.gossip.Close())
	}
	if n.exchange != nil {
		errs = append(errs, n.exchange.Close())
	}
	if n.stopFollow != nil {
		n.stopFollow()
	}
	if n.witness != nil {
		errs = append(errs, n.witness.Close())
	}
	if n.journal != nil {
		errs = append(errs, n.journal.log.Close())
	}
	if n.psStop != nil {
		n.psStop()
	}
	if n.keeper != nil {
		errs = append(errs, n.keeper.Close())
	}
	if n.host != nil {
		errs = append(errs, n.host.Close())
	}
	if n.backend != nil {
		errs = append(errs, n.backend.Close())
	}
	if n.lock != nil {
		errs = append(errs, n.lock.Close())
	}
	if n.log != nil {
		_ = n.log.Sync()
	}
	return errors.Join(errs...)
}
