package api

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/policy"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// Routes of the API, version 1. Streamed answers are NDJSON: one event per
// line, ending with one that carries a result or an error.
const (
	RouteStatus         = "GET /v1/status"                  // -> Status
	RouteRosterReload   = "POST /v1/roster/reload"          // -> Status; 409 if refused
	RoutePublish        = "POST /v1/publish"                // query: PublishRequest; body: records -> NDJSON PublishEvent
	RouteCatalog        = "GET /v1/catalog"                 // query: CatalogQuery -> []CatalogEntry
	RouteCatalogItem    = "GET /v1/catalog/{cid}"           // query: wait -> CatalogItem; 404 if not held (when the wait ends)
	RouteDataset        = "GET /v1/datasets/{owner}/{name}" // -> []CatalogEntry: every version, oldest first; 404 if none
	RouteRetract        = "POST /v1/retract"                // query: dataset, reason -> CatalogItem; 409 if refused
	RouteSchemas        = "GET /v1/schemas"                 // -> []SchemaInfo
	RouteSchema         = "GET /v1/schemas/{ref...}"        // NAME[@VERSION] or OWNER/NAME[@VERSION] -> SchemaInfo with its document; 404 if unknown
	RouteSchemaAdd      = "POST /v1/schemas"                // query: SchemaRequest; body: the document -> SchemaInfo; 400 if invalid, 409 if refused
	RoutePolicySchema   = "GET /v1/policy/schema"           // the Cedar schema policies are checked against (text)
	RoutePolicy         = "GET /v1/policy"                  // -> PolicyInfo
	RoutePolicyReload   = "POST /v1/policy/reload"          // -> PolicyInfo; 409 if refused
	RoutePolicyExplain  = "POST /v1/policy/explain"         // body: ExplainRequest -> ExplainResult
	RoutePolicyCheck    = "POST /v1/policy/check"           // body: PolicyCheckRequest -> PolicyCheckResult (nothing put in force)
	RoutePolicyTest     = "POST /v1/policy/test"            // body: PolicyTestRequest -> []PolicyCase, run against the bundle in force
	RoutePolicyReplace  = "PUT /v1/policy"                  // body: PolicyCheckRequest -> PolicyCheckResult, in force; 422 problem with its check if refused
	RouteFetch          = "POST /v1/fetch"                  // body: FetchRequest -> NDJSON FetchEvent, the first naming the fetch
	RouteFetchStart     = "POST /v1/fetches"                // body: FetchRequest -> 202 FetchInfo, the fetch going on after the answer
	RouteFetches        = "GET /v1/fetches"                 // -> []FetchInfo: in progress and the newest ended, newest first
	RouteFetchInfo      = "GET /v1/fetches/{id}"            // -> FetchInfo; 404 if unknown
	RouteFetchEvents    = "GET /v1/fetches/{id}/events"     // -> server-sent events: "progress" FetchInfo..., then "end"
	RouteFetchCancel    = "DELETE /v1/fetches/{id}"         // stop a fetch in progress -> 204; 404 if none has that id
	RouteFetched        = "GET /v1/fetched"                 // query: manifest (CID or OWNER/DATASET[@VERSION]), purpose -> JSONL records
	RouteJournalEntries = "GET /v1/journal/entries"         // query: org, from, limit -> JournalPage
	RouteEvidence       = "GET /v1/journal/evidence"        // query: entry or hash -> a C2SP tlog-proof file (text)
	RouteVerifyEvidence = "POST /v1/journal/verify"         // body: an evidence file -> journal.Report; 422 if it does not verify
	RouteJournalAlerts  = "GET /v1/journal/alerts"          // -> []journal.Alert
	RouteWitnessTimes   = "GET /v1/journal/witnessing"      // -> []WitnessSample: the newest times to witnessed
	RouteCheckpoint     = "GET /v1/journal/checkpoint"      // query: org -> the newest cosigned checkpoint held (a C2SP signed note, text)
	RoutePolicyHistory  = "GET /v1/policy/history"          // -> []JournalEntry: the bundles put in force
	RouteReceipts       = "GET /v1/receipts"                // -> []JournalEntry: this gateway's fetch receipts
	RouteRoster         = "GET /v1/roster"                  // -> Roster: the signed roster in force
	RouteRosterRefusals = "GET /v1/roster/refusals"         // -> []RosterRefusal: updates refused since the start
	RouteMetrics        = "GET /metrics"                    // Prometheus text format
	RoutePprof          = "GET /debug/pprof/"               // Go's profiles, for operators
	RoutePprofProfile   = "GET /debug/pprof/profile"        // a CPU profile
)

