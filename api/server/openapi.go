package server

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"
)

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
	problem, err := schemaOf(api.Problem{})
	if err != nil {
		return nil, err
	}
	for _, op := range routes() {
		method, path, ok := strings.Cut(op.pattern, " ")
		if !ok {
			return nil, fmt.Errorf("route %q: no method", op.pattern)
		}
		path = strings.ReplaceAll(path, "...}", "}")
		o := &openapi3.Operation{Summary: op.summary, OperationID: operationID(method, path), Responses: openapi3.NewResponses()}
		o.Extensions = map[string]any{"x-caravan-scope": cmp.Or(op.scope, "socket-only")}
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
				return nil, fmt.Errorf("%s: %w", op.pattern, err)
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
				WithDescription(op.rawDoc).WithContent(content)}
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

// addAnswer documents op's successful answer.
func addAnswer(o *openapi3.Operation, op route, schemaOf func(any) (*openapi3.SchemaRef, error)) error {
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
		return fmt.Errorf("%s: %w", op.pattern, err)
	}
	media, desc := cmp.Or(op.media, "application/json"), "OK"
	if media == api.NDJSON {
		desc = "A stream of events, one JSON object a line, each of this schema"
	}
	content := openapi3.Content{media: openapi3.NewMediaType().WithSchemaRef(s)}
	if op.stream != nil {
		es, err := schemaOf(op.stream)
		if err != nil {
			return fmt.Errorf("%s: %w", op.pattern, err)
		}
		content[api.NDJSON] = openapi3.NewMediaType().WithSchemaRef(es)
		desc = "The result as one JSON document; or, if the request's Accept names " + api.NDJSON + ", a stream of events, one JSON object a line"
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
