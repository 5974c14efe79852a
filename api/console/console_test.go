package console_test

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/api/server"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testnet"
)

// The console's pages over HTTP, against three gateways: each page draws
// what its gateway holds, a session needs a token in force, a form asks
// for its scope, and a request with the session cookie that changes
// something must come from the console's own origin.
func TestConsolePages(t *testing.T) {
	fn := testnet.NewFetchNet(t, 200, testnet.WithAPI)
	kz := fn.Nodes[1]
	cl, err := api.NewClient(fn.C.Dir(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Fetch(context.Background(), api.FetchRequest{Manifest: fn.CID, Purpose: "customs-clearance"}, nil); err != nil {
		t.Fatal(err)
	}
	// The receipt reaches kz's journal's checkpoint, and the decision its
	// mirror of customs-cn's journal.
	for org, typ := range map[string]string{"": "receipt", "customs-cn": "decision"} {
		poll.Until(t, func() bool {
			page, err := cl.JournalEntries(context.Background(), org, 0, 100)
			return err == nil && slices.ContainsFunc(page.Entries, func(e api.JournalEntry) bool { return e.Event != nil && e.Event.Type == typ })
		}, "a "+typ+" entry in the journal of "+org)
	}
	admin := testnet.NewRemote(t, fn.C.Dir(1), kz.Services().Admin.Status().API.Listen, "admin", server.Scopes...)
	for _, p := range []struct{ path, want string }{
		{"/console/", "Partners connected"},
		{"/console/catalog", "customs-cn/declarations"},
		{"/console/catalog?q=nothing-matches-this", "No dataset matches"},
		{"/console/datasets/customs-cn/declarations", "customs-clearance"},
		{"/console/policies", "customs-partner-clearance"},
		{"/console/journal", "received declarations of customs-cn"},
		{"/console/journal?org=customs-cn", "customs-kz asked declarations"},
		{"/console/fetches", fn.CID[:10]},
		{"/console/members", "logistics-az"},
	} {
		code, body := admin.Browse("GET", p.path, "", "", false)
		if code != 200 || !strings.Contains(body, p.want) {
			t.Errorf("GET %s: %d, wants %q in\n%.2000s", p.path, code, p.want, body)
		}
	}
	// A roster version proposed and half signed: the members page says who
	// has signed and who has not.
	proposal, err := fn.C.Revise(fn.C.Roster(), func(r *consortium.Roster) { r.Members[0].Name = "proposed" }, 0).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if p, err := kz.Services().Admin.SubmitRoster(proposal); err != nil || p.State != "pending" {
		t.Fatalf("a proposal: %+v %v", p, err)
	}
	if _, body := admin.Browse("GET", "/console/members", "", "", false); !strings.Contains(body, `<table id="proposals">`) ||
		strings.Contains(body, "None pending") || !strings.Contains(body, "of its admins and 2 of those in force") {
		t.Errorf("the members page does not show the proposal:\n%.3000s", body)
	}

	// Who fetched what, from the owner's journal as mirrored here.
	if _, body := admin.Browse("GET", "/console/datasets/customs-cn/declarations", "", "", false); !strings.Contains(body, "decision #") {
		t.Errorf("the dataset page lists no decision of the owner")
	}

	// The checkpoints, with their cosignatures: this org's, and a mirror's.
	// Witnessing is asynchronous: a checkpoint signed a moment ago may
	// carry only its log's signature yet, so the test waits for a cosigned
	// one (it failed 2 runs in 8 without -race when it did not).
	for _, org := range []string{"", "customs-cn"} {
		var code int
		var note string
		cosigned := func() bool {
			code, note = admin.Call("GET", "/v1/journal/checkpoint?org="+org, "")
			return code == 200 && strings.Count(note, "\u2014 ") >= 2
		}
		poll.Until(t, cosigned, "a cosigned checkpoint of "+cmp.Or(org, "customs-kz"))
		if origin := "caravan/silk-road-devnet/" + cmp.Or(org, "customs-kz"); !strings.HasPrefix(note, origin+"\n") {
			t.Errorf("the checkpoint of %q: %d %q", org, code, note)
		}
	}

	// org names a member, never a directory: not even one that holds a
	// file named like a checkpoint's size.
	if err := os.MkdirAll(filepath.Join(fn.C.Dir(1), "secret"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fn.C.Dir(1), "secret", "7"), []byte("SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, org := range []string{"../../secret", "../../../../etc", "..", "nobody"} {
		if code, body := admin.Call("GET", "/v1/journal/checkpoint?org="+url.QueryEscape(org), ""); code != 404 || !strings.Contains(body, `"field":"org"`) {
			t.Errorf("the checkpoint of %q: %d %.200s", org, code, body)
		}
	}

	// No session: the login page.
	code, body := admin.CallAs("", "GET", "/console/fetches", "")
	if code != 200 || !strings.Contains(body, `name="token"`) || !strings.Contains(body, `value="/console/fetches"`) {
		t.Errorf("without a session: %d %.500s", code, body)
	}
	// Log in: a bad token is refused; a good one is kept in a strict cookie.
	noRedirect := *admin.HC
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	login := func(token string) *http.Response {
		req, _ := http.NewRequest("POST", admin.Base+"/console/login", strings.NewReader(url.Values{"token": {token}, "next": {"/console/journal"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", admin.Base)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := login("cvn_not-a-token"); resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
		t.Errorf("a bad token: %d %v", resp.StatusCode, resp.Cookies())
	}
	resp := login(admin.Token)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/console/journal" || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Header)
	}
	if c := resp.Cookies()[0]; c.Name != server.SessionCookie(strings.TrimPrefix(admin.Base, "https://")) || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode {
		t.Errorf("the session cookie: %+v", c)
	}

	// A form needs its scope.
	reader := testnet.NewRemote(t, fn.C.Dir(1), kz.Services().Admin.Status().API.Listen, "reader", server.ScopeRead)
	explain := url.Values{"org": {"customs-kz"}, "dataset": {"customs-cn/declarations"}, "purpose": {"customs-clearance"},
		"record": {string(fn.Recs[0])}}.Encode()
	if code, _ := reader.Browse("POST", "/console/policies/explain", "application/x-www-form-urlencoded", explain, true); code != 403 {
		t.Errorf("explain with read only: %d", code)
	}
	code, body = admin.Browse("POST", "/console/policies/explain", "application/x-www-form-urlencoded", explain, true)
	if code != 200 || !strings.Contains(body, `class="verdict`) {
		t.Errorf("explain: %d %.3000s", code, body)
	}
	// The cookie acts only from the console's origin.
	if code, _ := admin.Browse("POST", "/console/policies/explain", "application/x-www-form-urlencoded", explain, false); code != 403 {
		t.Errorf("a cross-site form: %d", code)
	}
	if code, _ := admin.Browse("POST", "/v1/policy/test", "application/json", `{"table":""}`, false); code != 403 {
		t.Errorf("a cross-site API call with the cookie: %d", code)
	}
	// A form's body is bounded: a huge upload is refused, not stored.
	huge := "--b\r\nContent-Disposition: form-data; name=\"evidence\"; filename=\"e\"\r\n\r\n" + strings.Repeat("x", 9<<20) + "\r\n--b--\r\n"
	if code, body := admin.Browse("POST", "/console/journal/verify", "multipart/form-data; boundary=b", huge, true); code != 400 || !strings.Contains(body, "too large") {
		t.Errorf("a 9 MiB form: %d %.300s", code, body)
	}
	if code, _ := admin.Browse("GET", "/v1/status", "", "", false); code != 200 {
		t.Errorf("an API read with the cookie: %d", code)
	}
}
