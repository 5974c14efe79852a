package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/api/server"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/internal/testnet"
)

func init() {
	// NDJSON: each line one value of the schema; server-sent events and
	// other text: a string.
	openapi3filter.RegisterBodyDecoder(api.NDJSON, func(body io.Reader, _ http.Header, schema *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 1<<20), 4<<20)
		var first any
		for n := 0; sc.Scan(); n++ {
			var v any
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				return nil, fmt.Errorf("line %d: %w", n+1, err)
			}
			if err := schema.Value.VisitJSON(v); err != nil {
				return nil, fmt.Errorf("line %d: %w", n+1, err)
			}
			if n == 0 {
				first = v
			}
		}
		return first, sc.Err()
	})
	for _, media := range []string{"text/event-stream", "application/problem+json"} {
		media := media
		openapi3filter.RegisterBodyDecoder(media, func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			data, err := io.ReadAll(body)
			if media == "application/problem+json" {
				var v any
				return v, json.Unmarshal(data, &v)
			}
			return string(data), err
		})
	}
}

// The answers of every route, taken from a real consortium, are what the
// OpenAPI document says: their status, media type and schema (kin-openapi
// validates each). POST /v1/fetches answered 202 where 200 was documented,
// /v1/roster and explain's policies did not match their schemas, and the
// document used 3.0's "nullable".
func TestEveryRouteAnswersAsDocumented(t *testing.T) {
	fn := testnet.NewFetchNet(t, 20)
	raw, err := server.OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: "http://caravan"}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	call := func(dir, method, path, contentType, accept, body string, want int) (int, string) {
		t.Helper()
		hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", datadir.Dir(dir).Socket())
		}}}
		req, _ := http.NewRequest(method, "http://caravan"+path, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s %s: not in the document: %v", method, path, err)
		}
		seen[method+" "+route.Path] = true
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
			Status:                 resp.StatusCode, Header: resp.Header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		in.SetBodyBytes(data)
		if resp.StatusCode != want {
			t.Errorf("%s %s: %d, want %d: %.300s", method, path, resp.StatusCode, want, data)
		}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("%s %s: %d %s answered otherwise than documented: %v\n%.400s", method, path, resp.StatusCode, resp.Header.Get("Content-Type"), err, data)
		}
		return resp.StatusCode, string(data)
	}
	cn, kz := fn.C.Dir(0), fn.C.Dir(1)
	get := func(dir, path string) string { _, b := call(dir, "GET", path, "", "", "", 200); return b }

	get(cn, "/v1/status")
	call(cn, "POST", "/v1/roster/reload", "", "", "", 200)
	records := strings.TrimSpace(string(testkit.JSONL(t, "shipment-event", 3, 1)))
	call(cn, "POST", "/v1/publish?dataset=rail&schema=shipment-event&purpose=tracking&reject=true", api.NDJSON, "", records+"\n{\"bad\":1}", 200)
	call(cn, "POST", "/v1/publish?dataset=rail&schema=shipment-event&purpose=tracking", api.NDJSON, api.NDJSON, records, 200)
	call(cn, "POST", "/v1/publish?dataset=rail&schema=shipment-event", api.NDJSON, "", "", 422)
	get(cn, "/v1/catalog")
	get(kz, "/v1/catalog/"+fn.CID+"?wait=5s")
	get(kz, "/v1/datasets/customs-cn/declarations")
	call(cn, "POST", "/v1/retract?dataset=rail&reason=test", "", "", "", 200)
	get(cn, "/v1/schemas")
	get(cn, "/v1/schemas/customs-declaration")
	doc0 := `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"x":{"type":"string"}}}`
	call(cn, "POST", "/v1/schemas?name=tiny&version=1.0", "application/schema+json", "", doc0, 200)
	get(cn, "/v1/policy/schema")
	get(cn, "/v1/policy")
	call(cn, "POST", "/v1/policy/reload", "", "", "", 200)
	var rec map[string]any
	_ = json.Unmarshal(fn.Recs[0], &rec)
	explain, _ := json.Marshal(map[string]any{"org": "customs-kz", "dataset": "customs-cn/declarations", "purpose": "customs-clearance", "record": rec})
	call(cn, "POST", "/v1/policy/explain", "application/json", "", string(explain), 200)
	call(cn, "POST", "/v1/policy/check", "application/json", "", `{"files":{"a.cedar":"@id(\"a\")\npermit (principal, action, resource);"}}`, 200)
	call(cn, "POST", "/v1/policy/test", "application/json", "", `{"table":"time: 2026-11-27T10:00:00Z\norgs: {}\ndatasets: {}\ncases: []\n"}`, 200)
	get(cn, "/v1/policy/history")
	fetchReq := `{"manifest":"` + fn.CID + `","purpose":"customs-clearance"}`
	call(kz, "POST", "/v1/fetch", "application/json", "", fetchReq, 200)
	code, started := call(kz, "POST", "/v1/fetches", "application/json", "", fetchReq, http.StatusAccepted)
	var info api.FetchInfo
	if err := json.Unmarshal([]byte(started), &info); err != nil || code != http.StatusAccepted {
		t.Fatalf("POST /v1/fetches: %d %s", code, started)
	}
	get(kz, "/v1/fetches")
	get(kz, "/v1/fetches/"+info.ID)
	get(kz, "/v1/fetches/"+info.ID+"/events")
	call(kz, "DELETE", "/v1/fetches/"+info.ID, "", "", "", http.StatusNotFound) // it has ended by now: a problem
	get(kz, "/v1/fetched?manifest="+url.QueryEscape(fn.CID)+"&purpose=customs-clearance")
	poll.Until(t, func() bool { return strings.Contains(getControl(t, kz, "/v1/receipts"), fn.CID) }, "a receipt")
	get(kz, "/v1/receipts")
	get(cn, "/v1/journal/entries?from=0&limit=5")
	get(kz, "/v1/journal/entries?org=customs-cn&from=0&limit=5")
	evidence := get(cn, "/v1/journal/evidence?entry=1")
	call(kz, "POST", "/v1/journal/verify", "text/plain", "", evidence, 200)
	get(cn, "/v1/journal/alerts")
	get(cn, "/v1/journal/witnessing")
	get(kz, "/v1/journal/checkpoint?org=customs-cn")
	get(cn, "/v1/roster")
	get(cn, "/v1/roster/refusals")
	proposal, err := fn.C.Revise(fn.C.Roster(), func(r *consortium.Roster) { r.Members[1].Name = "renamed" }, 0).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	call(cn, "POST", "/v1/roster/proposals", "application/yaml", "", string(proposal), 200)
	get(cn, "/v1/roster/proposals")
	nodes := fn.Nodes[0].Roster().Member("customs-cn").Nodes
	delegation := &consortium.Delegation{Consortium: fn.Nodes[0].Roster().Consortium, Org: "customs-cn", Sequence: 1, Nodes: nodes}
	if err := delegation.Sign(fn.C.OrgKey(0)); err != nil {
		t.Fatal(err)
	}
	data, err := delegation.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	call(cn, "POST", "/v1/roster/delegations", "application/yaml", "", string(data), 200)
	get(cn, "/metrics")
	get(cn, "/v1/openapi.json")
	// Answers that are problems are documented too.
	call(cn, "GET", "/v1/schemas/no-such-schema", "", "", "", 404)

	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !seen[method+" "+path] && !strings.HasPrefix(path, "/debug/pprof") && !(method == "PUT" && path == "/v1/policy") {
				t.Errorf("%s %s was not exercised", method, path)
			}
		}
	}
	// PUT /v1/policy last: it replaces the demo bundle.
	call(cn, "PUT", "/v1/policy", "application/json", "", `{"files":{"a.cedar":"@id(\"a\")\nforbid (principal, action, resource);"}}`, 200)
}
