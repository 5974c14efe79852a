package testnet

import (
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/caravan-consortium/caravan/api/server"
)

// OpenAPI opens gateway i's TCP API listener on a free loopback port, with
// the self-signed certificate caravan init makes; call it before Start.
func (c *Cluster) OpenAPI(i int) {
	c.t.Helper()
	dir := c.Dir(i)
	path := filepath.Join(dir, "caravan.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		c.t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), "api:\n  listen: \"\"", "api:\n  listen: \"127.0.0.1:0\"", 1))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		c.t.Fatal(err)
	}
	if _, err := datadir.MakeAPICert(dir, c.Net.Orgs[i].Org); err != nil {
		c.t.Fatal(err)
	}
}

// WithAPI opens every gateway's TCP API listener (see OpenAPI).
func WithAPI(c *Cluster) {
	for i := range c.Net.Orgs {
		c.OpenAPI(i)
	}
}

// Remote calls a gateway's TCP API with one token, trusting the gateway's
// own certificate.
type Remote struct {
	t     testing.TB
	Base  string // https://HOST:PORT
	Token string
	HC    *http.Client
}

// NewRemote makes a token with scopes for the gateway of dir, whose API
// listens on listen (Status().API.Listen).
func NewRemote(t testing.TB, dir, listen, name string, scopes ...string) *Remote {
	t.Helper()
	roots, err := datadir.APIRoots(dir)
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := server.OpenTokens(datadir.Dir(dir).APITokens()).Create(name, scopes, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &Remote{t: t, Base: "https://" + listen, Token: token,
		HC: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}}
}

// Call sends a request with r's token (none if token is ""), and returns
// the answer's status and body.
func (r *Remote) Call(method, route, body string) (int, string) {
	return r.CallAs(r.Token, method, route, body)
}

// CallAs is Call with another token.
func (r *Remote) CallAs(token, method, route, body string) (int, string) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.Base+route, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return r.do(req)
}

// Browse sends a request as the console's pages do: the token in the
// session cookie and, if origin, the listener's own Origin header.
// contentType, if set, is the body's.
func (r *Remote) Browse(method, route, contentType, body string, origin bool) (int, string) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.Base+route, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: server.SessionCookie(req.URL.Host), Value: r.Token})
	if origin {
		req.Header.Set("Origin", r.Base)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return r.do(req)
}

func (r *Remote) do(req *http.Request) (int, string) {
	r.t.Helper()
	resp, err := r.HC.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}
