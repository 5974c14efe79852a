package server

import (
	"net/http"
	"net/http/pprof"
	"slices"

	"github.com/caravan-consortium/caravan/api"
)

// route is one row of the API. The mux, the TCP listener's scope check
// and the OpenAPI document are all derived from the table below: a new
// route is one row here and one method of a service (services.go).
type route struct {
	pattern string // "METHOD /path": one of api.Route*
	// scope is the token scope the route needs on the TCP listener; a
	// route without one (profiling) is served on the Unix socket only.
	scope   string
	summary string
	query   []string // query parameters (strings; "[]name" repeats), described in paramDocs
	body    any      // the JSON request body's Go value, if any
	raw     []string // a non-JSON request body's media types, if any
	rawDoc  string   // and what that body is
	answer  any      // the JSON answer's Go value (nil: no body, 204)
	media   string   // the answer's media type when it is not one JSON value
	status  int      // the answer's status, if not 200 (or 204 with no answer)
	// stream, if set, is the event of the NDJSON stream the route answers
	// instead of answer when the request asks for one (Accept:
	// application/x-ndjson).
	stream  any
	example any // an example of the JSON request body
	handler func(*Server, http.ResponseWriter, *http.Request)
}

// routes is the API, version 1: one table, in one part per service. It
// is made by functions, not held in a variable, because the OpenAPI
// route's handler reads the table.
func routes() []route {
	return slices.Concat(adminRoutes(), sharingRoutes(), registryRoutes(), policyRoutes(), fetchRoutes(), journalRoutes())
}

// adminRoutes are the routes of the Admin service, and the API's own.
func adminRoutes() []route {
	return []route{
		{pattern: api.RouteStatus, scope: ScopeRead, summary: "The gateway's status: members, connections, catalog, policy, journal",
			answer: api.Status{}, handler: func(s *Server, w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, s.sv.Admin.Status())
			}},
		{pattern: api.RouteRosterReload, scope: ScopeRosterAdmin, summary: "Reload the roster file; 409 if it is refused",
			answer: api.Status{}, handler: (*Server).rosterReload},
		{pattern: api.RouteRoster, scope: ScopeRead, summary: "The signed consortium roster in force (its format: schemas/roster.md)",
			answer: api.Roster{}, handler: answer(func(s *Server, _ *http.Request) (*api.Roster, error) { return s.sv.Admin.RosterDocument(), nil })},
		{pattern: api.RouteRosterRefusals, scope: ScopeRead, summary: "Roster updates refused since the gateway started (the newest 20)",
			answer: []api.RosterRefusal{}, handler: answer(func(s *Server, _ *http.Request) ([]api.RosterRefusal, error) { return s.sv.Admin.RosterRefusals(), nil })},
		{pattern: api.RouteRosterSubmit, scope: ScopeRosterAdmin,
			summary: "Submit a proposed roster version (the roster file's YAML) with some of its admins' signatures; it is put in force once a threshold of its own admins and of the admins in force have signed; 422 if refused",
			raw:     []string{"application/yaml"}, rawDoc: "A roster file (schemas/roster.md): the next version, signed by one or more admins (caravan consortium propose, sign)",
			answer: api.RosterProposal{}, handler: (*Server).submitRoster},
		{pattern: api.RouteRosterDelegate, scope: ScopeRosterAdmin,
			summary: "Submit an organization's node delegation (its own list of nodes, YAML, signed by its org key); it replaces the nodes the roster lists for it on every gateway, without a vote; 422 if refused",
			raw:     []string{"application/yaml"}, rawDoc: "A node delegation (schemas/roster.md, Delegations): caravan consortium delegate",
			answer: api.NodeDelegation{}, handler: (*Server).submitDelegation},
		{pattern: api.RouteRosterPending, scope: ScopeRead, summary: "The roster versions submitted and not yet in force, with who has signed them",
			answer: []api.RosterProposal{}, handler: answer(func(s *Server, _ *http.Request) ([]api.RosterProposal, error) {
				return s.sv.Admin.RosterProposals(), nil
			})},
		{pattern: api.RouteMetrics, scope: ScopeMetrics, summary: "Prometheus metrics", media: "text/plain", handler: (*Server).metrics},
		{pattern: api.RoutePprof, summary: "Go's profiles (on the Unix socket only)", media: "text/html",
			handler: func(_ *Server, w http.ResponseWriter, r *http.Request) { pprof.Index(w, r) }},
		{pattern: api.RoutePprofProfile, summary: "A CPU profile (on the Unix socket only)", media: "application/octet-stream",
			handler: func(_ *Server, w http.ResponseWriter, r *http.Request) { pprof.Profile(w, r) }},
		{pattern: api.RouteOpenAPI, scope: ScopeRead, summary: "This document", answer: map[string]any{}, handler: (*Server).openAPI},
	}
}

