package datadir

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"text/template"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/caravan-consortium/caravan/internal/logging"
	"github.com/caravan-consortium/caravan/internal/yamlfile"
	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/sharing/catalog"
	"github.com/caravan-consortium/caravan/sharing/fetch"
)

// Config is a gateway's configuration, read from DIR/caravan.yaml. The zero
// value, with Org set, is a working configuration: validate fills in the
// defaults.
type Config struct {
	// Org is this gateway's organization id in the roster.
	Org string `yaml:"org"`
	// Roster is the path of the signed consortium roster; a relative path is
	// relative to the directory of the config file. Default "consortium.yaml".
	Roster string `yaml:"roster"`
	// Policies is the directory of this org's Cedar policies (*.cedar); a
	// relative path is relative to the config file's directory. Default
	// "policies". An empty or missing directory denies everything.
	Policies string `yaml:"policies"`
	// Listen lists the multiaddrs to listen on. Default: TCP and QUIC on
	// port 4001 of all interfaces.
	Listen []string `yaml:"listen"`
	// PrivateNetworkKey is the path of an optional swarm.key (pnet PSK).
	// Private networks are TCP-only: no QUIC listen address may be given.
	PrivateNetworkKey string `yaml:"private_network_key"`
	// Log sets the gateway's logger.
	Log LogConfig `yaml:"log"`
	// Limits caps the resources peers may use.
	Limits LimitsConfig `yaml:"limits"`
	// Dial bounds the backoff between redials of a member.
	Dial DialConfig `yaml:"dial"`
	// Fetch bounds what each partner org may ask of this gateway.
	Fetch FetchConfig `yaml:"fetch"`
	// Catalog bounds what the catalog keeps of each member org.
	Catalog CatalogConfig `yaml:"catalog"`
	// API is the optional TCP listener of the API.
	API APIConfig `yaml:"api"`
	// Storage is where the store and the journal are kept: embedded
	// (default: Pebble and the journal's tiles in the data directory, one
	// node) or cluster (a MySQL-compatible database and an S3-compatible
	// bucket, shared by every node of the organization).
	Storage string `yaml:"storage"`
	// ClusterEnv is the file (KEY=VALUE lines, mode 0600) that says how to
	// reach the cluster's database and bucket: CARAVAN_DB_DSN,
	// CARAVAN_S3_ENDPOINT, CARAVAN_S3_BUCKET, CARAVAN_S3_REGION,
	// CARAVAN_S3_ACCESS_KEY and CARAVAN_S3_SECRET_KEY; each may be set in
	// the environment instead, which wins. A relative path is relative to
	// the config file's directory. Empty: the environment alone. Never
	// write these values in the config itself.
	ClusterEnv string `yaml:"cluster_env"`
}

// The storage backends (Config.Storage; package gateway/storage opens
// them).
const (
	storageEmbedded = "embedded"
	storageCluster  = "cluster"
)

// APIConfig is the optional TCP listener of the gateway's API, besides its
// Unix socket: TLS, and an API token with the route's scope on every call.
type APIConfig struct {
	// Listen is host:port, such as 0.0.0.0:8443; empty: no TCP listener.
	Listen string `yaml:"listen"`
	// TLSCert and TLSKey are PEM files; relative paths are relative to the
	// config file's directory. Empty: the self-signed certificate that
	// caravan init made (DIR/api-tls.crt and DIR/api-tls.key).
	TLSCert string `yaml:"tls_cert"`
	// TLSKey is the certificate's private key (see TLSCert).
	TLSKey string `yaml:"tls_key"`
}

// CatalogConfig bounds what the catalog keeps of each member org; zero
// takes the defaults. Every member should set the same values.
type CatalogConfig struct {
	// StatementsPerOrg is how many statements the catalog keeps of one org.
	// 0: the catalog's default (50,000).
	StatementsPerOrg int `yaml:"statements_per_org"`
	// MegabytesPerOrg is how many megabytes of statements the catalog
	// keeps of one org. 0: the catalog's default (64).
	MegabytesPerOrg int `yaml:"megabytes_per_org"`
}