// Problem is the body of an error answer: RFC 9457 problem details
// (application/problem+json). Detail says what was wrong, naming the
// field, file or line where there is one.
type Problem struct {
	Type   string `json:"type"`  // "about:blank": the status says it all
	Title  string `json:"title"` // the status's text
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// Field is the request's field that was wrong, where there is one: a
	// query parameter or a JSON member (dotted for nested members).
	Field string `json:"field,omitempty"`
	// Check is a refused policy upload's check: its problems at their
	// files and lines, or its decision table's failing cases.
	Check *PolicyCheckResult `json:"check,omitempty"`
}

// Status is what GET /v1/status returns.
type Status struct {
	Org           string         `json:"org"`
	PeerID        string         `json:"peer_id"`
	Addrs         []string       `json:"addrs"`
	PID           int            `json:"pid"`
	StartedAt     time.Time      `json:"started_at"`
	Consortium    string         `json:"consortium"`
	RosterVersion uint64         `json:"roster_version"`
	Members       []MemberStatus `json:"members"`
	// Refused counts connections and dials refused because the peer is
	// not in the roster.
	Refused uint64 `json:"refused"`
	// RosterRejected counts roster files that were not put in force.
	RosterRejected uint64 `json:"roster_rejected"`
	// Catalog summarizes the catalog: equal digests, equal catalogs.
	Catalog CatalogStatus `json:"catalog"`
	// Policy is the policy bundle in force and its reloads.
	Policy PolicyStatus `json:"policy"`
	// Journal is this org's log, its witnessing, and the mirrors.
	Journal journal.Status `json:"journal"`
	// API is the TCP listener, if the config opens one.
	API APIStatus `json:"api"`
	// SchemasSetAside lists the registrations this gateway holds but does
	// not use, because they break the registry's rules (schemas/registry.md).
	SchemasSetAside []SetAsideSchema `json:"schemas_set_aside,omitempty"`
}

// SetAsideSchema is a registration the registry holds but does not use.
type SetAsideSchema struct {
	Schema string `json:"schema"` // OWNER/NAME@VERSION
	CID    string `json:"cid"`    // of the document
	Reason string `json:"reason"`
}

// Roster is the signed consortium roster (schemas/roster.md): its body,
// which the admins' signatures cover in RFC 8785 form, and the signatures.
type Roster struct {
	Consortium       string         `json:"consortium"`
	Version          uint64         `json:"version"`
	Admins           RosterAdmins   `json:"admins"`
	Members          []RosterMember `json:"members"`
	WitnessThreshold int            `json:"witness_threshold,omitempty"`
	Signatures       []RosterSig    `json:"signatures"`
}

// RosterAdmins are the keys that may sign the roster, and how many must.
type RosterAdmins struct {
	Threshold int              `json:"threshold"`
	Keys      []RosterAdminKey `json:"keys"`
}

// RosterAdminKey is a named admin key, "ed25519:BASE64".
type RosterAdminKey struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// RosterMember is a member organization and its nodes.
type RosterMember struct {
	Org     string       `json:"org"`
	Name    string       `json:"name"`
	Country string       `json:"country"`
	Sector  string       `json:"sector"`
	Roles   []string     `json:"roles"`
	Groups  []string     `json:"groups,omitempty"`
	Nodes   []RosterNode `json:"nodes"`
}

// RosterNode is one gateway of a member.
type RosterNode struct {
	PeerID string   `json:"peer_id"`
	Addrs  []string `json:"addrs"`
}

// RosterSig is one admin's signature over the roster body.
type RosterSig struct {
	Admin string `json:"admin"`
	Sig   string `json:"sig"`
}

// RosterRefusal is a roster update the gateway refused.
type RosterRefusal struct {
	At      time.Time `json:"at"`
	File    string    `json:"file"`
	InForce uint64    `json:"in_force"` // the version that stayed in force
	Reason  string    `json:"reason"`
}

