package server

import (
	"bytes"
	"context"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/api"
	"github.com/getkin/kin-openapi/openapi3"
)

var update = flag.Bool("update", false, "rewrite openapi.json")

// The OpenAPI document is valid, documents every route the server
// registers (and nothing else), its examples validate against their
// schemas, and the committed openapi.json is the one the types give.
func TestOpenAPIDocument(t *testing.T) {
	doc, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	// The table serves each of api's routes once, each with a handler; and
	// only profiling is kept off the TCP listener.
	seen := map[string]bool{}
	for _, rt := range routes() {
		if seen[rt.pattern] {
			t.Errorf("route %s is in the table twice", rt.pattern)
		}
		seen[rt.pattern] = true
		if rt.handler == nil || rt.summary == "" {
			t.Errorf("route %s has no handler or no summary", rt.pattern)
		}
		if rt.scope == "" && !strings.HasPrefix(rt.pattern, "GET /debug/pprof/") {
			t.Errorf("route %s has no scope: the TCP listener would not serve it", rt.pattern)
		}
	}
	for _, r := range apiRoutes(t) {
		if !seen[r] {
			t.Errorf("api names route %s, which the table does not serve", r)
		}
		delete(seen, r)
	}
	for r := range seen {
		t.Errorf("the table serves %s, which api names no Route constant for", r)
	}
	examples := 0
	for _, op := range routes() {
		if op.example == nil {
			continue
		}
		method, path, _ := strings.Cut(op.pattern, " ")
		o := doc.Paths.Find(path).GetOperation(method)
		schema := o.RequestBody.Value.Content["application/json"].Schema.Value
		if err := schema.VisitJSON(op.example, openapi3.EnableFormatValidation()); err != nil {
			t.Errorf("%s: the example does not validate: %v", op.pattern, err)
		}
		examples++
	}
	if examples == 0 {
		t.Error("no examples checked")
	}
	// The query parameters documented are the ones the client sends.
	for route, q := range map[string]map[string][]string{
		api.RoutePublish: api.PublishRequest{Dataset: "d", Path: "/p"}.Query(),
		api.RouteCatalog: api.CatalogQuery{As: "o"}.Query(),
	} {
		method, path, _ := strings.Cut(route, " ")
		o := doc.Paths.Find(path).GetOperation(method)
		for name := range q {
			if o.Parameters.GetByInAndName("query", name) == nil {
				t.Errorf("%s: the client sends %q, which is not documented", route, name)
			}
		}
	}
	// Every parameter and every body that is not JSON is described.
	for path, item := range doc.Paths.Map() {
		for method, o := range item.Operations() {
			for _, p := range o.Parameters {
				if p.Value.Description == "" {
					t.Errorf("%s %s: parameter %s has no description", method, path, p.Value.Name)
				}
			}
			if rb := o.RequestBody; rb != nil && rb.Value.Content.Get("application/json") == nil && rb.Value.Description == "" {
				t.Errorf("%s %s: the body is not described", method, path)
			}
		}
	}
	got, err := OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got, []byte(`"nullable"`)) {
		t.Error(`an OpenAPI 3.1 document has no "nullable": a type array holds "null"`)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile("openapi.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("openapi.json")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("api/openapi.json is not the document the types give (%v): go test ./api/server -run OpenAPI -update", err)
	}
}

// apiRoutes are the values of api's Route* constants, read from its source.
func apiRoutes(t *testing.T) []string {
	f, err := parser.ParseFile(token.NewFileSet(), "../routes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if strings.HasPrefix(name.Name, "Route") {
					v, _ := strconv.Unquote(vs.Values[i].(*ast.BasicLit).Value)
					out = append(out, v)
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no Route constants found in api/routes.go")
	}
	return out
}
