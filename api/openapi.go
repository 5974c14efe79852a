package api

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/caravan-consortium/caravan/journal"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"
)

// RouteOpenAPI serves the API's OpenAPI document.
const RouteOpenAPI = "GET /v1/openapi.json"

// operation documents one route: what it does, its parameters, its body
// and its answer. The document is generated from these and from the Go
// types the routes exchange (OpenAPI), so that it cannot drift from them.
type operation struct {
	route   string
	summary string
	query   []string // query parameters (strings; "[]name" repeats), described in paramDocs
	body    any      // the JSON request body's Go value, if any
	raw     []string // a non-JSON request body's media types, if any
	answer  any      // the JSON answer's Go value (nil: no body, 204)
	media   string   // the answer's media type when it is not one JSON value
	status  int      // the answer's status, if not 200 (or 204 with no answer)
	// stream, if set, is the event of the NDJSON stream the route answers
	// instead of answer when the request asks for one (Accept:
	// application/x-ndjson).
	stream  any
	example any // an example of the JSON request body
}

// paramDocs describes every query and path parameter, by name.
var paramDocs = map[string]string{
	"dataset":     "A dataset name of this org, e.g. khorgos-declarations",
	"schema":      "A registered schema: NAME, NAME@MAJOR, NAME@MAJOR.MINOR or OWNER/NAME[@VERSION]",
	"format":      "The records' format: jsonl (default) or csv",
	"encoding":    "The file's character encoding if not UTF-8, e.g. windows-1251, gb18030, gbk, koi8-r, iso-8859-5",
	"delimiter":   "A CSV file's cell delimiter: ',' (default), ';', 'tab' or '|'",
	"description": "A description of the dataset version",
	"label":       "A label of the dataset (repeat the parameter for more)",
	"purpose":     "A purpose: for a publish, one the dataset is offered for (repeat for more); for records, the purpose they were fetched for",
	"dry_run":     "true: build and sign the manifest, store and announce nothing",
	"reject":      "true: publish the valid records and report the invalid ones, instead of failing on the first",
	"path":        "An absolute path of a file on the gateway's machine to read instead of the body (Unix socket only)",
	"org":         "An org id of the roster",
	"all":         "true: every version, retracted ones included; otherwise the newest of each dataset not retracted",
	"as":          "Only this org's datasets that the org named may discover",
	"wait":        "A duration up to 1m (e.g. 30s): answer once the catalog holds the statement, or 404 when the wait ends",
	"reason":      "Why, for the record",
	"name":        "The schema's registry name, if not the document's own (x-caravan-schema)",
	"version":     "The schema's version MAJOR.MINOR, if not the document's own",
	"manifest":    "A manifest CID, or OWNER/DATASET[@VERSION]",
	"from":        "The first entry's index",
	"limit":       "How many entries at most",
	"entry":       "An entry's index",
	"hash":        "An entry's event hash, or a unique prefix of 8 or more hex digits",
	"cid":         "A statement's CID",
	"owner":       "The dataset owner's org id",
	"ref":         "NAME[@VERSION] or OWNER/NAME[@VERSION]",
	"id":          "A fetch's id",
}