// WitnessSample is how long one checkpoint of this org's journal took from
// its first announcement to carrying the cosignatures the roster requires.
type WitnessSample struct {
	At      time.Time `json:"at"` // when it was witnessed
	Seconds float64   `json:"seconds"`
}

// JournalPage is a page of a journal's entries.
type JournalPage struct {
	Origin  string         `json:"origin"`
	Size    uint64         `json:"size"` // entries in the log's checkpoint on disk
	Entries []JournalEntry `json:"entries"`
}

// JournalEntry is one entry: its index, event hash, and decoded event (or
// why it does not decode).
type JournalEntry struct {
	Index uint64         `json:"index"`
	Hash  string         `json:"hash"`
	Event *journal.Event `json:"event,omitempty"`
	Error string         `json:"error,omitempty"`
}

// APIStatus is the API's TCP listener: its address and the SHA-256
// fingerprint of its certificate (what a client pins to a self-signed one).
type APIStatus struct {
	Listen      string `json:"listen,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// CatalogStatus summarizes a gateway's catalog.
type CatalogStatus struct {
	Statements int    `json:"statements"`
	Digest     string `json:"digest"`
}

// MemberStatus is one roster member as this gateway sees it.
type MemberStatus struct {
	Org     string       `json:"org"`
	Name    string       `json:"name"`
	Country string       `json:"country"`
	Self    bool         `json:"self,omitempty"`
	Nodes   []NodeStatus `json:"nodes"`
}

// NodeStatus is one node of a member.
type NodeStatus struct {
	PeerID    string   `json:"peer_id"`
	Connected bool     `json:"connected"`
	Remote    []string `json:"remote,omitempty"` // remote addresses of open connections, each once
}

// Connected reports whether any node of the member is connected.
func (m MemberStatus) Connected() bool {
	for _, n := range m.Nodes {
		if n.Connected {
			return true
		}
	}
	return false
}

// PolicyStatus is the policy bundle in force and its reloads.
type PolicyStatus struct {
	Bundle    string    `json:"bundle"`
	Dir       string    `json:"dir"`
	Count     int       `json:"count"` // policies in the bundle
	LoadedAt  time.Time `json:"loaded_at"`
	Accepted  uint64    `json:"reloads_accepted"`
	Refused   uint64    `json:"reloads_refused"`
	LastError string    `json:"last_error,omitempty"`
	// Waiting, if set, is why the policy directory's bundle is not in force
	// yet: it reads attributes that no schema in the registry declares yet
	// (a new gateway catching up). Meanwhile every fetch is denied.
	Waiting string `json:"waiting,omitempty"`
}

// PublishRequest is POST /v1/publish's query; the body is the records.
type PublishRequest struct {
	Dataset, Schema, Format, Description string
	// Encoding is the file's character encoding: "" or "utf-8", or e.g.
	// "windows-1251", "gb18030", "koi8-r", "iso-8859-5".
	Encoding string
	// Delimiter separates a CSV file's cells: "," (default), ";", "tab", "|".
	Delimiter        string
	Labels, Purposes []string
	DryRun           bool
	// Rejects asks the gateway to publish the valid records and report
	// the others as events, instead of failing on the first.
	Rejects bool
	// Path, if set, is an absolute path of a regular file that the gateway
	// reads itself instead of the body; 422 if it cannot.
	Path string
}

// PublishEvent is one line of the NDJSON stream POST /v1/publish returns:
// progress, a rejected record, then the result or an error.
type PublishEvent struct {
	Progress int             `json:"progress,omitempty"`
	Bytes    int64           `json:"bytes,omitempty"` // input read so far, with Progress
	Reject   *RejectedRecord `json:"reject,omitempty"`
	Result   *PublishSummary `json:"result,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// RejectedRecord is an invalid record left out by a publish with rejects:
// its first error (Field, Error), its others, and the record as read.
type RejectedRecord struct {
	Line   int             `json:"line"`
	Field  string          `json:"field,omitempty"`
	Error  string          `json:"error"`
	Others []FieldError    `json:"others,omitempty"`
	Record json.RawMessage `json:"record,omitempty"`
}

// FieldError is what is wrong with one field of a record.
type FieldError struct {
	Field string `json:"field,omitempty"`
	Error string `json:"error"`
}

// PublishSummary is what a publish made.
type PublishSummary struct {
	CID       string             `json:"cid"`
	Manifest  *manifest.Manifest `json:"manifest"`
	Statement json.RawMessage    `json:"statement"`
	Rejected  int                `json:"rejected"`
	DryRun    bool               `json:"dry_run"`
	// Rejects lists the first rejected records (1,000 or 8 MiB at most), in
	// an answer that is one document (no event stream was asked for).
	Rejects []RejectedRecord `json:"rejects,omitempty"`
}

// CatalogQuery selects catalog entries; empty fields match everything.
type CatalogQuery struct {
	Org, Schema, Label string
	// All lists every version, and retracted ones; otherwise only the
	// head of each dataset that is not retracted.
	All bool
	// As, if set, lists only this org's datasets that org As may discover
	// under the policies in force.
	As string
}

// CatalogEntry is a manifest as the catalog lists it.
type CatalogEntry struct {
	CID       string             `json:"cid"`
	Manifest  *manifest.Manifest `json:"manifest"`
	Signer    string             `json:"signer"`
	Head      bool               `json:"head"`      // the newest version of its dataset
	Retracted bool               `json:"retracted"` // hidden by a retraction
}

// CatalogItem is one statement, as signed, and its catalog entry.
type CatalogItem struct {
	Statement json.RawMessage `json:"statement"`
	Entry     *CatalogEntry   `json:"entry,omitempty"`
}

// SchemaRequest is POST /v1/schemas's query: the name and version to
// register a document under ("" takes the document's own x-caravan-schema).
type SchemaRequest struct {
	Name, Version string
}

// SchemaInfo is one schema of the registry.
type SchemaInfo struct {
	Owner      string            `json:"owner"`
	Name       string            `json:"name"`
	Version    string            `json:"version"` // MAJOR.MINOR
	CID        string            `json:"cid"`     // of the document: what manifests pin
	Title      string            `json:"title,omitempty"`
	Statement  string            `json:"statement,omitempty"` // the registration's CID, when just registered
	Attributes []SchemaAttribute `json:"attributes"`          // policy attributes and their Cedar types
	Sensitive  []string          `json:"sensitive,omitempty"` // paths of sensitive fields
	Compiled   bool              `json:"compiled"`            // validated by the compiled validator (else jsonschema/v6)
	Fallback   string            `json:"fallback,omitempty"`  // why not, e.g. "unsupported keyword uniqueItems"
	Document   json.RawMessage   `json:"document,omitempty"`
}

// SchemaAttribute is a policy attribute and its Cedar type.
type SchemaAttribute struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// PolicyInfo is the policy bundle in force.
type PolicyInfo struct {
	PolicyStatus
	Files    []policy.File `json:"files"`
	Policies []PolicyRef   `json:"policies"`
}

// PolicyCheckRequest is a policy bundle uploaded for a check: its files
// (*.cedar) by name.
type PolicyCheckRequest struct {
	Files map[string]string `json:"files"`
	// Table, if set, is a decision table (YAML, as caravan policy test
	// reads) to run against the bundle once it is valid.
	Table string `json:"table,omitempty"`
}

// PolicyTestRequest is a decision table (YAML, as caravan policy test
// reads) to run against the bundle in force.
type PolicyTestRequest struct {
	Table string `json:"table"`
}

// PolicyCheckResult is what checking an uploaded bundle found: its CID and
// policies if it is valid, else each problem at its file and line.
type PolicyCheckResult struct {
	Valid    bool            `json:"valid"`
	CID      string          `json:"cid,omitempty"`
	Policies []PolicyRef     `json:"policies,omitempty"`
	Problems []PolicyProblem `json:"problems,omitempty"`
	// Cases are the decision table's cases, if one was given.
	Cases []PolicyCase `json:"cases,omitempty"`
}

// PolicyCase is one case of a decision table run against a bundle.
type PolicyCase struct {
	Name   string `json:"name"`
	Line   int    `json:"line"` // in the table
	Expect string `json:"expect"`
	Pass   bool   `json:"pass"`
	Result string `json:"result"` // what was decided, and by which policies, or why it could not be
}

// PolicyProblem is one problem of a bundle, at its file and line (0: the
// whole file or bundle).
type PolicyProblem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

func (p PolicyProblem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message) }

