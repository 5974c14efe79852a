package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/caravan-consortium/caravan/journal"
	"go.uber.org/zap"
)

// Bounds of request bodies that are not streams of records.
const (
	maxJSONBody   = 4 << 20
	progressEvery = 8192                   // records between publish progress events
	fetchProgress = 100 * time.Millisecond // between fetch progress events
)

// ServerOptions configures NewServer.
type ServerOptions struct {
	// Metrics, if set, is served at GET /metrics.
	Metrics http.Handler
	Logger  *zap.Logger
}

// Server serves the API of a Gateway.
type Server struct {
	g       Gateway
	fetches fetchRegistry
	base    context.Context // of fetches that outlive their request; ends at Close
	stop    context.CancelFunc
	mux     *http.ServeMux
	log     *zap.Logger
	srv     *http.Server
	path    string // the Unix socket served, removed on Close
	mu      sync.Mutex
	remotes []*http.Server // TCP listeners (ServeTLS)
	routes  []string       // every route registered
	wg      sync.WaitGroup
	once    sync.Once
	err     error
}

// NewServer makes the API's routes over g.
func NewServer(g Gateway, o ServerOptions) *Server {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	s := &Server{g: g, mux: http.NewServeMux(), log: o.Logger}
	s.base, s.stop = context.WithCancel(context.Background())
	s.handle(RouteStatus, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, g.Status()) })
	s.handle(RouteRosterReload, s.rosterReload)
	s.handle(RoutePublish, s.publish)
	s.handle(RouteCatalog, s.catalog)
	s.handle(RouteCatalogItem, s.catalogItem)
	s.handle(RouteRetract, s.retract)
	s.handle(RouteSchemas, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, nonNil(g.Schemas())) })
	s.handle(RouteSchema, s.schema)
	s.handle(RouteSchemaAdd, s.registerSchema)
	s.handle(RoutePolicySchema, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(g.PolicySchema())
	})
	s.handle(RoutePolicy, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, g.Policy()) })
	s.handle(RoutePolicyReload, s.policyReload)
	s.handle(RoutePolicyExplain, jsonRoute(func(req ExplainRequest) (*ExplainResult, error) { return g.Explain(req) }))
	s.handle(RouteFetch, s.fetch)
	s.handle(RouteFetchCancel, s.cancelFetch)
	s.handle(RouteFetchStart, s.startFetch)
	s.handle(RouteFetches, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.fetches.list()) })
	s.handle(RouteFetchInfo, s.fetchInfo)
	s.handle(RouteFetchEvents, s.fetchEvents)
	if o.Metrics != nil {
		s.handleH(RouteMetrics, o.Metrics)
	}
	s.handle(RouteDataset, getJSON(func(r *http.Request) ([]CatalogEntry, error) {
		return g.DatasetVersions(r.PathValue("owner"), r.PathValue("name"))
	}))
	// (Closures, not method values: the OpenAPI test registers the routes
	// over a nil Gateway.)
	s.handle(RoutePolicyCheck, jsonRoute(func(req PolicyCheckRequest) (*PolicyCheckResult, error) { return g.CheckPolicies(req) }))
	s.handle(RoutePolicyTest, jsonRoute(func(req PolicyTestRequest) ([]PolicyCase, error) { return g.TestPolicies(req.Table) }))
	s.handle(RoutePolicyReplace, func(w http.ResponseWriter, r *http.Request) {
		var req PolicyCheckRequest
		if err := readJSON(r, &req); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		res, err := g.ReplacePolicies(req)
		if err != nil {
			p := problemOf(err, http.StatusConflict)
			p.Check = res
			writeProblem(w, p)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	s.handle(RouteFetched, func(w http.ResponseWriter, r *http.Request) {
		// The status goes with the first record, so that a refusal keeps
		// its own status.
		q := r.URL.Query()
		lw := &lazyWriter{w: w, media: "application/x-ndjson"}
		if _, err := g.Fetched(r.Context(), q.Get("manifest"), q.Get("purpose"), lw); err != nil && !lw.started {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		lw.start()
	})
	s.handle(RoutePolicyHistory, getJSON(func(r *http.Request) ([]JournalEntry, error) { return g.PolicyHistory(r.Context()) }))
	s.handle(RouteReceipts, getJSON(func(r *http.Request) ([]JournalEntry, error) { return g.Receipts(r.Context()) }))
	s.handle(RouteWitnessTimes, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, nonNil(g.WitnessTimes())) })
	s.handle(RouteCheckpoint, getText(func(r *http.Request) ([]byte, error) { return g.Checkpoint(r.URL.Query().Get("org")) }))
	s.handle(RouteRoster, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, g.RosterDocument()) })
	s.handle(RouteRosterRefusals, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, g.RosterRefusals()) })
	s.handle(RouteJournalEntries, getJSON(s.journalEntries))
	s.handle(RouteEvidence, s.evidence)
	s.handle(RouteVerifyEvidence, s.verifyEvidence)
	s.handle(RouteJournalAlerts, getJSON(func(*http.Request) ([]journal.Alert, error) { return g.JournalAlerts() }))
	s.handle(RouteOpenAPI, func(w http.ResponseWriter, r *http.Request) {
		doc, err := OpenAPIDocument()
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
	// Profiling, for operators: reachable only through the 0600 socket.
	s.handle(RoutePprof, pprof.Index)
	s.handle(RoutePprofProfile, pprof.Profile)
	return s
}

// handle registers a route, and remembers it (the OpenAPI test checks that
// every route is documented).
func (s *Server) handle(route string, h http.HandlerFunc) { s.handleH(route, h) }

func (s *Server) handleH(route string, h http.Handler) {
	s.routes = append(s.routes, route)
	s.mux.Handle(route, h)
}

// Fetches lists the fetches in progress and the newest ended ones, newest
// first (GET /v1/fetches).
func (s *Server) Fetches() []FetchInfo { return s.fetches.list() }

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
		s.stop()
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

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) { writeProblem(w, problemOf(err, code)) }