var operations = []operation{
	{route: RouteStatus, summary: "The gateway's status: members, connections, catalog, policy, journal", answer: Status{}},
	{route: RouteRosterReload, summary: "Reload the roster file; 409 if it is refused", answer: Status{}},
	{route: RoutePublish, summary: "Publish a dataset version: the body is its records (JSONL or CSV). With Accept: application/x-ndjson the answer streams progress, rejects and the result; otherwise it is one PublishSummary (200), or a problem if nothing was published: 422 for the records, 400 for the request",
		query: []string{"dataset", "schema", "format", "encoding", "delimiter", "description", "[]label", "[]purpose", "dry_run", "reject", "path"},
		raw:   []string{"application/x-ndjson", "text/csv"}, answer: PublishSummary{}, stream: PublishEvent{}},
	{route: RouteCatalog, summary: "List catalog entries", query: []string{"org", "schema", "label", "all", "as"}, answer: []CatalogEntry{}},
	{route: RouteCatalogItem, summary: "One statement of the catalog, by CID; with wait (a duration up to 1m), once the catalog holds it or the wait ends",
		query: []string{"wait"}, answer: CatalogItem{}},
	{route: RouteDataset, summary: "Every version of a dataset the catalog lists, oldest first, retracted ones marked", answer: []CatalogEntry{}},
	{route: RouteRetract, summary: "Retract one of this org's datasets; 409 if refused", query: []string{"dataset", "reason"}, answer: CatalogItem{}},
	{route: RouteSchemas, summary: "List the schema registry", answer: []SchemaInfo{}},
	{route: RouteSchema, summary: "One schema, NAME[@VERSION] or OWNER/NAME[@VERSION], with its document", answer: SchemaInfo{}},
	{route: RouteSchemaAdd, summary: "Register a schema document (the body); 400 if invalid, 409 if refused", query: []string{"name", "version"},
		raw: []string{"application/schema+json"}, answer: SchemaInfo{}},
	{route: RoutePolicySchema, summary: "The Cedar schema that policies are checked against", media: "text/plain"},
	{route: RoutePolicy, summary: "The policy bundle in force", answer: PolicyInfo{}},
	{route: RoutePolicyReload, summary: "Reload the policy files; 409 if the bundle is refused", answer: PolicyInfo{}},
	{route: RoutePolicyExplain, summary: "Explain a record's decision for an org and a purpose", body: ExplainRequest{}, answer: ExplainResult{},
		example: map[string]any{"org": "customs-kz", "dataset": "customs-cn/khorgos-declarations", "purpose": "customs-clearance",
			"record": map[string]any{"declaration_id": "CN-2026-000001"}}},
	{route: RoutePolicyCheck, summary: "Check an uploaded policy bundle against this gateway's registry, and run a decision table on it if one is given: its CID, policies and cases, or each problem at its file and line; nothing is put in force",
		body: PolicyCheckRequest{}, answer: PolicyCheckResult{},
		example: map[string]any{"files": map[string]any{"customs.cedar": "permit (principal, action, resource);"}}},
	{route: RoutePolicyTest, summary: "Run a decision table (YAML, as caravan policy test reads) against the bundle in force", body: PolicyTestRequest{}, answer: []PolicyCase{},
		example: map[string]any{"table": "time: 2026-11-27T10:00:00Z\norgs: {}\ndatasets: {}\ncases: []\n"}},
	{route: RoutePolicyReplace, summary: "Put an uploaded policy bundle in force in place of the policy directory's files, if it checks and its decision table (if given) passes; if not, 422 with the check's problems and nothing changes",
		body: PolicyCheckRequest{}, answer: PolicyCheckResult{},
		example: map[string]any{"files": map[string]any{"customs.cedar": "permit (principal, action, resource);"}}},
	{route: RouteFetch, summary: "Fetch a partner's dataset version; the answer streams its id, progress, and the result",
		body: FetchRequest{}, answer: FetchEvent{}, media: "application/x-ndjson",
		example: map[string]any{"manifest": "customs-cn/khorgos-declarations", "purpose": "customs-clearance", "select": "0-99"}},
	{route: RouteFetchCancel, summary: "Stop a fetch in progress"},
	{route: RouteFetchStart, summary: "Start a fetch that goes on after the answer (202, with its resource in Location); 4xx if refused before the partner is asked",
		body: FetchRequest{}, answer: FetchInfo{}, status: http.StatusAccepted, example: map[string]any{"manifest": "customs-cn/khorgos-declarations", "purpose": "customs-clearance"}},
	{route: RouteFetches, summary: "The fetches in progress and the newest ended ones, newest first", answer: []FetchInfo{}},
	{route: RouteFetchInfo, summary: "One fetch: its request, state, counts and result", answer: FetchInfo{}},
	{route: RouteFetchEvents, summary: "A fetch's progress as server-sent events: 'progress' events, each a FetchInfo, then one 'end' event", media: "text/event-stream"},
	{route: RouteFetched, summary: "The records received and verified of a dataset version for a purpose, one a line (JSONL), in index order",
		query: []string{"manifest", "purpose"}, answer: map[string]any{}, media: NDJSON},
	{route: RouteJournalEntries, summary: "A page of a journal's entries: this org's own, or a member's mirror (org)",
		query: []string{"org", "from", "limit"}, answer: JournalPage{}},
	{route: RouteEvidence, summary: "The C2SP tlog-proof evidence file of an entry of this org's journal, by index or event hash (or a unique prefix of 8 or more)",
		query: []string{"entry", "hash"}, media: "text/plain"},
	{route: RouteVerifyEvidence, summary: "Check an evidence file (the body) against the roster in force; 422 if it does not verify",
		raw: []string{"text/plain"}, answer: journal.Report{}},
	{route: RouteJournalAlerts, summary: "Fork alerts: members' checkpoints that contradicted verified ones", answer: []journal.Alert{}},
	{route: RouteCheckpoint, summary: "The newest checkpoint this gateway holds of a journal (org; this org's own if empty), with its cosignatures: a C2SP signed note; 404 if none", query: []string{"org"}, media: "text/plain"},
	{route: RouteWitnessTimes, summary: "The newest times from a checkpoint of this org's journal announced to witnessed (the roster's cosignatures), oldest first", answer: []WitnessSample{}},
	{route: RoutePolicyHistory, summary: "The policy bundles this org put in force, oldest first (its journal's policy entries)", answer: []JournalEntry{}},
	{route: RouteReceipts, summary: "This gateway's fetch receipts, oldest first (its journal's receipt entries)", answer: []JournalEntry{}},
	{route: RouteRoster, summary: "The signed consortium roster in force (its format: schemas/roster.md)", answer: Roster{}},
	{route: RouteRosterRefusals, summary: "Roster updates refused since the gateway started (the newest 20)", answer: []RosterRefusal{}},
	{route: RouteMetrics, summary: "Prometheus metrics", media: "text/plain"},
	{route: RoutePprof, summary: "Go's profiles (on the Unix socket only)", media: "text/html"},
	{route: RoutePprofProfile, summary: "A CPU profile (on the Unix socket only)", media: "application/octet-stream"},
	{route: RouteOpenAPI, summary: "This document", answer: map[string]any{}},
}

