package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/caravan-consortium/caravan/internal/ratelimit"
	"go.uber.org/zap"
	"golang.org/x/net/netutil"
)

// Per-token rate on the TCP listener: requests a second and burst.
const (
	tokenRequestsPerSecond = 20
	tokenRequestsBurst     = 100
)

// Bounds for callers without a valid token: an address may present 20
// refused tokens (bearer tokens or console logins), then one a second;
// beyond that a refused token gets 429, not logged at info (a console
// login, before the token is looked up). A valid bearer token is never
// held up by others' refusals at its address. The
// listener serves at most maxAPIConns connections at once, and closes one
// idle for apiIdleTimeout.
const (
	refusedPerSecond = 1
	refusedBurst     = 20
	maxAPIConns      = 256
	apiIdleTimeout   = 2 * time.Minute
)

// SessionCookie names the cookie that holds a console user's token in the
// browser (HttpOnly, Secure, SameSite=Strict) for the listener a request
// names in its Host: browsers keep cookies by host, not by port, so two
// gateways on one host need cookies of their own. The API takes it as it
// takes a bearer token, but for a request that changes something only
// from the console's own pages (its Origin must be the listener's).
func SessionCookie(host string) string {
	name := "caravan_session"
	if _, port, err := net.SplitHostPort(host); err == nil && port != "" {
		name += "_" + port
	}
	return name
}

// remote is the TCP listener's front: every request needs a token in
// force (a bearer token, or the console's session cookie) that holds the
// route's scope, and is logged with the token's name. A request without
// one gets 401, outside its scope 403, beyond its token's rate 429, and in
// none of these cases reaches the gateway. The console, if any, is served
// under /console/: it gets the caller's token, if valid, and asks for the
// scopes each page and form needs.
type remote struct {
	next    *http.ServeMux
	scopes  map[string]string // by route pattern: the routes served here
	console http.Handler
	tokens  *Tokens
	log     *zap.Logger
	now     func() time.Time

	rates   ratelimit.Keyed[string] // calls, by token name
	refused ratelimit.Keyed[string] // tokens refused, by remote IP
}

func (rm *remote) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &deadlineBody{body: r.Body, rc: http.NewResponseController(w)}
	}
	if rm.console != nil && (r.URL.Path == "/" || r.URL.Path == "/console" || strings.HasPrefix(r.URL.Path, "/console/")) {
		rm.serveConsole(w, r)
		return
	}
	_, pattern := rm.next.Handler(r)
	scope, served := rm.scopes[pattern]
	if !served {
		closeAfterRefusal(w)
		writeError(w, http.StatusNotFound, fmt.Errorf("%s %s is not served on this listener", r.Method, r.URL.Path))
		return
	}
	secret, fromCookie := credentials(r)
	if secret == "" {
		closeAfterRefusal(w)
		w.Header().Set("WWW-Authenticate", `Bearer realm="caravan"`)
		writeError(w, http.StatusUnauthorized, fmt.Errorf("%w: send Authorization: Bearer TOKEN (caravan token create)", ErrNoToken))
		rm.log.Info("api call refused", zap.String("route", pattern), zap.String("remote", r.RemoteAddr), zap.String("why", "no token"))
		return
	}
	if fromCookie && !SameOrigin(r) {
		closeAfterRefusal(w)
		writeError(w, http.StatusForbidden, errors.New("a request with the console's cookie that changes something must come from the console's pages"))
		rm.log.Info("api call refused", zap.String("route", pattern), zap.String("remote", r.RemoteAddr), zap.String("why", "cross-origin cookie"))
		return
	}
	t, err := rm.tokens.Authenticate(secret, rm.now())
	if err != nil && !rm.spendRefusal(r) {
		rm.tooMany(w, r)
		return
	}
	if err != nil {
		closeAfterRefusal(w)
		w.Header().Set("WWW-Authenticate", `Bearer realm="caravan", error="invalid_token"`)
		status := http.StatusUnauthorized
		if !errors.Is(err, ErrNoToken) {
			status = http.StatusInternalServerError
		}
		writeError(w, status, fmt.Errorf("%w (unknown, expired or revoked)", ErrNoToken))
		rm.log.Info("api call refused", zap.String("route", pattern), zap.String("remote", r.RemoteAddr), zap.String("why", "bad token"), zap.Error(err))
		return
	}
	if !t.Allows(scope) {
		closeAfterRefusal(w)
		writeError(w, http.StatusForbidden, fmt.Errorf("%w %q, which %s needs", ErrBadScope, scope, pattern))
		rm.log.Info("api call refused", zap.String("token", t.Name), zap.String("route", pattern), zap.String("why", "scope "+scope))
		return
	}
	if !rm.allow(w, t) {
		return
	}
	rm.log.Info("api call", zap.String("token", t.Name), zap.String("route", pattern), zap.String("remote", r.RemoteAddr))
	rm.next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), remoteCaller{}, t)))
}