// PolicyRef names a policy and where it is written.
type PolicyRef struct {
	ID     string `json:"id"`
	Effect string `json:"effect"`
	File   string `json:"file"`
	Line   int    `json:"line"`
}

// ExplainRequest is a fetch of one record by an org, for a purpose, to be
// decided by the gateway's bundle in force.
type ExplainRequest struct {
	Org     string `json:"org"`
	Dataset string `json:"dataset"` // manifest CID, "OWNER/NAME", or a name of this org's datasets
	Purpose string `json:"purpose"`
	// Time of the request; zero means now.
	Time   time.Time       `json:"time,omitzero"`
	Record json.RawMessage `json:"record"`
}

// ExplainResult is the decision and what went into it.
type ExplainResult struct {
	Decision      string         `json:"decision"` // "permit" or "deny"
	Policies      []PolicyRef    `json:"policies"` // the policies that decided; none for a default deny
	Errors        []string       `json:"errors,omitempty"`
	Bundle        string         `json:"bundle"`
	Org           policy.Org     `json:"org"`
	Dataset       string         `json:"dataset"`
	Manifest      string         `json:"manifest"`
	Schema        string         `json:"schema"`
	Purpose       string         `json:"purpose"`
	Time          time.Time      `json:"time"`
	ReleasedToday int64          `json:"released_today"`
	Record        string         `json:"record"` // its CID
	Attributes    map[string]any `json:"attributes"`
}

