package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/internal/ratelimit"
)

// fake is a gateway's services without a gateway: canned answers, and
// errors of each kind on demand. The server's tests run over it, with no
// cluster.
type fake struct {
	Admin
	Sharing
	Registry
	Policies
	Journal

	fetched []string // FetchRequest.Manifest of each fetch run
	job     chan api.FetchInfo
}

func (f *fake) Status() api.Status { return api.Status{Org: "customs-cn"} }

func (f *fake) CatalogItem(cid string) (*api.CatalogItem, error) {
	switch cid {
	case "missing":
		return nil, api.Errorf(api.ErrNotFound, "the catalog holds no statement %s", cid)
	case "bad":
		return nil, api.FieldErrorf(api.ErrInvalid, "cid", "not a CID: %s", cid)
	case "broken":
		return nil, errors.New("the disk is on fire") // no kind: the route's own status
	}
	return &api.CatalogItem{Statement: json.RawMessage(`{"cid":"` + cid + `"}`)}, nil
}

func (f *fake) Publish(_ context.Context, req api.PublishRequest, body io.Reader, event func(api.PublishEvent) error) (*api.PublishSummary, error) {
	if req.Dataset == "refused" {
		return nil, api.Errorf(api.ErrRefused, "line 1: not a record (nothing was published)")
	}
	n := 0
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		n++
		if err := event(api.PublishEvent{Progress: n * progressEvery}); err != nil {
			return nil, err
		}
	}
	return &api.PublishSummary{CID: "bagaaiera-" + req.Dataset}, nil
}

func (f *fake) Fetch(_ context.Context, req api.FetchRequest, named func(string), progress func(uint64, uint64)) (*api.FetchSummary, error) {
	f.fetched = append(f.fetched, req.Manifest)
	if req.Purpose == "busy" {
		return nil, api.Errorf(api.ErrConflict, "a fetch of %s is in progress", req.Manifest)
	}
	named("job-1")
	progress(5, 3)
	return &api.FetchSummary{Manifest: req.Manifest, Received: 5, Permitted: 3}, nil
}

func (f *fake) StartFetch(req api.FetchRequest) (api.FetchInfo, error) {
	return api.FetchInfo{ID: "job-2", Request: req, State: api.FetchRunning}, nil
}
func (f *fake) Fetches() []api.FetchInfo { return []api.FetchInfo{{ID: "job-2"}} }

func (f *fake) FetchInfo(id string) (api.FetchInfo, <-chan struct{}, error) {
	if id != "job-2" {
		return api.FetchInfo{}, nil, api.Errorf(api.ErrNotFound, "no fetch has id %q", id)
	}
	changed := make(chan struct{})
	info := <-f.job
	if info.State != api.FetchRunning {
		return info, nil, nil
	}
	close(changed)
	return info, changed, nil
}

func (f *fake) CancelFetch(id string) error {
	return api.Errorf(api.ErrNotFound, "no fetch in progress has id %q", id)
}

func (f *fake) Fetched(_ context.Context, ref, purpose string, w io.Writer) (uint64, error) {
	if purpose == "" {
		return 0, api.FieldErrorf(api.ErrInvalid, "purpose", "purpose: missing")
	}
	_, err := io.WriteString(w, `{"n":1}`+"\n")
	return 1, err
}

func newFake(t *testing.T) (*fake, *Server) {
	f := &fake{job: make(chan api.FetchInfo, 4)}
	sv := Services{Admin: f, Sharing: f, Registry: f, Policies: f, Fetching: f, Journal: f}
	s := New(sv, Options{Logger: zap.NewNop()})
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return f, s
}

func do(t *testing.T, h http.Handler, method, path, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// A service's error of a kind is answered with its status, as problem
// details naming the field; an error of no kind gets the route's own.
func TestErrorKindsAreProblemDetails(t *testing.T) {
	_, s := newFake(t)
	for _, c := range []struct {
		cid, field string
		status     int
	}{{"missing", "", 404}, {"bad", "cid", 400}, {"broken", "", 404}, {"bagaaiera", "", 200}} {
		w := do(t, s.Handler(), "GET", "/v1/catalog/"+c.cid, "")
		if w.Code != c.status {
			t.Errorf("%s: status %d, want %d", c.cid, w.Code, c.status)
		}
		if c.status == 200 {
			continue
		}
		var p api.Problem
		if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s: content type %q", c.cid, ct)
		}
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != c.status || p.Field != c.field || p.Detail == "" ||
			p.Title != http.StatusText(c.status) {
			t.Errorf("%s: problem %+v (%v)", c.cid, p, err)
		}
	}
	// A body that is not JSON is the caller's error.
	if w := do(t, s.Handler(), "POST", "/v1/policy/explain", "{"); w.Code != 400 {
		t.Errorf("a broken JSON body: %d", w.Code)
	}
}