// FetchConfig is what each partner org may ask of this gateway as a
// provider; zero takes the defaults.
type FetchConfig struct {
	// RequestsPerMinute is how many fetch requests one partner org may make
	// a minute. 0: the default (60).
	RequestsPerMinute int `yaml:"requests_per_minute"`
	// RecordsPerHour is how many records one partner org may be sent an
	// hour. 0: the default (20,000,000).
	RecordsPerHour int `yaml:"records_per_hour"`
}

// LogConfig sets the logger.
type LogConfig struct {
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
	// Format is console (default) or json.
	Format string `yaml:"format"`
}

// LimitsConfig caps the resources peers may use; zero takes p2p's defaults.
type LimitsConfig struct {
	// Conns caps the connections of the whole gateway. 0: the default (128).
	Conns int `yaml:"conns"`
	// Streams caps the streams of the whole gateway. 0: the default (2048).
	Streams int `yaml:"streams"`
	// StreamsPerPeer caps the streams of one peer. 0: the default (256).
	StreamsPerPeer int `yaml:"streams_per_peer"`
	// MemoryMB caps the memory the resource manager grants, in megabytes.
	// 0: the default (256).
	MemoryMB int `yaml:"memory_mb"`
	// FDs caps the file descriptors the resource manager grants. 0: the
	// default (512).
	FDs int `yaml:"fds"`
}

// DialConfig bounds the backoff between redials of a member.
type DialConfig struct {
	// BackoffMin is the first wait before redialing a member, a duration
	// such as 1s. 0: the default (500ms).
	BackoffMin time.Duration `yaml:"backoff_min"`
	// BackoffMax is the longest wait between redials, a duration such as
	// 1m. 0: the default (30s).
	BackoffMax time.Duration `yaml:"backoff_max"`
}

// defaultListen is used when Config.Listen is empty.
var defaultListen = []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"}

var orgPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// validate fills in defaults and rejects nonsense. Errors are
// *yamlfile.Error values naming the field (file and line are added by
// LoadConfig).
func (c *Config) validate() error {
	if !orgPattern.MatchString(c.Org) {
		return fieldErr("org", "%q is not a valid org id (lower-case letters, digits, '.', '_', '-')", c.Org)
	}
	if c.Roster == "" {
		c.Roster = "consortium.yaml"
	}
	if c.Policies == "" {
		c.Policies = DefaultPolicies
	}
	if len(c.Listen) == 0 {
		c.Listen = append([]string(nil), defaultListen...)
	}
	for i, s := range c.Listen {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return fieldErr(fmt.Sprintf("listen[%d]", i), "%q is not a multiaddr: %v", s, err)
		}
		if c.PrivateNetworkKey != "" && p2p.IsQUIC(a) {
			return fieldErr(fmt.Sprintf("listen[%d]", i), "%s: %v; remove it or the private_network_key", s, p2p.ErrQUICWithPSK)
		}
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = logging.FormatConsole
	}
	if err := logging.CheckLevel(c.Log.Level); err != nil {
		return fieldErr("log.level", "%v", err)
	}
	if err := logging.CheckFormat(c.Log.Format); err != nil {
		return fieldErr("log.format", "%v", err)
	}
	if err := c.P2PLimits().Validate(); err != nil {
		return fieldErr("limits."+errField(err), "%v", errMsg(err))
	}
	if c.Dial.BackoffMin < 0 || c.Dial.BackoffMax < 0 {
		return fieldErr("dial", "backoff durations must not be negative")
	}
	if c.Dial.BackoffMin == 0 {
		c.Dial.BackoffMin = p2p.DefaultBackoffMin
	}
	if c.Dial.BackoffMax == 0 {
		c.Dial.BackoffMax = p2p.DefaultBackoffMax
	}
	if c.Dial.BackoffMax < c.Dial.BackoffMin {
		return fieldErr("dial.backoff_max", "%v is less than backoff_min (%v)", c.Dial.BackoffMax, c.Dial.BackoffMin)
	}
	if c.Fetch.RequestsPerMinute < 0 {
		return fieldErr("fetch.requests_per_minute", "%d is negative", c.Fetch.RequestsPerMinute)
	}
	if c.Fetch.RecordsPerHour < 0 {
		return fieldErr("fetch.records_per_hour", "%d is negative", c.Fetch.RecordsPerHour)
	}
	if err := c.validateAPIAndStorage(); err != nil {
		return err
	}
	b := fetch.Budget{RequestsPerMinute: c.Fetch.RequestsPerMinute, RecordsPerHour: c.Fetch.RecordsPerHour}.WithDefaults()
	c.Fetch = FetchConfig{RequestsPerMinute: b.RequestsPerMinute, RecordsPerHour: b.RecordsPerHour}
	if c.Catalog.StatementsPerOrg < 0 {
		return fieldErr("catalog.statements_per_org", "%d is negative", c.Catalog.StatementsPerOrg)
	}
	if c.Catalog.MegabytesPerOrg < 0 {
		return fieldErr("catalog.megabytes_per_org", "%d is negative", c.Catalog.MegabytesPerOrg)
	}
	if c.Catalog.StatementsPerOrg == 0 {
		c.Catalog.StatementsPerOrg = catalog.DefaultQuotaStatements
	}
	if c.Catalog.MegabytesPerOrg == 0 {
		c.Catalog.MegabytesPerOrg = catalog.DefaultQuotaBytes >> 20
	}
	return nil
}

