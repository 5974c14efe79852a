package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// routeScopes is the scope each route needs on the TCP listener. A route
// that is not here (profiling) is not served there.
var routeScopes = map[string]string{
	RouteStatus:         ScopeRead,
	RouteCatalog:        ScopeRead,
	RouteCatalogItem:    ScopeRead,
	RouteDataset:        ScopeRead,
	RouteSchemas:        ScopeRead,
	RouteSchema:         ScopeRead,
	RoutePolicySchema:   ScopeRead,
	RoutePolicy:         ScopeRead,
	RoutePublish:        ScopePublish,
	RouteRetract:        ScopePublish,
	RouteSchemaAdd:      ScopePublish,
	RouteFetch:          ScopeFetch,
	RouteFetchCancel:    ScopeFetch,
	RouteFetchStart:     ScopeFetch,
	RouteFetches:        ScopeRead,
	RouteFetchInfo:      ScopeRead,
	RouteFetchEvents:    ScopeRead,
	RouteFetched:        ScopeFetch,
	RoutePolicyReload:   ScopePolicyAdmin,
	RoutePolicyExplain:  ScopePolicyAdmin,
	RoutePolicyCheck:    ScopePolicyAdmin,
	RoutePolicyReplace:  ScopePolicyAdmin,
	RouteRosterReload:   ScopeRosterAdmin,
	RouteMetrics:        ScopeMetrics,
	RouteJournalEntries: ScopeRead,
	RouteEvidence:       ScopeRead,
	RouteVerifyEvidence: ScopeRead,
	RouteJournalAlerts:  ScopeRead,
	RoutePolicyHistory:  ScopeRead,
	RouteReceipts:       ScopeRead,
	RouteRoster:         ScopeRead,
	RouteRosterRefusals: ScopeRead,
	RouteOpenAPI:        ScopeRead,
}

// Per-token rate on the TCP listener: requests a second and burst.
const (
	tokenRequestsPerSecond = 20
	tokenRequestsBurst     = 100
)

// remote is the TCP listener's front: every request needs a bearer token
// in force that holds the route's scope, and is logged with the token's
// name. A request without one gets 401, outside its scope 403, beyond its
// token's rate 429, and in none of these cases reaches the gateway.
type remote struct {
	next   *http.ServeMux
	tokens *Tokens
	log    *zap.Logger
	now    func() time.Time

	mu    sync.Mutex
	rates map[string]*rate.Limiter // by token name
}

func (rm *remote) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := rm.next.Handler(r)
	scope, served := routeScopes[pattern]
	if !served {
		writeError(w, http.StatusNotFound, fmt.Errorf("%s %s is not served on this listener", r.Method, r.URL.Path))
		return
	}
	secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="caravan"`)
		writeError(w, http.StatusUnauthorized, fmt.Errorf("%w: send Authorization: Bearer TOKEN (caravan token create)", ErrNoToken))
		rm.log.Info("api call refused", zap.String("route", pattern), zap.String("remote", r.RemoteAddr), zap.String("why", "no token"))
		return
	}
	t, err := rm.tokens.Authenticate(strings.TrimSpace(secret), rm.now())
	if err != nil {
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
		writeError(w, http.StatusForbidden, fmt.Errorf("%w %q, which %s needs", ErrBadScope, scope, pattern))
		rm.log.Info("api call refused", zap.String("token", t.Name), zap.String("route", pattern), zap.String("why", "scope "+scope))
		return
	}
	if !rm.rate(t.Name).Allow() {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, fmt.Errorf("token %s: more than %d requests a second", t.Name, tokenRequestsPerSecond))
		return
	}
	rm.log.Info("api call", zap.String("token", t.Name), zap.String("route", pattern), zap.String("remote", r.RemoteAddr))
	rm.next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), remoteCaller{}, t.Name)))
}

// remoteCaller keys the name of the token a TCP request came with.
type remoteCaller struct{}

// isRemote reports whether r came through the TCP listener. Such a request
// may not name files on the gateway's machine (publish's path, fetch's
// out): only the 0600 Unix socket's callers may.
func isRemote(r *http.Request) bool { return r.Context().Value(remoteCaller{}) != nil }

func (rm *remote) rate(name string) *rate.Limiter {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.rates == nil {
		rm.rates = map[string]*rate.Limiter{}
	}
	l, ok := rm.rates[name]
	if !ok {
		l = rate.NewLimiter(tokenRequestsPerSecond, tokenRequestsBurst)
		rm.rates[name] = l
	}
	return l
}

// ServeTLS serves the API on l, a TCP listener, with TLS (cfg) and tokens
// (see remote), until Close.
func (s *Server) ServeTLS(l net.Listener, cfg *tls.Config, tokens *Tokens) {
	h := &remote{next: s.mux, tokens: tokens, log: s.log.Named("remote"), now: time.Now}
	srv := &http.Server{Handler: h, TLSConfig: cfg, ReadHeaderTimeout: 5 * time.Second, ErrorLog: zap.NewStdLog(s.log)}
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