// The client turns an answer's status back into the kind it stands for.
func TestClientErrorsMatchTheirKinds(t *testing.T) {
	_, s := newFake(t)
	dir := t.TempDir()
	l, err := api.ListenSocket(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Serve(l)
	cl, err := api.NewClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cl.CatalogItem(ctx, "missing"); !errors.Is(err, api.ErrNotFound) || errors.Is(err, api.ErrInvalid) {
		t.Errorf("missing: %v", err)
	}
	var se *api.StatusError
	if _, err := cl.CatalogItem(ctx, "bad"); !errors.Is(err, api.ErrInvalid) || !errors.As(err, &se) || se.Field != "cid" {
		t.Errorf("bad: %v", err)
	}
	if _, err := cl.Fetch(ctx, api.FetchRequest{Manifest: "m", Purpose: "busy"}, nil); !errors.Is(err, api.ErrConflict) {
		t.Errorf("busy: %v", err)
	}
	if item, err := cl.CatalogItem(ctx, "bagaaiera"); err != nil || !strings.Contains(string(item.Statement), "bagaaiera") {
		t.Errorf("an item: %v %v", item, err)
	}
}

// Publish streams progress and the result when asked for a stream, and
// answers one document (or a problem, if nothing was published) when not.
func TestPublishStreamsOrAnswersOnce(t *testing.T) {
	_, s := newFake(t)
	w := do(t, s.Handler(), "POST", "/v1/publish?dataset=d&schema=s", "{}\n{}\n{}\n", "Accept", api.NDJSON)
	lines := strings.Split(strings.TrimSpace(w.Body.String()), "\n")
	if w.Code != 200 || w.Header().Get("Content-Type") != api.NDJSON || len(lines) != 4 {
		t.Fatalf("stream: %d %q %q", w.Code, w.Header().Get("Content-Type"), lines)
	}
	var last api.PublishEvent
	if err := json.Unmarshal([]byte(lines[3]), &last); err != nil || last.Result == nil || last.Result.CID != "bagaaiera-d" {
		t.Errorf("the last event: %s (%v)", lines[3], err)
	}
	w = do(t, s.Handler(), "POST", "/v1/publish?dataset=d&schema=s", "{}\n")
	var sum api.PublishSummary
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &sum) != nil || sum.CID != "bagaaiera-d" {
		t.Errorf("once: %d %s", w.Code, w.Body)
	}
	if w = do(t, s.Handler(), "POST", "/v1/publish?dataset=refused", "x\n", "Accept", api.NDJSON); w.Code != 422 {
		t.Errorf("refused before any event: %d %s, want a 422 problem", w.Code, w.Body)
	}
}