// sharingRoutes are the routes of the Sharing service: publishing and the
// catalog.
func sharingRoutes() []route {
	return []route{
		{pattern: api.RoutePublish, scope: ScopePublish,
			summary: "Publish a dataset version: the body is its records (JSONL or CSV). With Accept: application/x-ndjson the answer streams progress, rejects and the result; otherwise it is one PublishSummary (200), or a problem if nothing was published: 422 for the records, 400 for the request",
			query:   []string{"dataset", "schema", "format", "encoding", "delimiter", "description", "[]label", "[]purpose", "dry_run", "reject", "path"},
			raw:     []string{"application/x-ndjson", "text/csv"},
			rawDoc: "The records: JSON Lines (one object a line), or CSV (format=csv) with a header row of field paths " +
				"(declarant.name, items[0].hs_code, tags[0], or a whole array or object as JSON in its cells); UTF-8 unless encoding says otherwise, " +
				"a record at most 1 MiB",
			answer: api.PublishSummary{}, stream: api.PublishEvent{}, handler: (*Server).publish},
		{pattern: api.RouteCatalog, scope: ScopeRead, summary: "List catalog entries", query: []string{"org", "schema", "label", "all", "as"},
			answer: []api.CatalogEntry{}, handler: (*Server).catalog},
		{pattern: api.RouteCatalogItem, scope: ScopeRead, summary: "One statement of the catalog, by CID; with wait (a duration up to 1m), once the catalog holds it or the wait ends",
			query: []string{"wait"}, answer: api.CatalogItem{}, handler: (*Server).catalogItem},
		{pattern: api.RouteDataset, scope: ScopeRead, summary: "Every version of a dataset the catalog lists, oldest first, retracted ones marked",
			answer: []api.CatalogEntry{}, handler: answer(func(s *Server, r *http.Request) ([]api.CatalogEntry, error) {
				return s.sv.Sharing.DatasetVersions(r.PathValue("owner"), r.PathValue("name"))
			})},
		{pattern: api.RouteRetract, scope: ScopePublish, summary: "Retract one of this org's datasets; 409 if refused", query: []string{"dataset", "reason"},
			answer: api.CatalogItem{}, handler: (*Server).retract},
	}
}

// registryRoutes are the routes of the Registry service.
func registryRoutes() []route {
	return []route{
		{pattern: api.RouteSchemas, scope: ScopeRead, summary: "List the schema registry", answer: []api.SchemaInfo{},
			handler: answer(func(s *Server, _ *http.Request) ([]api.SchemaInfo, error) {
				return nonNil(s.sv.Registry.Schemas()), nil
			})},
		{pattern: api.RouteSchema, scope: ScopeRead, summary: "One schema, NAME[@VERSION] or OWNER/NAME[@VERSION], with its document",
			answer: api.SchemaInfo{}, handler: (*Server).schema},
		{pattern: api.RouteSchemaAdd, scope: ScopePublish, summary: "Register a schema document (the body); 400 if invalid, 409 if refused", query: []string{"name", "version"},
			raw: []string{"application/schema+json"}, rawDoc: "A JSON Schema 2020-12 document (schemas/registry.md), at most 48 KiB",
			answer: api.SchemaInfo{}, handler: (*Server).registerSchema},
		{pattern: api.RoutePolicySchema, scope: ScopeRead, summary: "The Cedar schema that policies are checked against", media: "text/plain",
			handler: text(func(s *Server, _ *http.Request) ([]byte, error) { return s.sv.Registry.PolicySchema(), nil })},
	}
}