var (
	openAPIOnce sync.Once
	openAPIDoc  []byte
	openAPIErr  error
)

// OpenAPIDocument returns the API's OpenAPI 3.1 document, as JSON.
func OpenAPIDocument() ([]byte, error) {
	openAPIOnce.Do(func() {
		var doc *openapi3.T
		if doc, openAPIErr = OpenAPI(); openAPIErr == nil {
			openAPIDoc, openAPIErr = json.MarshalIndent(doc, "", "  ")
		}
	})
	return openAPIDoc, openAPIErr
}

// OpenAPI builds the API's OpenAPI 3.1 document.
func OpenAPI() (*openapi3.T, error) {
	doc := &openapi3.T{
		OpenAPI: "3.1.0",
		Info: &openapi3.Info{Title: "Caravan gateway API", Version: "1",
			Description: "The API of one Caravan gateway, on its Unix socket (no token) and on its optional TLS listener " +
				"(a bearer token holding the scope each operation names in x-caravan-scope). Errors are RFC 9457 problem details."},
		Paths: openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas: openapi3.Schemas{},
			SecuritySchemes: openapi3.SecuritySchemes{
				"token": &openapi3.SecuritySchemeRef{Value: openapi3.NewSecurityScheme().WithType("http").WithScheme("bearer").
					WithDescription("An API token (caravan token create), on the TLS listener only")},
			},
		},
		Security: openapi3.SecurityRequirements{{"token": []string{}}},
	}
	// Schemas are inline: kin-openapi's component export left references to
	// nested types (manifest.Manifest) unresolved.
	gen := openapi3gen.NewGenerator(openapi3gen.SchemaCustomizer(customizeSchema))
	schemaOf := func(v any) (*openapi3.SchemaRef, error) {
		return gen.NewSchemaRefForValue(v, doc.Components.Schemas)
	}
	problem, err := schemaOf(Problem{})
	if err != nil {
		return nil, err
	}
	for _, op := range operations {
		method, path, ok := strings.Cut(op.route, " ")
		if !ok {
			return nil, fmt.Errorf("route %q: no method", op.route)
		}
		path = strings.ReplaceAll(path, "...}", "}")
		o := &openapi3.Operation{Summary: op.summary, OperationID: operationID(method, path), Responses: openapi3.NewResponses()}
		o.Extensions = map[string]any{"x-caravan-scope": scopeName(op.route)}
		for _, name := range pathParams(path) {
			o.AddParameter(openapi3.NewPathParameter(name).WithSchema(openapi3.NewStringSchema()).WithDescription(paramDocs[name]))
		}
		for _, q := range op.query {
			if name, ok := strings.CutPrefix(q, "[]"); ok {
				o.AddParameter(openapi3.NewQueryParameter(name).WithDescription(paramDocs[name]).
					WithSchema(openapi3.NewArraySchema().WithItems(openapi3.NewStringSchema())))
				continue
			}
			o.AddParameter(openapi3.NewQueryParameter(q).WithSchema(openapi3.NewStringSchema()).WithDescription(paramDocs[q]))
		}
		switch {
		case op.body != nil:
			s, err := schemaOf(op.body)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op.route, err)
			}
			mt := openapi3.NewMediaType().WithSchemaRef(s)
			if op.example != nil {
				mt.Example = op.example
			}
			o.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).
				WithContent(openapi3.Content{"application/json": mt})}
		case len(op.raw) > 0:
			content := openapi3.Content{}
			for _, media := range op.raw {
				content[media] = openapi3.NewMediaType().WithSchema(openapi3.NewStringSchema().WithFormat("binary"))
			}
			o.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).
				WithDescription(rawBodyDocs[op.route]).WithContent(content)}
		}
		if err := addAnswer(o, op, schemaOf); err != nil {
			return nil, err
		}
		o.Responses.Set("default", &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription("An error: RFC 9457 problem details").
			WithContent(openapi3.Content{"application/problem+json": openapi3.NewMediaType().WithSchemaRef(problem)})})
		doc.AddOperation(path, method, o)
	}
	nullAsType(doc)
	return doc, nil
}

