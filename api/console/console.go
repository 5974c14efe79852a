// Package console is the gateway's web console for its administrators:
// server-rendered pages over the same services the API serves, embedded in
// the binary, with one small script of our own for what must stream
// (publish uploads, fetch progress) and no build step.
//
// It is served on the API's TCP listener under /console/ (see
// server.Server.ServeTLS), which authenticates the session cookie; each page
// and form asks for the token scope the API route it stands for needs.
// The script calls the API itself (/v1/...) with the same cookie.
package console

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/api/server"
)

//go:embed web
var web embed.FS

// Options configures New.
type Options struct {
	Services server.Services
	Tokens   *server.Tokens
	Logger   *zap.Logger
}

// Console serves the console's pages.
type Console struct {
	sv     server.Services
	tokens *server.Tokens
	log    *zap.Logger
	mux    *http.ServeMux
	pages  map[string]*template.Template
	// org is this gateway's org, read from its status once (a status also
	// lists every member's connections: too much for each page's header).
	org func() string
}

// Handler is New as a gateway's assembly takes it (gateway.Options.Console).
func Handler(sv server.Services, tokens *server.Tokens, log *zap.Logger) (http.Handler, error) {
	return New(Options{Services: sv, Tokens: tokens, Logger: log})
}

// New parses the console's templates and makes its routes.
func New(o Options) (*Console, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	c := &Console{sv: o.Services, tokens: o.Tokens, log: o.Logger, mux: http.NewServeMux(), pages: map[string]*template.Template{},
		org: sync.OnceValue(func() string { return o.Services.Admin.Status().Org })}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(web, "web/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(web, "web/*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "web/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(web, name)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		c.pages[base] = t
	}
	static, _ := fs.Sub(web, "web/static")
	c.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	c.mux.HandleFunc("GET /console/login", c.loginPage)
	c.mux.HandleFunc("POST /console/login", c.login)
	c.mux.HandleFunc("POST /console/logout", c.logout)
	c.page("GET /console/{$}", server.ScopeRead, c.overview)
	c.page("GET /console/catalog", server.ScopeRead, c.catalog)
	c.page("GET /console/datasets/{owner}/{name}", server.ScopeRead, c.dataset)
	c.page("GET /console/policies", server.ScopeRead, c.policies)
	c.page("POST /console/policies/explain", server.ScopePolicyAdmin, c.explain)
	c.page("POST /console/policies/test", server.ScopePolicyAdmin, c.testTable)
	c.page("POST /console/policies/upload", server.ScopePolicyAdmin, c.uploadPolicies)
	c.page("GET /console/journal", server.ScopeRead, c.journal)
	c.page("POST /console/journal/verify", server.ScopeRead, c.verify)
	c.page("GET /console/fetches", server.ScopeRead, c.fetchesPage)
	c.page("GET /console/members", server.ScopeRead, c.members)
	return c, nil
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	c.mux.ServeHTTP(w, r)
}

// view is what every page's template gets.
type view struct {
	Page   string        // the template's name, for the navigation
	Title  string        // the page's title
	Org    string        // this gateway's org
	Token  *server.Token // the caller's
	Data   any           // the page's own
	Status int           // the answer's status
}

// Can reports whether the caller's token holds scope: pages show a form
// only to those who may send it.
func (v *view) Can(scope string) bool { return v.Token != nil && v.Token.Allows(scope) }

// pageFunc makes a page's view, or fails. An error with an *api.StatusError
// keeps its status.
type pageFunc func(r *http.Request, v *view) error

// page registers a route that needs a session whose token holds scope.
func (c *Console) page(pattern, scope string, f pageFunc) {
	c.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		t := server.Caller(r.Context())
		if t == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/console/login?next="+template.URLQueryEscaper(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.fail(w, r, nil, http.StatusUnauthorized, errors.New("your session has ended: log in again"))
			return
		}
		if !server.SameOrigin(r) {
			c.fail(w, r, t, http.StatusForbidden, errors.New("a form of another site may not act on this console"))
			return
		}
		if !t.Allows(scope) {
			c.fail(w, r, t, http.StatusForbidden, fmt.Errorf("your token (%s) does not hold the %q scope this page needs; ask for one with caravan token create --scope %s", t.Name, scope, scope))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxUpload) // a form is small; records go to /v1/publish
		v := &view{Org: c.org(), Token: t, Status: http.StatusOK}
		if err := f(r, v); err != nil {
			c.fail(w, r, t, api.StatusOf(err, http.StatusInternalServerError), err)
			return
		}
		c.render(w, v)
	})
}

// fail answers with the error page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, t *server.Token, code int, err error) {
	c.log.Info("console page failed", zap.String("path", r.URL.Path), zap.Int("status", code), zap.Error(err))
	c.render(w, &view{Page: "error", Title: http.StatusText(code), Org: c.org(), Token: t, Status: code, Data: err.Error()})
}

// render writes a page; a template that fails yields a plain 500.
func (c *Console) render(w http.ResponseWriter, v *view) {
	t, ok := c.pages[v.Page]
	if !ok {
		http.Error(w, "no console page "+v.Page, http.StatusInternalServerError)
		return
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout.html", v); err != nil {
		c.log.Error("console template failed", zap.String("page", v.Page), zap.Error(err))
		http.Error(w, "the console could not draw this page; see the gateway's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(v.Status)
	_, _ = b.WriteTo(w)
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, &view{Page: "login", Title: "Log in", Org: c.org(), Status: http.StatusOK, Data: loginData{Next: safeNext(r.URL.Query().Get("next"))}})
}

type loginData struct {
	Next, Error string
}

// login checks the token posted and keeps it in the session cookie.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	next := safeNext(r.FormValue("next"))
	if !server.SameOrigin(r) {
		c.fail(w, r, nil, http.StatusForbidden, errors.New("a form of another site may not log in here"))
		return
	}
	t, err := c.tokens.Authenticate(strings.TrimSpace(r.FormValue("token")), time.Now())
	if err != nil {
		c.log.Info("console login refused", zap.String("remote", r.RemoteAddr), zap.Error(err))
		c.render(w, &view{Page: "login", Title: "Log in", Org: c.org(), Status: http.StatusUnauthorized,
			Data: loginData{Next: next, Error: "That token is unknown, expired or revoked."}})
		return
	}
	c.log.Info("console login", zap.String("token", t.Name), zap.String("remote", r.RemoteAddr))
	http.SetCookie(w, &http.Cookie{Name: server.SessionCookie(r.Host), Value: strings.TrimSpace(r.FormValue("token")), Path: "/", Expires: t.Expires,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: server.SessionCookie(r.Host), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

// safeNext keeps a redirect after login on the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/console/"
	}
	return next
}