// problemOf is err's problem details: its status, or code.
func problemOf(err error, code int) Problem {
	code = codeOf(err, code)
	return Problem{Type: "about:blank", Title: http.StatusText(code), Status: code, Detail: err.Error(), Field: fieldOf(err)}
}

func writeProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// readJSON decodes a bounded JSON body into v.
func readJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err == nil && len(body) > maxJSONBody {
		err = fmt.Errorf("request larger than %d bytes", maxJSONBody)
	}
	if err == nil {
		err = json.Unmarshal(body, v)
	}
	return err
}

func (s *Server) rosterReload(w http.ResponseWriter, r *http.Request) {
	if err := s.g.ReloadRoster(); err != nil {
		writeError(w, http.StatusConflict, err)
		return
	}
	writeJSON(w, http.StatusOK, s.g.Status())
}

func (s *Server) policyReload(w http.ResponseWriter, r *http.Request) {
	if err := s.g.ReloadPolicies(); err != nil {
		writeError(w, http.StatusConflict, err)
		return
	}
	writeJSON(w, http.StatusOK, s.g.Policy())
}

// getJSON serves f's result as JSON, or its error as a problem (500
// unless the error carries its status).
func getJSON[T any](f func(r *http.Request) (T, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := f(r)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

// getText serves f's result as plain text, or its error as getJSON does.
func getText(f func(r *http.Request) ([]byte, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data, err := f(r)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(data)
	}
}

// jsonRoute serves f: the request's JSON body in, f's result out as JSON;
// a bad body or f's error is 400 unless the error carries its status.
func jsonRoute[Req, Res any](f func(Req) (Res, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if err := readJSON(r, &req); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		res, err := f(req)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

func (s *Server) schema(w http.ResponseWriter, r *http.Request) {
	info, err := s.g.Schema(r.PathValue("ref"))
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) registerSchema(w http.ResponseWriter, r *http.Request) {
	doc, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err == nil && len(doc) > maxJSONBody {
		err = fmt.Errorf("document larger than %d bytes", maxJSONBody)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	q := r.URL.Query()
	info, err := s.g.RegisterSchema(r.Context(), SchemaRequest{Name: q.Get("name"), Version: q.Get("version")}, doc)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) catalog(w http.ResponseWriter, r *http.Request) {
	list, err := s.g.Catalog(catalogQueryOf(r.URL.Query()))
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(list))
}

// MaxCatalogWait bounds the wait query of GET /v1/catalog/{cid}.
const MaxCatalogWait = time.Minute

// catalogItem answers one statement; with wait=DURATION (at most
// MaxCatalogWait), it first waits that long for the catalog to hold it, so
// that a system expecting a partner's dataset need not poll.
func (s *Server) catalogItem(w http.ResponseWriter, r *http.Request) {
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > MaxCatalogWait {
			writeError(w, http.StatusBadRequest, FieldErrorf(http.StatusBadRequest, "wait", "wait %q: a duration such as 10s, at most %v", v, MaxCatalogWait))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		err = s.g.AwaitCatalogItem(ctx, r.PathValue("cid"))
		cancel()
		if err != nil && ctx.Err() == nil {
			writeError(w, http.StatusNotFound, err)
			return
		}
	}
	item, err := s.g.CatalogItem(r.PathValue("cid"))
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	writeJSON(w, http.StatusOK, item)
}

func (s *Server) retract(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	item, err := s.g.Retract(q.Get("dataset"), q.Get("reason"))
	if err != nil {
		writeError(w, http.StatusConflict, err)
		return
	}
	writeJSON(w, http.StatusOK, item)
}

// events writes an NDJSON stream of events, which may come from several
// goroutines. The answer's status (200) is written with the first event,
// so that a failure before any event can still be answered with an error
// status.
type events struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	rc      *http.ResponseController
	enc     *json.Encoder
	started bool
}

func newEvents(w http.ResponseWriter) *events {
	return &events{w: w, rc: http.NewResponseController(w), enc: json.NewEncoder(w)}
}

func (e *events) send(v any) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started {
		e.w.Header().Set("Content-Type", "application/x-ndjson")
		e.w.WriteHeader(http.StatusOK)
		e.started = true
	}
	if err := e.enc.Encode(v); err != nil {
		return err
	}
	return e.rc.Flush()
}

// fail ends the stream with an error: an error status if nothing was sent
// and err carries one (a *StatusError), else an error event.
func (e *events) fail(err error, event func(msg string) any) {
	e.mu.Lock()
	started := e.started
	e.mu.Unlock()
	if !started && codeOf(err, 0) != 0 {
		writeError(e.w, 0, err)
		return
	}
	_ = e.send(event(err.Error()))
}

func (s *Server) journalEntries(r *http.Request) (*JournalPage, error) {
	q := r.URL.Query()
	var from, limit uint64
	for name, p := range map[string]*uint64{"from": &from, "limit": &limit} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, FieldErrorf(http.StatusBadRequest, name, "%s %q: not a number", name, v)
			}
			*p = n
		}
	}
	return s.g.JournalEntries(r.Context(), q.Get("org"), from, limit)
}

func (s *Server) evidence(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	entry := int64(-1)
	if v := q.Get("entry"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, FieldErrorf(http.StatusBadRequest, "entry", "entry %q: not an entry index", v))
			return
		}
		entry = n
	}
	p, err := s.g.Evidence(r.Context(), entry, q.Get("hash"))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="entry.tlog-proof"`)
	_, _ = w.Write(p)
}

func (s *Server) verifyEvidence(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err == nil && len(data) > maxJSONBody {
		err = fmt.Errorf("an evidence file larger than %d bytes", maxJSONBody)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	rep, err := s.g.VerifyEvidence(data)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// lazyWriter writes the answer's status and media type with its first
// bytes, so that an error before them can still be answered with its own
// status.
type lazyWriter struct {
	w       http.ResponseWriter
	media   string
	started bool
}

func (l *lazyWriter) start() {
	if !l.started {
		l.started = true
		l.w.Header().Set("Content-Type", l.media)
		l.w.WriteHeader(http.StatusOK)
	}
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	l.start()
	return l.w.Write(p)
}