// policyRoutes are the routes of the Policies service.
func policyRoutes() []route {
	policyExample := map[string]any{"files": map[string]any{"customs.cedar": "permit (principal, action, resource);"}}
	return []route{
		{pattern: api.RoutePolicy, scope: ScopeRead, summary: "The policy bundle in force", answer: api.PolicyInfo{},
			handler: answer(func(s *Server, _ *http.Request) (api.PolicyInfo, error) { return s.sv.Policies.Policy(), nil })},
		{pattern: api.RoutePolicyReload, scope: ScopePolicyAdmin, summary: "Reload the policy files; 409 if the bundle is refused",
			answer: api.PolicyInfo{}, handler: (*Server).policyReload},
		{pattern: api.RoutePolicyExplain, scope: ScopePolicyAdmin, summary: "Explain a record's decision for an org and a purpose",
			body: api.ExplainRequest{}, answer: api.ExplainResult{},
			example: map[string]any{"org": "customs-kz", "dataset": "customs-cn/khorgos-declarations", "purpose": "customs-clearance",
				"record": map[string]any{"declaration_id": "CN-2026-000001"}},
			handler: exchange(func(s *Server, req api.ExplainRequest) (*api.ExplainResult, error) { return s.sv.Policies.Explain(req) })},
		{pattern: api.RoutePolicyCheck, scope: ScopePolicyAdmin,
			summary: "Check an uploaded policy bundle against this gateway's registry, and run a decision table on it if one is given: its CID, policies and cases, or each problem at its file and line; nothing is put in force",
			body:    api.PolicyCheckRequest{}, answer: api.PolicyCheckResult{}, example: policyExample,
			handler: exchange(func(s *Server, req api.PolicyCheckRequest) (*api.PolicyCheckResult, error) {
				return s.sv.Policies.CheckPolicies(req)
			})},
		{pattern: api.RoutePolicyTest, scope: ScopePolicyAdmin, summary: "Run a decision table (YAML, as caravan policy test reads) against the bundle in force",
			body: api.PolicyTestRequest{}, answer: []api.PolicyCase{},
			example: map[string]any{"table": "time: 2026-11-27T10:00:00Z\norgs: {}\ndatasets: {}\ncases: []\n"},
			handler: exchange(func(s *Server, req api.PolicyTestRequest) ([]api.PolicyCase, error) {
				return s.sv.Policies.TestPolicies(req.Table)
			})},
		{pattern: api.RoutePolicyReplace, scope: ScopePolicyAdmin,
			summary: "Put an uploaded policy bundle in force in place of the policy directory's files, if it checks and its decision table (if given) passes; if not, 422 with the check's problems and nothing changes",
			body:    api.PolicyCheckRequest{}, answer: api.PolicyCheckResult{}, example: policyExample, handler: (*Server).replacePolicies},
		{pattern: api.RoutePolicyHistory, scope: ScopeRead, summary: "The policy bundles this org put in force, oldest first (its journal's policy entries)",
			answer: []api.JournalEntry{}, handler: answer(func(s *Server, r *http.Request) ([]api.JournalEntry, error) {
				return s.sv.Journal.PolicyHistory(r.Context())
			})},
	}
}