// CatalogQuota is the catalog's quota of each member org.
func (c *Config) CatalogQuota() catalog.Quota {
	return catalog.Quota{Statements: c.Catalog.StatementsPerOrg, Bytes: int64(c.Catalog.MegabytesPerOrg) << 20}
}

// P2PLimits are the libp2p resource limits.
func (c *Config) P2PLimits() p2p.Limits {
	return p2p.Limits{
		Conns:          c.Limits.Conns,
		Streams:        c.Limits.Streams,
		StreamsPerPeer: c.Limits.StreamsPerPeer,
		MemoryMB:       c.Limits.MemoryMB,
		FDs:            c.Limits.FDs,
	}.WithDefaults()
}

func fieldErr(field, format string, args ...any) error {
	return &yamlfile.Error{Field: field, Err: fmt.Errorf(format, args...)}
}

// errField and errMsg split p2p's "field: message" validation errors.
func errField(err error) string {
	f, _, _ := bytes.Cut([]byte(err.Error()), []byte(":"))
	return string(f)
}

func errMsg(err error) string {
	_, m, _ := bytes.Cut([]byte(err.Error()), []byte(": "))
	return string(m)
}

func (c *Config) validateAPIAndStorage() error {
	if c.API.Listen != "" {
		if _, _, err := net.SplitHostPort(c.API.Listen); err != nil {
			return fieldErr("api.listen", "%q is not host:port (such as 0.0.0.0:8443): %v", c.API.Listen, err)
		}
	}
	if (c.API.TLSCert == "") != (c.API.TLSKey == "") {
		return fieldErr("api.tls_cert", "give both tls_cert and tls_key, or neither (the self-signed certificate)")
	}
	switch c.Storage {
	case "":
		c.Storage = storageEmbedded
	case storageEmbedded, storageCluster:
	default:
		return fieldErr("storage", "%q: want embedded or cluster", c.Storage)
	}
	if c.ClusterEnv != "" && c.Storage != storageCluster {
		return fieldErr("cluster_env", "is for storage: cluster only")
	}
	return nil
}

// LoadConfig reads and validates the config file at path. Relative paths in
// it are resolved against the file's directory. Errors name the file, the
// line and the field.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Config
	if err := yamlfile.Decode(path, data, &c); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		var ye *yamlfile.Error
		if errors.As(err, &ye) {
			ye.File = path
			ye.Line = yamlfile.Line(data, ye.Field)
		}
		return nil, err
	}
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	c.Roster = resolve(base, c.Roster)
	c.Policies = resolve(base, c.Policies)
	if c.PrivateNetworkKey != "" {
		c.PrivateNetworkKey = resolve(base, c.PrivateNetworkKey)
	}
	if c.API.TLSCert != "" {
		c.API.TLSCert, c.API.TLSKey = resolve(base, c.API.TLSCert), resolve(base, c.API.TLSKey)
	}
	if c.ClusterEnv != "" {
		c.ClusterEnv = resolve(base, c.ClusterEnv)
	}
	return &c, nil
}

