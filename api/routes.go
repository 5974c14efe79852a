package api

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/caravan-consortium/caravan/journal/event"
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
	RouteVerifyEvidence = "POST /v1/journal/verify"         // body: an evidence file -> EvidenceReport; 422 if it does not verify
	RouteJournalAlerts  = "GET /v1/journal/alerts"          // -> []ForkAlert
	RouteWitnessTimes   = "GET /v1/journal/witnessing"      // -> []WitnessSample: the newest times to witnessed
	RouteCheckpoint     = "GET /v1/journal/checkpoint"      // query: org -> the newest cosigned checkpoint held (a C2SP signed note, text)
	RoutePolicyHistory  = "GET /v1/policy/history"          // -> []JournalEntry: the bundles put in force
	RouteReceipts       = "GET /v1/receipts"                // -> []JournalEntry: this gateway's fetch receipts
	RouteRoster         = "GET /v1/roster"                  // -> Roster: the signed roster in force
	RouteRosterRefusals = "GET /v1/roster/refusals"         // -> []RosterRefusal: updates refused since the start
	RouteRosterSubmit   = "POST /v1/roster/proposals"       // body: a roster version (YAML) with signatures -> RosterProposal; 422 if refused
	RouteRosterPending  = "GET /v1/roster/proposals"        // -> []RosterProposal: versions submitted, not yet in force
	RouteRosterDelegate = "POST /v1/roster/delegations"     // body: an org's node delegation (YAML), signed by its org key -> NodeDelegation; 422 if refused
	RouteMetrics        = "GET /metrics"                    // Prometheus text format
	RoutePprof          = "GET /debug/pprof/"               // Go's profiles, for operators
	RoutePprofProfile   = "GET /debug/pprof/profile"        // a CPU profile
	RouteOpenAPI        = "GET /v1/openapi.json"            // this API's OpenAPI document
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
	Files    []PolicyFile `json:"files"`
	Policies []PolicyRef  `json:"policies"`
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
	Org           Org            `json:"org"`
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
	Decision  event.Ref     `json:"decision"` // the provider's decision entry
	Receipt   uint64        `json:"receipt"`  // our receipt entry
	Bundle    string        `json:"bundle"`
	Out       string        `json:"out,omitempty"`
	Written   uint64        `json:"written,omitempty"`
	// NotOffered: the dataset does not offer the purpose, so everything was denied.
	NotOffered bool     `json:"not_offered,omitempty"`
	Offered    []string `json:"offered,omitempty"`
	// Nodes are the provider's nodes (peer IDs) that served the fetch: the
	// first asked, then each one it resumed through after losing one.
	Nodes []string `json:"nodes,omitempty"`
}

// NDJSON is the media type of the API's event streams.
const NDJSON = "application/x-ndjson"

// Fetch states (FetchInfo.State).
const (
	FetchRunning   = "running"
	FetchDone      = "done"
	FetchFailed    = "failed"
	FetchCancelled = "cancelled"
)

// PolicyFile is one policy file of a bundle.
type PolicyFile struct {
	Name string `json:"name"`
	Size int    `json:"size"`
	CID  string `json:"cid"` // CIDv1, raw codec, sha2-256 of the file's bytes
}

// Org is a member organization, as the roster describes it and as
// policies see it.
type Org struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Country string   `json:"country"`
	Sector  string   `json:"sector"`
	Roles   []string `json:"roles"`
	Groups  []string `json:"groups"`
}