// serveConsole hands a console request on, with the caller's token if the
// session cookie holds one in force (the console sends the others to its
// login page).
func (rm *remote) serveConsole(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" || r.URL.Path == "/console" {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/console/login" {
		// The console checks the token posted; a refusal (401) counts.
		if rm.refused.Spent(remoteIP(r), 0) {
			rm.tooMany(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		rm.console.ServeHTTP(sw, r)
		if sw.status == http.StatusUnauthorized {
			rm.spendRefusal(r)
		}
		return
	}
	session := false
	if c, err := r.Cookie(SessionCookie(r.Host)); err == nil && c.Value != "" {
		t, err := rm.tokens.Authenticate(c.Value, rm.now())
		if err != nil {
			// An expired or revoked session: forget it, and go on without
			// one (the console asks for a login).
			http.SetCookie(w, &http.Cookie{Name: SessionCookie(r.Host), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
		}
		if err == nil {
			if !rm.allow(w, t) {
				return
			}
			rm.log.Info("console call", zap.String("token", t.Name), zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr))
			r, session = r.WithContext(context.WithValue(r.Context(), remoteCaller{}, t)), true
		}
	}
	if !session { // the login page, for a caller without a session
		closeAfterRefusal(w)
	}
	rm.console.ServeHTTP(w, r)
}

// allow spends one of t's requests, or answers 429.
func (rm *remote) allow(w http.ResponseWriter, t *Token) bool {
	if rm.rates.Allow(t.Name) {
		return true
	}
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusTooManyRequests, fmt.Errorf("token %s: more than %d requests a second", t.Name, tokenRequestsPerSecond))
	return false
}

// credentials is the token a request carries: a bearer token, else the
// console's session cookie (fromCookie).
func credentials(r *http.Request) (secret string, fromCookie bool) {
	if s, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(s), false
	}
	if c, err := r.Cookie(SessionCookie(r.Host)); err == nil && c.Value != "" {
		return c.Value, true
	}
	return "", false
}

// SameOrigin reports whether r may act with a session cookie: a safe
// method, or an Origin header naming this listener (browsers send it with
// every POST, PUT and DELETE; a page of another site cannot forge it).
func SameOrigin(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return r.Header.Get("Origin") == "https://"+r.Host
}

// Caller is the token a request through the TCP listener came with, or
// nil (a request on the Unix socket, or a console page without a session).
func Caller(ctx context.Context) *Token {
	t, _ := ctx.Value(remoteCaller{}).(*Token)
	return t
}

// ServeTLS serves the API on l, a TCP listener, with TLS (cfg) and tokens
// (see remote), until Close.
func (s *Server) ServeTLS(l net.Listener, cfg *tls.Config, tokens *Tokens, console http.Handler) {
	h := &remote{next: s.mux, scopes: s.scopes, console: console, tokens: tokens, log: s.log.Named("remote"), now: time.Now,
		rates:   ratelimit.Keyed[string]{PerSecond: tokenRequestsPerSecond, Burst: tokenRequestsBurst},
		refused: ratelimit.Keyed[string]{PerSecond: refusedPerSecond, Burst: refusedBurst}}
	srv := &http.Server{Handler: h, TLSConfig: cfg, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: apiIdleTimeout,
		ErrorLog: zap.NewStdLog(s.log)}
	l = netutil.LimitListener(limitPerAddr(l, maxConnsPerAddr), maxAPIConns)
	s.mu.Lock()
	s.remotes = append(s.remotes, srv)
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(tls.NewListener(l, cfg)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("API listener stopped", zap.Error(err))
		}
	}()
}

// remoteIP is r's remote address without its port.
func remoteIP(r *http.Request) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ip
}

// tooMany answers 429 to an address that has had too many tokens refused
// lately (logged at debug only: such a caller could flood the log).
func (rm *remote) tooMany(w http.ResponseWriter, r *http.Request) {
	closeAfterRefusal(w)
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusTooManyRequests, fmt.Errorf("more than %d refused tokens from this address; wait a second", refusedBurst))
	rm.log.Debug("api call refused", zap.String("remote", r.RemoteAddr), zap.String("why", "too many refused tokens"))
}

// spendRefusal counts a refused token against r's address, and reports
// whether the address was within its allowance.
func (rm *remote) spendRefusal(r *http.Request) bool { return rm.refused.Allow(remoteIP(r)) }

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// remoteCaller keys the token a TCP request came with.
type remoteCaller struct{}

// isRemote reports whether r came through the TCP listener. Such a request
// may not name files on the gateway's machine (publish's path, fetch's
// out): only the 0600 Unix socket's callers may.
func isRemote(r *http.Request) bool { return r.Context().Value(remoteCaller{}) != nil }