// FetchRequest asks the gateway to fetch a partner's dataset version.
type FetchRequest struct {
	Manifest string `json:"manifest"`
	Purpose  string `json:"purpose"`
	// Select names records by index, range and CID, as 'caravan fetch
	// --select' takes them: "0,5,10-20,bagaaiera...". Empty: all.
	Select string `json:"select,omitempty"`
	Out    string `json:"out,omitempty"` // write the received records as JSONL here
}

// FetchEvent is one line of the NDJSON stream POST /v1/fetch returns:
// progress, then the summary or an error.
type FetchEvent struct {
	// ID names the fetch, in the first event, sent as the gateway asks the
	// partner: DELETE /v1/fetches/{id} stops it, as closing the connection
	// does.
	ID        string        `json:"id,omitempty"`
	Received  uint64        `json:"received,omitempty"`
	Permitted uint64        `json:"permitted,omitempty"`
	Result    *FetchSummary `json:"result,omitempty"`
	Error     string        `json:"error,omitempty"`
}

// FetchInfo is one fetch this gateway made or is making: a resource of
// the API, whether the CLI, the console or POST /v1/fetches started it.
type FetchInfo struct {
	ID        string        `json:"id"`
	Request   FetchRequest  `json:"request"`
	State     string        `json:"state"` // running, done, failed or cancelled
	StartedAt time.Time     `json:"started_at"`
	EndedAt   *time.Time    `json:"ended_at,omitempty"`
	Received  uint64        `json:"received"`
	Permitted uint64        `json:"permitted"`
	Result    *FetchSummary `json:"result,omitempty"`
	Error     string        `json:"error,omitempty"`
}

// FetchSummary is what a fetch did.
type FetchSummary struct {
	Manifest  string        `json:"manifest"`
	Provider  string        `json:"provider"`
	Purpose   string        `json:"purpose"`
	Permitted uint64        `json:"permitted"`
	Withheld  uint64        `json:"withheld"`
	Received  uint64        `json:"received"`
	Bytes     uint64        `json:"bytes"`
	Took      time.Duration `json:"took"`
	Resumed   uint64        `json:"resumed_from,omitempty"`
	Decision  journal.Ref   `json:"decision"` // the provider's decision entry
	Receipt   uint64        `json:"receipt"`  // our receipt entry
	Bundle    string        `json:"bundle"`
	Out       string        `json:"out,omitempty"`
	Written   uint64        `json:"written,omitempty"`
	// NotOffered: the dataset does not offer the purpose, so everything was denied.
	NotOffered bool     `json:"not_offered,omitempty"`
	Offered    []string `json:"offered,omitempty"`
}