// A fetch streams its id first, then progress, then the result; a refusal
// before the partner is asked keeps its status.
func TestFetchStream(t *testing.T) {
	f, s := newFake(t)
	w := do(t, s.Handler(), "POST", "/v1/fetch", `{"manifest":"m","purpose":"p"}`)
	var evs []api.FetchEvent
	for _, l := range strings.Split(strings.TrimSpace(w.Body.String()), "\n") {
		var ev api.FetchEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if len(evs) != 3 || evs[0].ID != "job-1" || evs[1].Received != 5 || evs[2].Result == nil || evs[2].Result.Permitted != 3 {
		t.Fatalf("events %+v", evs)
	}
	if w = do(t, s.Handler(), "POST", "/v1/fetch", `{"manifest":"m","purpose":"busy"}`); w.Code != 409 {
		t.Errorf("a fetch in progress: %d", w.Code)
	}
	if len(f.fetched) != 2 {
		t.Errorf("fetches run: %v", f.fetched)
	}
}

// A fetch's resource: 202 with its Location, its events until it ends, 404
// for an id no fetch has.
func TestFetchJobs(t *testing.T) {
	f, s := newFake(t)
	w := do(t, s.Handler(), "POST", "/v1/fetches", `{"manifest":"m","purpose":"p"}`)
	if w.Code != 202 || w.Header().Get("Location") != "/v1/fetches/job-2" {
		t.Fatalf("start: %d %q", w.Code, w.Header().Get("Location"))
	}
	f.job <- api.FetchInfo{ID: "job-2", State: api.FetchRunning, Received: 1}
	f.job <- api.FetchInfo{ID: "job-2", State: api.FetchDone, Received: 9}
	w = do(t, s.Handler(), "GET", "/v1/fetches/job-2/events", "")
	body := w.Body.String()
	if w.Header().Get("Content-Type") != "text/event-stream" || !strings.Contains(body, "event: progress\ndata: ") ||
		!strings.Contains(body, `event: end`+"\n"+`data: {"id":"job-2","request":{"manifest":"","purpose":""},"state":"done"`) {
		t.Errorf("events: %q", body)
	}
	for _, path := range []string{"/v1/fetches/nope", "/v1/fetches/nope/events"} {
		if w := do(t, s.Handler(), "GET", path, ""); w.Code != 404 {
			t.Errorf("%s: %d", path, w.Code)
		}
	}
	if w := do(t, s.Handler(), "DELETE", "/v1/fetches/nope", ""); w.Code != 404 {
		t.Errorf("cancel of nothing: %d", w.Code)
	}
	if w := do(t, s.Handler(), "GET", "/v1/fetched?manifest=m", ""); w.Code != 400 || !strings.Contains(w.Body.String(), `"field":"purpose"`) {
		t.Errorf("records without a purpose: %d %s", w.Code, w.Body)
	}
}

// On the TCP listener every route needs a token holding its scope (the
// table's), and a path on the gateway's machine is refused; profiling is
// not served there at all.
func TestRemoteCallsNeedTheRouteScope(t *testing.T) {
	_, s := newFake(t)
	tokens := OpenTokens(filepath.Join(t.TempDir(), "tokens.json"))
	now := time.Now()
	reader, _, err := tokens.Create("reader", []string{ScopeRead}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	fetcher, _, err := tokens.Create("fetcher", []string{ScopeFetch}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	rm := &remote{next: s.mux, scopes: s.scopes, tokens: tokens, log: zap.NewNop(), now: time.Now,
		rates:   ratelimit.Keyed[string]{PerSecond: 1000, Burst: 1000},
		refused: ratelimit.Keyed[string]{PerSecond: 1000, Burst: 1000}}
	bearer := func(secret string) []string { return []string{"Authorization", "Bearer " + secret} }
	for _, c := range []struct {
		method, path, body string
		header             []string
		status             int
	}{
		{"GET", "/v1/status", "", nil, 401},
		{"GET", "/v1/status", "", bearer("cvn_not-a-token"), 401},
		{"GET", "/v1/status", "", bearer(reader), 200},
		{"POST", "/v1/fetch", `{"manifest":"m","purpose":"p"}`, bearer(reader), 403},
		{"POST", "/v1/fetch", `{"manifest":"m","purpose":"p"}`, bearer(fetcher), 200},
		{"POST", "/v1/fetch", `{"manifest":"m","purpose":"p","out":"/tmp/x"}`, bearer(fetcher), 400},
		{"POST", "/v1/publish?dataset=d&path=/etc/passwd", "", bearer(reader), 403},
		{"GET", "/debug/pprof/", "", bearer(reader), 404},
	} {
		if w := do(t, rm, c.method, c.path, c.body, c.header...); w.Code != c.status {
			t.Errorf("%s %s: %d, want %d (%s)", c.method, c.path, w.Code, c.status, strings.TrimSpace(w.Body.String()))
		}
	}
	// Every route of the table is refused without a token, and profiling
	// is the only one the listener does not serve.
	for _, rt := range routes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = strings.NewReplacer("{cid}", "c", "{owner}", "o", "{name}", "n", "{ref...}", "r", "{id}", "i").Replace(path)
		want := 401
		if rt.scope == "" {
			want = 404
		}
		if w := do(t, rm, method, path, ""); w.Code != want {
			t.Errorf("%s without a token: %d, want %d", rt.pattern, w.Code, want)
		}
	}
	if n := len(s.scopes); n != len(routes())-2 {
		t.Errorf("%d routes on the TCP listener: %s", n, fmt.Sprint(s.scopes))
	}
}
