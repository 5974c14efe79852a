package server

import (
	"context"
	"io"

	"github.com/caravan-consortium/caravan/api"
)

// Services are what the server serves: one small interface per group of
// routes, each implemented by a service of the gateway (package gateway
// builds them). Their errors are of the kinds api.ErrInvalid and the
// others, which the server answers with their status (api.StatusOf);
// another error gets its route's own status (see the handlers).
type Services struct {
	Admin    Admin
	Sharing  Sharing
	Registry Registry
	Policies Policies
	Fetching Fetching
	Journal  Journal
}

// Journal is the transparency journals the gateway holds: its org's own
// and its mirrors of the members'.
type Journal interface {
	// JournalEntries lists up to limit entries of org's journal ("" for
	// this org's own) from index from.
	JournalEntries(ctx context.Context, org string, from, limit uint64) (*api.JournalPage, error)
	// Evidence is the C2SP tlog-proof file of an entry of this org's
	// journal, by index (entry >= 0) or by event hash (or a unique prefix).
	Evidence(ctx context.Context, entry int64, hash string) ([]byte, error)
	// VerifyEvidence checks an evidence file against the roster in force.
	VerifyEvidence(data []byte) (*api.EvidenceReport, error)
	JournalAlerts() ([]api.ForkAlert, error)
	// Checkpoint is the newest checkpoint held of org's journal ("" for
	// this org's own), with its cosignatures: a C2SP signed note.
	Checkpoint(org string) ([]byte, error)
	// WitnessTimes are the newest times from a checkpoint of this org's
	// journal announced to witnessed, oldest first.
	WitnessTimes() []api.WitnessSample
	// PolicyHistory and Receipts are this org's journal entries of those
	// types, oldest first.
	PolicyHistory(ctx context.Context) ([]api.JournalEntry, error)
	Receipts(ctx context.Context) ([]api.JournalEntry, error)
}

// Admin is the gateway's status and the roster it follows.
type Admin interface {
	Status() api.Status
	// ReloadRoster reads the roster file again; an error means the roster
	// in force stays.
	ReloadRoster() error
	// RosterDocument is the signed roster the gateway follows.
	RosterDocument() *api.Roster
	// RosterRefusals lists the roster updates refused since the start.
	RosterRefusals() []api.RosterRefusal
	// SubmitRoster takes a proposed roster version (the roster file's
	// YAML) with some of its signatures, and puts it in force once enough
	// admins have signed (schemas/roster.md).
	SubmitRoster(data []byte) (*api.RosterProposal, error)
	// SubmitDelegation takes an org's node delegation (its YAML), signed by
	// its org key, and gossips it to every member.
	SubmitDelegation(data []byte) (*api.NodeDelegation, error)
	// RosterProposals lists the versions submitted, not yet in force.
	RosterProposals() []api.RosterProposal
}

// Sharing is this org's datasets and the catalog of every member's.
type Sharing interface {
	// Publish reads records from body (or the file req.Path) and publishes
	// them. It calls event with each progress and reject event; if event
	// fails, the publish fails.
	Publish(ctx context.Context, req api.PublishRequest, body io.Reader, event func(api.PublishEvent) error) (*api.PublishSummary, error)
	Catalog(q api.CatalogQuery) ([]api.CatalogEntry, error)
	CatalogItem(cid string) (*api.CatalogItem, error)
	// AwaitCatalogItem returns once the catalog holds the statement cid,
	// or ctx's error if ctx ends first.
	AwaitCatalogItem(ctx context.Context, cid string) error
	// DatasetVersions lists every version of owner's dataset, oldest first.
	DatasetVersions(owner, name string) ([]api.CatalogEntry, error)
	Retract(dataset, reason string) (*api.CatalogItem, error)
}

// Registry is the consortium's dataset schemas.
type Registry interface {
	Schemas() []api.SchemaInfo
	Schema(ref string) (*api.SchemaInfo, error)
	// RegisterSchema registers a document as a schema of this org.
	RegisterSchema(ctx context.Context, req api.SchemaRequest, document []byte) (*api.SchemaInfo, error)
	// PolicySchema is the Cedar schema generated from the registry.
	PolicySchema() []byte
}

// Policies is the policy bundle in force.
type Policies interface {
	Policy() api.PolicyInfo
	// ReloadPolicies reads the policy directory again; an error means the
	// bundle in force stays.
	ReloadPolicies() error
	Explain(req api.ExplainRequest) (*api.ExplainResult, error)
	// CheckPolicies checks an uploaded bundle against this gateway's
	// registry, as the bundle in force is; nothing is put in force.
	CheckPolicies(req api.PolicyCheckRequest) (*api.PolicyCheckResult, error)
	// ReplacePolicies puts an uploaded bundle in force in place of the
	// policy directory's files, if it checks and its decision table (if
	// given) passes; if not, the result says why and nothing changes.
	ReplacePolicies(req api.PolicyCheckRequest) (*api.PolicyCheckResult, error)
	// TestPolicies runs a decision table against the bundle in force.
	TestPolicies(table string) ([]api.PolicyCase, error)
}

// Fetching is fetching partners' datasets. Each fetch is a job, whether
// a request streams it or it outlives its request.
type Fetching interface {
	// Fetch runs a fetch for the length of ctx. named, if set, gets its id
	// as the partner is asked; progress, if set, the records received and
	// permitted so far, at most every 100 ms.
	Fetch(ctx context.Context, req api.FetchRequest, named func(id string), progress func(received, permitted uint64)) (*api.FetchSummary, error)
	// StartFetch starts a fetch that outlives the request, and returns as
	// the partner is asked (or with the error of a fetch refused before).
	StartFetch(req api.FetchRequest) (api.FetchInfo, error)
	// Fetches lists the fetches in progress and the newest ended ones,
	// newest first.
	Fetches() []api.FetchInfo
	// FetchInfo is one fetch, and a channel closed at its next change.
	FetchInfo(id string) (api.FetchInfo, <-chan struct{}, error)
	// CancelFetch stops a fetch in progress.
	CancelFetch(id string) error
	// Fetched writes the records received and verified of a dataset
	// version for a purpose, one a line, and returns how many.
	Fetched(ctx context.Context, ref, purpose string, w io.Writer) (uint64, error)
}