// rawBodyDocs describes the bodies that are not one JSON value.
var rawBodyDocs = map[string]string{
	RoutePublish: "The records: JSON Lines (one object a line), or CSV (format=csv) with a header row of field paths " +
		"(declarant.name, items[0].hs_code, tags[0], or a whole array or object as JSON in its cells); UTF-8 unless encoding says otherwise, " +
		"a record at most 1 MiB",
	RouteSchemaAdd:      "A JSON Schema 2020-12 document (schemas/registry.md), at most 48 KiB",
	RouteVerifyEvidence: "An evidence file (c2sp.org/tlog-proof), as GET /v1/journal/evidence gives it",
}

// addAnswer documents op's successful answer.
func addAnswer(o *openapi3.Operation, op operation, schemaOf func(any) (*openapi3.SchemaRef, error)) error {
	status := op.status
	switch {
	case op.answer == nil && op.media == "":
		o.AddResponse(http.StatusNoContent, openapi3.NewResponse().WithDescription("Done"))
		return nil
	case op.answer == nil:
		o.AddResponse(cmp.Or(status, http.StatusOK), openapi3.NewResponse().WithDescription("OK").
			WithContent(openapi3.Content{op.media: openapi3.NewMediaType().WithSchema(openapi3.NewStringSchema())}))
		return nil
	}
	s, err := schemaOf(op.answer)
	if err != nil {
		return fmt.Errorf("%s: %w", op.route, err)
	}
	media, desc := cmp.Or(op.media, "application/json"), "OK"
	if media == NDJSON {
		desc = "A stream of events, one JSON object a line, each of this schema"
	}
	content := openapi3.Content{media: openapi3.NewMediaType().WithSchemaRef(s)}
	if op.stream != nil {
		es, err := schemaOf(op.stream)
		if err != nil {
			return fmt.Errorf("%s: %w", op.route, err)
		}
		content[NDJSON] = openapi3.NewMediaType().WithSchemaRef(es)
		desc = "The result as one JSON document; or, if the request's Accept names " + NDJSON + ", a stream of events, one JSON object a line"
	}
	o.AddResponse(cmp.Or(status, http.StatusOK), openapi3.NewResponse().WithDescription(desc).WithContent(content))
	return nil
}