func resolve(base, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

var configTemplate = template.Must(template.New("config").Parse(`# Caravan gateway configuration for org "{{.Org}}".
# Every field is optional except org; the values shown are the defaults
# unless noted. Format errors are reported with this file's name and line.

# This gateway's organization id, as listed in the consortium roster.
org: {{.Org}}

# The signed consortium roster (see 'caravan consortium --help'). A relative
# path is relative to this file's directory. The gateway refuses to start on
# a roster that is tampered with or signed below its threshold, and reloads
# it when the file changes or on SIGHUP: a newer version signed by the
# threshold of the current admins replaces the old one; a lower version never
# does.
roster: {{.Roster}}

# The directory of this org's access policies: Cedar files (*.cedar) checked
# against the Cedar schema of the schema registry ('caravan policy schema
# --dir DIR' prints it; schemas/registry.md). This org's gateway
# decides with them, record by record, what each partner may discover and
# fetch. Default deny: with no policies, nothing is shared. The gateway
# reloads the directory when a file changes (or on SIGHUP); a bundle with any
# error is refused and the one in force stays. Check a change first with
# 'caravan policy check DIR --dir GATEWAY' and 'caravan policy test DIR
# CASES.yaml'.
policies: {{.Policies}}

# Multiaddrs to listen on: TCP and QUIC (v1).
listen:
{{- range .Listen}}
  - {{.}}
{{- end}}

# Optional path of a pre-shared network key (a go-libp2p swarm.key) that
# every member uses. libp2p private networks are TCP-only: with a key set,
# remove the QUIC listen address.
private_network_key: "{{.PrivateNetworkKey}}"

log:
  level: {{.Log.Level}}     # debug, info, warn or error
  format: {{.Log.Format}}  # console (human-readable) or json

# Resource-manager limits for the peer-to-peer host.
limits:
  conns: {{.Limits.Conns}}              # open connections in all
  streams: {{.Limits.Streams}}           # open streams in all
  streams_per_peer: {{.Limits.StreamsPerPeer}}   # open streams per peer
  memory_mb: {{.Limits.MemoryMB}}          # memory reserved by connections and streams
  fds: {{.Limits.FDs}}                # file descriptors for sockets

# Redial of members that are unreachable: exponential backoff with jitter.
dial:
  backoff_min: {{.Dial.BackoffMin}}
  backoff_max: {{.Dial.BackoffMax}}

# What each partner org may ask of this gateway's datasets: fetch requests a
# minute, and records decided an hour (every record a request selects, or
# the whole dataset). A request beyond it is refused before anything is
# read, decided or journaled.
fetch:
  requests_per_minute: {{.Fetch.RequestsPerMinute}}
  records_per_hour: {{.Fetch.RecordsPerHour}}

# What the catalog keeps of each member org: its signed statements
# (manifests, retractions, schema registrations) and their size. A statement
# beyond it is not kept (nor passed on), and this org's own publish beyond
# it is refused. Every member should set the same values.
catalog:
  statements_per_org: {{.Catalog.StatementsPerOrg}}
  megabytes_per_org: {{.Catalog.MegabytesPerOrg}}

# The API for other machines, besides the Unix socket: a TCP listener with
# TLS, where every call needs an API token (caravan token create) holding
# the route's scope. Empty listen: none. Empty tls_cert and tls_key: the
# self-signed certificate that caravan init made (api-tls.crt, api-tls.key).
api:
  listen: "{{.API.Listen}}"
  tls_cert: "{{.API.TLSCert}}"
  tls_key: "{{.API.TLSKey}}"

# Where the store and the journal are kept. embedded: in this directory
# (Pebble, and the journal's tiles), for one node. cluster: a MySQL-
# compatible database (MariaDB) and an S3-compatible bucket, shared by
# every node of the organization (docs/deployment.md). cluster_env is the
# file (mode 0600) with the database DSN, the S3 endpoint, bucket and
# credentials; the environment may set them instead. Never write them here.
storage: {{.Storage}}
{{- if .ClusterEnv}}
cluster_env: "{{.ClusterEnv}}"
{{- end}}
`))

// Marshal renders c as a commented YAML file. c is validated first, so the
// file shows every default.
func (c Config) Marshal() ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	l := c.P2PLimits()
	c.Limits = LimitsConfig{Conns: l.Conns, Streams: l.Streams, StreamsPerPeer: l.StreamsPerPeer, MemoryMB: l.MemoryMB, FDs: l.FDs}
	var b bytes.Buffer
	if err := configTemplate.Execute(&b, c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
