package api

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

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
	var documented []string
	for _, op := range operations {
		documented = append(documented, op.route)
	}
	s := NewServer(nil, ServerOptions{Metrics: http404{}})
	for _, r := range s.routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is served but not documented", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(s.routes, r) {
			t.Errorf("route %s is documented but not served", r)
		}
	}
	examples := 0
	for _, op := range operations {
		if op.example == nil {
			continue
		}
		method, path, _ := strings.Cut(op.route, " ")
		o := doc.Paths.Find(path).GetOperation(method)
		schema := o.RequestBody.Value.Content["application/json"].Schema.Value
		if err := schema.VisitJSON(op.example, openapi3.EnableFormatValidation()); err != nil {
			t.Errorf("%s: the example does not validate: %v", op.route, err)
		}
		examples++
	}
	if examples == 0 {
		t.Error("no examples checked")
	}
	// The query parameters documented are the ones the client sends.
	for route, q := range map[string]map[string][]string{
		RoutePublish: PublishRequest{Dataset: "d", Path: "/p"}.query(),
		RouteCatalog: CatalogQuery{As: "o"}.query(),
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
		t.Fatalf("api/openapi.json is not the document the types give (%v): go test ./api -run OpenAPI -update", err)
	}
}

type http404 struct{}

func (http404) ServeHTTP(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) }