// nullAsType writes every nullable schema as OpenAPI 3.1 does, with "null"
// among its types (3.0's "nullable" is not 3.1).
func nullAsType(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var visit func(r *openapi3.SchemaRef)
	visit = func(r *openapi3.SchemaRef) {
		if r == nil || r.Value == nil || seen[r.Value] {
			return
		}
		s := r.Value
		seen[s] = true
		if s.Nullable {
			s.Nullable = false
			if s.Type != nil && !s.Type.Includes(openapi3.TypeNull) {
				t := append(openapi3.Types{}, s.Type.Slice()...)
				t = append(t, openapi3.TypeNull)
				s.Type = &t
			}
		}
		visit(s.Items)
		if s.AdditionalProperties.Schema != nil {
			visit(s.AdditionalProperties.Schema)
		}
		for _, p := range s.Properties {
			visit(p)
		}
		for _, list := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
			for _, x := range list {
				visit(x)
			}
		}
	}
	for _, item := range doc.Paths.Map() {
		for _, o := range item.Operations() {
			for _, p := range o.Parameters {
				visit(p.Value.Schema)
			}
			if o.RequestBody != nil {
				for _, mt := range o.RequestBody.Value.Content {
					visit(mt.Schema)
				}
			}
			for _, r := range o.Responses.Map() {
				for _, mt := range r.Value.Content {
					visit(mt.Schema)
				}
			}
		}
	}
}

// scopeName is the token scope a route needs on the TCP listener, or
// "socket-only".
func scopeName(route string) string {
	if s, ok := routeScopes[route]; ok {
		return s
	}
	return "socket-only"
}

func pathParams(path string) []string {
	var out []string
	for _, part := range strings.Split(path, "/") {
		if strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}") {
			out = append(out, strings.Trim(part, "{}"))
		}
	}
	return out
}

// operationID is a route's id: method and path words, e.g. getV1CatalogCid.
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, w := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '{' || r == '}' || r == '.' || r == '-' }) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// customizeSchema fixes what reflection cannot know: raw JSON is any JSON
// value, a CID's binary form is its string, and a list may be null.
func customizeSchema(_ string, t reflect.Type, _ reflect.StructTag, schema *openapi3.Schema) error {
	if t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8 {
		// Go writes an empty list as null as often as []: say so.
		schema.Nullable = true
	}
	switch t {
	case reflect.TypeFor[json.RawMessage]():
		*schema = openapi3.Schema{Description: "any JSON value"}
	case reflect.TypeFor[time.Duration]():
		*schema = *openapi3.NewInt64Schema()
		schema.Description = "nanoseconds"
	}
	return nil
}