// fetchRoutes are the routes of the Fetching service, and of the fetch
// jobs (fetches.go).
func fetchRoutes() []route {
	return []route{
		{pattern: api.RouteFetch, scope: ScopeFetch, summary: "Fetch a partner's dataset version; the answer streams its id, progress, and the result",
			body: api.FetchRequest{}, answer: api.FetchEvent{}, media: api.NDJSON, example: fetchExample, handler: (*Server).fetch},
		{pattern: api.RouteFetchStart, scope: ScopeFetch,
			summary: "Start a fetch that goes on after the answer (202, with its resource in Location); 4xx if refused before the partner is asked",
			body:    api.FetchRequest{}, answer: api.FetchInfo{}, status: http.StatusAccepted,
			example: map[string]any{"manifest": "customs-cn/khorgos-declarations", "purpose": "customs-clearance"}, handler: (*Server).startFetch},
		{pattern: api.RouteFetches, scope: ScopeRead, summary: "The fetches in progress and the newest ended ones, newest first",
			answer: []api.FetchInfo{}, handler: answer(func(s *Server, _ *http.Request) ([]api.FetchInfo, error) { return s.sv.Fetching.Fetches(), nil })},
		{pattern: api.RouteFetchInfo, scope: ScopeRead, summary: "One fetch: its request, state, counts and result", answer: api.FetchInfo{}, handler: (*Server).fetchInfo},
		{pattern: api.RouteFetchEvents, scope: ScopeRead, summary: "A fetch's progress as server-sent events: 'progress' events, each a FetchInfo, then one 'end' event",
			media: "text/event-stream", handler: (*Server).fetchEvents},
		{pattern: api.RouteFetchCancel, scope: ScopeFetch, summary: "Stop a fetch in progress", handler: (*Server).cancelFetch},
		{pattern: api.RouteFetched, scope: ScopeFetch, summary: "The records received and verified of a dataset version for a purpose, one a line (JSONL), in index order",
			query: []string{"manifest", "purpose"}, answer: map[string]any{}, media: api.NDJSON, handler: (*Server).fetched},
		{pattern: api.RouteReceipts, scope: ScopeRead, summary: "This gateway's fetch receipts, oldest first (its journal's receipt entries)",
			answer: []api.JournalEntry{}, handler: answer(func(s *Server, r *http.Request) ([]api.JournalEntry, error) {
				return s.sv.Journal.Receipts(r.Context())
			})},
	}
}

// journalRoutes are the routes of the Journal service.
func journalRoutes() []route {
	return []route{
		{pattern: api.RouteJournalEntries, scope: ScopeRead, summary: "A page of a journal's entries: this org's own, or a member's mirror (org)",
			query: []string{"org", "from", "limit"}, answer: api.JournalPage{}, handler: answer((*Server).journalEntries)},
		{pattern: api.RouteEvidence, scope: ScopeRead,
			summary: "The C2SP tlog-proof evidence file of an entry of this org's journal, by index or event hash (or a unique prefix of 8 or more)",
			query:   []string{"entry", "hash"}, media: "text/plain", handler: (*Server).evidence},
		{pattern: api.RouteVerifyEvidence, scope: ScopeRead, summary: "Check an evidence file (the body) against the roster in force; 422 if it does not verify",
			raw: []string{"text/plain"}, rawDoc: "An evidence file (c2sp.org/tlog-proof), as GET /v1/journal/evidence gives it",
			answer: api.EvidenceReport{}, handler: (*Server).verifyEvidence},
		{pattern: api.RouteJournalAlerts, scope: ScopeRead, summary: "Fork alerts: members' checkpoints that contradicted verified ones",
			answer: []api.ForkAlert{}, handler: answer(func(s *Server, _ *http.Request) ([]api.ForkAlert, error) { return s.sv.Journal.JournalAlerts() })},
		{pattern: api.RouteCheckpoint, scope: ScopeRead,
			summary: "The newest checkpoint this gateway holds of a journal (org; this org's own if empty), with its cosignatures: a C2SP signed note; 404 if none",
			query:   []string{"org"}, media: "text/plain",
			handler: text(func(s *Server, r *http.Request) ([]byte, error) {
				return s.sv.Journal.Checkpoint(r.URL.Query().Get("org"))
			})},
		{pattern: api.RouteWitnessTimes, scope: ScopeRead,
			summary: "The newest times from a checkpoint of this org's journal announced to witnessed (the roster's cosignatures), oldest first",
			answer:  []api.WitnessSample{}, handler: answer(func(s *Server, _ *http.Request) ([]api.WitnessSample, error) {
				return nonNil(s.sv.Journal.WitnessTimes()), nil
			})},
	}
}

var fetchExample = map[string]any{"manifest": "customs-cn/khorgos-declarations", "purpose": "customs-clearance", "select": "0-99"}
