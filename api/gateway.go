package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/caravan-consortium/caravan/journal"
)

// Gateway is what the server serves: node.Node implements it. It is made
// of one small interface per group of routes.
type Gateway interface {
	Admin
	Sharing
	Registry
	Policies
	Fetching
	Journal
}

// Journal is the transparency journals the gateway holds: its org's own
// and its mirrors of the members'.
type Journal interface {
	// JournalEntries lists up to limit entries of org's journal ("" for
	// this org's own) from index from.
	JournalEntries(ctx context.Context, org string, from, limit uint64) (*JournalPage, error)
	// Evidence is the C2SP tlog-proof file of an entry of this org's
	// journal, by index (entry >= 0) or by event hash (or a unique prefix).
	Evidence(ctx context.Context, entry int64, hash string) ([]byte, error)
	// VerifyEvidence checks an evidence file against the roster in force.
	VerifyEvidence(data []byte) (*journal.Report, error)
	JournalAlerts() ([]journal.Alert, error)
	// Checkpoint is the newest checkpoint held of org's journal ("" for
	// this org's own), with its cosignatures: a C2SP signed note.
	Checkpoint(org string) ([]byte, error)
	// WitnessTimes are the newest times from a checkpoint of this org's
	// journal announced to witnessed, oldest first.
	WitnessTimes() []WitnessSample
	// PolicyHistory and Receipts are this org's journal entries of those
	// types, oldest first.
	PolicyHistory(ctx context.Context) ([]JournalEntry, error)
	Receipts(ctx context.Context) ([]JournalEntry, error)
	// RosterDocument is the signed roster the gateway follows.
	RosterDocument() *Roster
	// RosterRefusals lists the roster updates refused since the start.
	RosterRefusals() []RosterRefusal
}

// Admin is the gateway's status and its roster.
type Admin interface {
	Status() Status
	// ReloadRoster reads the roster file again; an error means the roster
	// in force stays.
	ReloadRoster() error
}

// Sharing is this org's datasets and the catalog of every member's.
type Sharing interface {
	// Publish reads records from body (or the file req.Path) and publishes
	// them. It calls event with each progress and reject event; if event
	// fails, the publish fails.
	Publish(ctx context.Context, req PublishRequest, body io.Reader, event func(PublishEvent) error) (*PublishSummary, error)
	Catalog(q CatalogQuery) ([]CatalogEntry, error)
	CatalogItem(cid string) (*CatalogItem, error)
	// AwaitCatalogItem returns once the catalog holds the statement cid,
	// or ctx's error if ctx ends first.
	AwaitCatalogItem(ctx context.Context, cid string) error
	// DatasetVersions lists every version of owner's dataset, oldest first.
	DatasetVersions(owner, name string) ([]CatalogEntry, error)
	Retract(dataset, reason string) (*CatalogItem, error)
}

// Registry is the consortium's dataset schemas.
type Registry interface {
	Schemas() []SchemaInfo
	Schema(ref string) (*SchemaInfo, error)
	// RegisterSchema registers a document as a schema of this org.
	RegisterSchema(ctx context.Context, req SchemaRequest, document []byte) (*SchemaInfo, error)
	// PolicySchema is the Cedar schema generated from the registry.
	PolicySchema() []byte
}

// Policies is the policy bundle in force.
type Policies interface {
	Policy() PolicyInfo
	// ReloadPolicies reads the policy directory again; an error means the
	// bundle in force stays.
	ReloadPolicies() error
	Explain(req ExplainRequest) (*ExplainResult, error)
	// CheckPolicies checks an uploaded bundle against this gateway's
	// registry, as the bundle in force is; nothing is put in force.
	CheckPolicies(req PolicyCheckRequest) (*PolicyCheckResult, error)
	// ReplacePolicies puts an uploaded bundle in force in place of the
	// policy directory's files, if it checks and its decision table (if
	// given) passes; if not, the result says why and nothing changes.
	ReplacePolicies(req PolicyCheckRequest) (*PolicyCheckResult, error)
	// TestPolicies runs a decision table against the bundle in force.
	TestPolicies(table string) ([]PolicyCase, error)
}

// Fetching is fetching partners' datasets.
type Fetching interface {
	// Fetched writes the records received and verified of a dataset
	// version for a purpose, one a line, and returns how many.
	Fetched(ctx context.Context, ref, purpose string, w io.Writer) (uint64, error)
	// Fetch fetches a partner's dataset version; progress, if set, gets
	// the records received and permitted so far.
	Fetch(ctx context.Context, req FetchRequest, progress func(received, permitted uint64)) (*FetchSummary, error)
}

// StatusError is an error a Gateway returns to choose the answer's HTTP
// status; other errors get the route's own (see the routes).
type StatusError struct {
	Code int
	// Field, if set, is the request's field that was wrong: a query
	// parameter or a JSON member, as the route names it.
	Field string
	Err   error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// Errorf returns a *StatusError with code.
func Errorf(code int, format string, args ...any) error {
	return &StatusError{Code: code, Err: fmt.Errorf(format, args...)}
}

// FieldErrorf returns a *StatusError with code about one field of the
// request, which the answer's problem names.
func FieldErrorf(code int, field, format string, args ...any) error {
	return &StatusError{Code: code, Field: field, Err: fmt.Errorf(format, args...)}
}

// fieldOf is the request field err names, if any.
func fieldOf(err error) string {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Field
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	return ""
}

// codeOf is err's status: its own, or def.
func codeOf(err error, def int) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return def
}
