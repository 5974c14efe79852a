package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Bounds of request bodies that are not streams of records.
const (
	maxJSONBody   = 4 << 20
	progressEvery = 8192                   // records between publish progress events
	fetchProgress = 100 * time.Millisecond // between fetch progress events
)

// Options configures New.
type Options struct {
	// Metrics, if set, is served at GET /metrics.
	Metrics http.Handler
	Logger  *zap.Logger
}

// Server serves the API over a gateway's services.
type Server struct {
	sv       Services
	metricsH http.Handler
	scopes   map[string]string // pattern -> scope, of the routes the TCP listener serves
	mux      *http.ServeMux
	log      *zap.Logger
	srv      *http.Server
	path     string // the Unix socket served, removed on Close
	mu       sync.Mutex
	remotes  []*http.Server // TCP listeners (ServeTLS)
	wg       sync.WaitGroup
	once     sync.Once
	err      error
}

// New makes the API's routes (routes.go) over sv.
func New(sv Services, o Options) *Server {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	s := &Server{sv: sv, metricsH: o.Metrics, mux: http.NewServeMux(), log: o.Logger, scopes: map[string]string{}}
	for _, rt := range routes() {
		h := rt.handler
		s.mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) { h(s, w, r) })
		if rt.scope != "" {
			s.scopes[rt.pattern] = rt.scope
		}
	}
	return s
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler { return s.mux }

// Serve serves the API on l until Close.
func (s *Server) Serve(l net.Listener) {
	if ul, ok := l.(*net.UnixListener); ok {
		s.path = ul.Addr().String()
	}
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: zap.NewStdLog(s.log)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("control endpoint stopped", zap.Error(err))
		}
	}()
}

// Close stops serving, waits for the requests in flight until ctx ends,
// and removes the Unix socket. It may be called more than once.
func (s *Server) Close(ctx context.Context) error {
	s.once.Do(func() {
		s.mu.Lock()
		remotes := s.remotes
		s.mu.Unlock()
		for _, r := range remotes {
			s.err = errors.Join(s.err, r.Shutdown(ctx))
		}
		if s.srv == nil {
			s.wg.Wait()
			return
		}
		s.err = errors.Join(s.err, s.srv.Shutdown(ctx))
		s.wg.Wait()
		if s.path != "" {
			if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.err = errors.Join(s.err, err)
			}
		}
	})
	return s.err
}
