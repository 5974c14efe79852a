package node_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/node"
)

// The API's TCP listener: TLS with the self-signed certificate caravan init
// made (valid for 127.0.0.1), and on every call a token in force that
// holds the route's scope. Without one a call gets 401, outside its scope
// 403, and touches nothing.
func TestAPIListenerNeedsATokenWithTheScope(t *testing.T) {
	c := testkit.NewCluster(t, 1)
	dir := c.Dir(0)
	path := filepath.Join(dir, "caravan.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), "api:\n  listen: \"\"", "api:\n  listen: \"127.0.0.1:0\"", 1))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := node.MakeAPICert(dir, "customs-cn"); err != nil { // as caravan init does
		t.Fatal(err)
	}
	n := c.Start(0)
	st := n.Status()
	if st.API.Listen == "" || len(st.API.Fingerprint) != 95 {
		t.Fatalf("status: %+v", st.API)
	}
	pem, err := os.ReadFile(node.DataDir(dir).APICert())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	call := func(method, route, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "https://"+st.API.Listen+route, strings.NewReader(""))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	tokens := api.OpenTokens(node.DataDir(dir).APITokens())
	reader, _, err := tokens.Create("reader", []string{api.ScopeRead}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	metrics, _, _ := tokens.Create("scraper", []string{api.ScopeMetrics}, time.Hour, time.Now())
	expired, _, _ := tokens.Create("old", []string{api.ScopeRead}, time.Nanosecond, time.Now())

	if code, body := call("GET", "/v1/status", ""); code != 401 || !strings.Contains(body, `"status":401`) || !strings.Contains(body, `"detail":`) {
		t.Errorf("no token: %d %s (want RFC 9457 problem details)", code, body)
	}
	if code, _ := call("GET", "/v1/status", "cvn_not-a-token"); code != 401 {
		t.Errorf("an unknown token: %d", code)
	}
	if code, _ := call("GET", "/v1/status", expired); code != 401 {
		t.Errorf("an expired token: %d", code)
	}
	if code, body := call("GET", "/v1/status", reader); code != 200 || !strings.Contains(body, `"org":"customs-cn"`) {
		t.Errorf("read with read: %d %s", code, body)
	}
	before := n.Status()
	if code, _ := call("POST", "/v1/publish?dataset=x&schema=customs-declaration&format=jsonl&purpose=customs-clearance", reader); code != 403 {
		t.Errorf("publish with read: %d", code)
	}
	if code, _ := call("POST", "/v1/roster/reload", reader); code != 403 {
		t.Errorf("roster reload with read: %d", code)
	}
	if after := n.Status(); after.Catalog.Statements != before.Catalog.Statements || after.RosterRejected != before.RosterRejected {
		t.Errorf("a refused call touched the gateway: %+v -> %+v", before.Catalog, after.Catalog)
	}
	if code, _ := call("GET", "/metrics", reader); code != 403 {
		t.Errorf("metrics with read: %d", code)
	}
	if code, body := call("GET", "/metrics", metrics); code != 200 || !strings.Contains(body, "caravan_members ") {
		t.Errorf("metrics with metrics: %d", code)
	}
	if code, body := call("GET", "/v1/openapi.json", reader); code != 200 || !strings.Contains(body, `"openapi": "3.1.0"`) {
		t.Errorf("the OpenAPI document with read: %d", code)
	}
	if code, _ := call("GET", "/debug/pprof/", reader); code != 404 {
		t.Errorf("profiling on the TCP listener: %d", code)
	}
	if err := tokens.Revoke("reader"); err != nil {
		t.Fatal(err)
	}
	if code, _ := call("GET", "/v1/status", reader); code != 401 {
		t.Errorf("a revoked token: %d", code)
	}
	// The file holds hashes only.
	raw, _ := os.ReadFile(node.DataDir(dir).APITokens())
	if strings.Contains(string(raw), reader) || strings.Contains(string(raw), metrics) {
		t.Fatal("the token file holds a secret")
	}
	if fi, _ := os.Stat(node.DataDir(dir).APITokens()); fi.Mode().Perm() != 0o600 {
		t.Fatalf("the token file is mode %v", fi.Mode().Perm())
	}
}
