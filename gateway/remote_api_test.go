package gateway_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/caravan-consortium/caravan/api/server"
	"github.com/caravan-consortium/caravan/internal/testnet"
)

// The API's TCP listener: TLS with the self-signed certificate caravan init
// made (valid for 127.0.0.1), and on every call a token in force that
// holds the route's scope. Without one a call gets 401, outside its scope
// 403, and touches nothing.
func TestAPIListenerNeedsATokenWithTheScope(t *testing.T) {
	c := testnet.NewCluster(t, 1)
	dir := c.Dir(0)
	c.OpenAPI(0)
	n := c.Start(0)
	st := n.Services().Admin.Status()
	if st.API.Listen == "" || len(st.API.Fingerprint) != 95 {
		t.Fatalf("status: %+v", st.API)
	}
	rm := testnet.NewRemote(t, dir, st.API.Listen, "reader", server.ScopeRead)
	call := rm.CallAs
	reader := rm.Token
	tokens := server.OpenTokens(datadir.Dir(dir).APITokens())
	metrics, _, _ := tokens.Create("scraper", []string{server.ScopeMetrics}, time.Hour, time.Now())
	expired, _, _ := tokens.Create("old", []string{server.ScopeRead}, time.Nanosecond, time.Now())

	if code, body := call("", "GET", "/v1/status", ""); code != 401 || !strings.Contains(body, `"status":401`) || !strings.Contains(body, `"detail":`) {
		t.Errorf("no token: %d %s (want RFC 9457 problem details)", code, body)
	}
	if code, _ := call("cvn_not-a-token", "GET", "/v1/status", ""); code != 401 {
		t.Errorf("an unknown token: %d", code)
	}
	if code, _ := call(expired, "GET", "/v1/status", ""); code != 401 {
		t.Errorf("an expired token: %d", code)
	}
	if code, body := call(reader, "GET", "/v1/status", ""); code != 200 || !strings.Contains(body, `"org":"customs-cn"`) {
		t.Errorf("read with read: %d %s", code, body)
	}
	before := n.Services().Admin.Status()
	if code, _ := call(reader, "POST", "/v1/publish?dataset=x&schema=customs-declaration&format=jsonl&purpose=customs-clearance", ""); code != 403 {
		t.Errorf("publish with read: %d", code)
	}
	if code, _ := call(reader, "POST", "/v1/roster/reload", ""); code != 403 {
		t.Errorf("roster reload with read: %d", code)
	}
	if after := n.Services().Admin.Status(); after.Catalog.Statements != before.Catalog.Statements || after.RosterRejected != before.RosterRejected {
		t.Errorf("a refused call touched the gateway: %+v -> %+v", before.Catalog, after.Catalog)
	}
	if code, _ := call(reader, "GET", "/metrics", ""); code != 403 {
		t.Errorf("metrics with read: %d", code)
	}
	if code, body := call(metrics, "GET", "/metrics", ""); code != 200 || !strings.Contains(body, "caravan_members ") {
		t.Errorf("metrics with metrics: %d", code)
	}
	if code, body := call(reader, "GET", "/v1/openapi.json", ""); code != 200 || !strings.Contains(body, `"openapi": "3.1.0"`) {
		t.Errorf("the OpenAPI document with read: %d", code)
	}
	if code, _ := call(reader, "GET", "/debug/pprof/", ""); code != 404 {
		t.Errorf("profiling on the TCP listener: %d", code)
	}
	if err := tokens.Revoke("reader"); err != nil {
		t.Fatal(err)
	}
	if code, _ := call(reader, "GET", "/v1/status", ""); code != 401 {
		t.Errorf("a revoked token: %d", code)
	}
	// The file holds hashes only.
	raw, _ := os.ReadFile(datadir.Dir(dir).APITokens())
	if strings.Contains(string(raw), reader) || strings.Contains(string(raw), metrics) {
		t.Fatal("the token file holds a secret")
	}
	if fi, _ := os.Stat(datadir.Dir(dir).APITokens()); fi.Mode().Perm() != 0o600 {
		t.Fatalf("the token file is mode %v", fi.Mode().Perm())
	}
}

// An address that presents refused tokens gets 20, then 429 (a console
// login too, before its token is looked up), while a valid token from the
// same address is still served; a revoked session's cookie is forgotten.
func TestRefusedTokensAreLimitedPerAddress(t *testing.T) {
	c := testnet.NewCluster(t, 1)
	c.OpenAPI(0)
	n := c.Start(0)
	rm := testnet.NewRemote(t, c.Dir(0), n.Services().Admin.Status().API.Listen, "reader", server.ScopeRead)
	codes := map[int]int{}
	for range 30 {
		code, _ := rm.CallAs("cvn_guess", "GET", "/v1/status", "")
		codes[code]++
	}
	if codes[401] < 20 || codes[429] < 5 || codes[401]+codes[429] != 30 {
		t.Fatalf("30 refused tokens from one address: %v", codes)
	}
	if code, _ := rm.Call("GET", "/v1/status", ""); code != 200 {
		t.Fatalf("a valid token from the same address: %d", code)
	}
	if code, body := rm.Browse("POST", "/console/login", "application/x-www-form-urlencoded", "token=cvn_guess", true); code != 429 {
		t.Fatalf("a console login from that address: %d %.200s", code, body)
	}
	// A revoked token's session: the cookie is cleared, the login page shown.
	if err := server.OpenTokens(datadir.Dir(c.Dir(0)).APITokens()).Revoke("reader"); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", rm.Base+"/console/", nil)
	req.AddCookie(&http.Cookie{Name: server.SessionCookie(req.URL.Host), Value: rm.Token})
	hc := *rm.HC
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cleared := false
	for _, ck := range resp.Cookies() {
		cleared = cleared || ck.Name == server.SessionCookie(req.URL.Host) && ck.MaxAge < 0
	}
	if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/console/login") || !cleared {
		t.Fatalf("a revoked session: %d %v %v", resp.StatusCode, resp.Header.Get("Location"), resp.Cookies())
	}
}
