package datadir

import (
	"path/filepath"
	"strconv"

	"github.com/caravan-consortium/caravan/api"
)

// Dir is a gateway's data directory. Every path under it is named here
// and only here:
//
//	caravan.yaml                 the configuration (see Config)
//	node.key                     the Ed25519 node key, PKCS#8 PEM, mode 0600
//	gateway.lock                 held (flock) by the running gateway
//	control.sock                 the API (package api): HTTP over a Unix socket, mode 0600
//	api-tokens.json              the TCP listener's API tokens (hashed)
//	api-tls.crt, api-tls.key     the TCP listener's self-signed certificate, if the config names none
//	policies/                    the org's Cedar policies (config field "policies")
//	state/roster.yaml            the last roster this gateway accepted
//	state/rosters/VERSION.yaml   every roster version this gateway put in force
//	state/proposals/             roster versions submitted, and their signatures, until in force
//	state/policy-volume.json     records released per org and UTC day
//	store/                       Pebble: statements, records, fetched records, nonces
//	journal/log/                 this org's log (C2SP tlog-tiles)
//	journal/mirrors/ORG/         the verified mirror of a member's log
//	journal/witnessed/ORG/SIZE   checkpoint notes with every cosignature merged
//	journal/alerts/              fork evidence
//	journal/seen.json            the roster version and policy bundle last journaled
//	fetch/MANIFEST.PURPOSE.resume  where an interrupted fetch resumes
//	fetch/receipts/REQUEST.json  providers' signed receipts and their salts
//	fetch/evidence/              frames that failed verification
type Dir string

// File and directory names that other tools need too.
const (
	ConfigFile = "caravan.yaml"
	KeyFile    = "node.key"

	// DefaultPolicies is the policy directory's default name (config field
	// "policies", relative to the config file's directory).
	DefaultPolicies = "policies"
)

func (d Dir) path(elem ...string) string {
	return filepath.Join(append([]string{string(d)}, elem...)...)
}

// Config is the configuration file.
func (d Dir) Config() string { return d.path(ConfigFile) }

// Key is the node key.
func (d Dir) Key() string { return d.path(KeyFile) }

// OrgKey is the organization's key, if the gateway holds it (the default;
// schemas/roster.md).
func (d Dir) OrgKey() string { return d.path("org.key") }

// Lock is the lock file a running gateway holds.
func (d Dir) Lock() string { return d.path("gateway.lock") }

// Socket is the API's Unix socket.
func (d Dir) Socket() string { return d.path(api.SocketFile) }

// APITokens is the API token file (hashes only, mode 0600).
func (d Dir) APITokens() string { return d.path("api-tokens.json") }

// APICert and APIKey are the API listener's self-signed certificate and
// its key, made by caravan init.
func (d Dir) APICert() string { return d.path("api-tls.crt") }
func (d Dir) APIKey() string  { return d.path("api-tls.key") }

// State holds what the gateway keeps between runs.
func (d Dir) State() string { return d.path("state") }

// TrustedRoster is the last roster the gateway accepted.
func (d Dir) TrustedRoster() string { return d.path("state", "roster.yaml") }

// Proposals holds the roster versions submitted and not yet in force.
func (d Dir) Proposals() string { return d.path("state", "proposals") }

// RosterVersion is where the gateway keeps a roster version it put in
// force.
func (d Dir) RosterVersion(v uint64) string {
	return d.path("state", "rosters", strconv.FormatUint(v, 10)+".yaml")
}

// Ledger is the policy volume ledger.
func (d Dir) Ledger() string { return d.path("state", "policy-volume.json") }

// PolicyIntent is a policy upload written ahead (policy_files.go).
func (d Dir) PolicyIntent() string { return d.path("state", "policy-upload.json") }

// Store is the Pebble store.
func (d Dir) Store() string { return d.path("store") }

// Journal is the journal's root.
func (d Dir) Journal() string { return d.path("journal") }

// JournalLog is this org's log.
func (d Dir) JournalLog() string { return d.path("journal", "log") }

// Mirror is the mirror of org's log.
func (d Dir) Mirror(org string) string { return d.path("journal", "mirrors", org) }

// Witnessed holds the checkpoint notes with their cosignatures.
func (d Dir) Witnessed() string { return d.path("journal", "witnessed") }

// Alerts holds fork evidence.
func (d Dir) Alerts() string { return d.path("journal", "alerts") }

// JournalSeen remembers what was journaled last, across restarts.
func (d Dir) JournalSeen() string { return d.path("journal", "seen.json") }

// Fetch holds the requester's state of fetches.
func (d Dir) Fetch() string { return d.path("fetch") }

// Resume is where an interrupted fetch of manifest for purpose, with a
// selection (fetch.Selection.Key), resumes.
func (d Dir) Resume(manifest, purpose, selection string) string {
	return d.path("fetch", manifest+"."+purpose+"."+selection+".resume")
}

// Receipts holds providers' signed receipts.
func (d Dir) Receipts() string { return d.path("fetch", "receipts") }

// Evidence holds fetched frames that failed verification.
func (d Dir) Evidence() string { return d.path("fetch", "evidence") }
