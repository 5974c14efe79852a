package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Fetch states (FetchInfo.State).
const (
	FetchRunning   = "running"
	FetchDone      = "done"
	FetchFailed    = "failed"
	FetchCancelled = "cancelled"
)

const (
	// keepFetches is how many ended fetches the registry remembers; the
	// journal's receipts are the lasting record.
	keepFetches = 100
	// sseEvery is the shortest time between two progress events of one
	// server-sent event stream; sseKeepAlive, the longest silence.
	sseEvery     = 100 * time.Millisecond
	sseKeepAlive = 15 * time.Second
)

// fetchRegistry is the fetches this gateway made since it started, each a
// resource (GET /v1/fetches/{id}): those in progress, whatever started
// them, and the newest ended ones.
type fetchRegistry struct {
	mu    sync.Mutex
	byID  map[string]*fetchEntry
	order []string // oldest first
}

type fetchEntry struct {
	info    FetchInfo
	cancel  context.CancelFunc
	changed chan struct{} // closed, and replaced, on every change
}

// start registers a fetch in progress, which cancel stops.
func (fr *fetchRegistry) start(req FetchRequest, cancel context.CancelFunc) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if fr.byID == nil {
		fr.byID = map[string]*fetchEntry{}
	}
	req.Out = "" // a path on the gateway's machine is not for every reader
	fr.byID[id] = &fetchEntry{info: FetchInfo{ID: id, Request: req, State: FetchRunning, StartedAt: time.Now().UTC()},
		cancel: cancel, changed: make(chan struct{})}
	fr.order = append(fr.order, id)
	return id
}

// update changes a fetch's info and wakes its watchers.
func (fr *fetchRegistry) update(id string, f func(*FetchInfo)) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	e, ok := fr.byID[id]
	if !ok {
		return
	}
	f(&e.info)
	close(e.changed)
	e.changed = make(chan struct{})
}

func (fr *fetchRegistry) progress(id string, received, permitted uint64) {
	fr.update(id, func(i *FetchInfo) { i.Received, i.Permitted = received, permitted })
}

// end records how a fetch ended, and forgets the oldest ended ones beyond
// keepFetches.
func (fr *fetchRegistry) end(id string, sum *FetchSummary, err error) {
	now := time.Now().UTC()
	fr.update(id, func(i *FetchInfo) {
		i.EndedAt = &now
		switch {
		case err == nil:
			i.State, i.Result = FetchDone, sum
			i.Received, i.Permitted = sum.Received, sum.Permitted
		case errors.Is(err, context.Canceled):
			i.State, i.Error = FetchCancelled, err.Error()
		default:
			i.State, i.Error = FetchFailed, err.Error()
		}
	})
	fr.mu.Lock()
	defer fr.mu.Unlock()
	ended := 0
	for i := len(fr.order) - 1; i >= 0; i-- {
		e := fr.byID[fr.order[i]]
		if e.info.State == FetchRunning {
			continue
		}
		if ended++; ended > keepFetches {
			delete(fr.byID, fr.order[i])
			fr.order = slices.Delete(fr.order, i, i+1)
		}
	}
}

// get returns a fetch's info and a channel closed at its next change.
func (fr *fetchRegistry) get(id string) (FetchInfo, <-chan struct{}, bool) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	e, ok := fr.byID[id]
	if !ok {
		return FetchInfo{}, nil, false
	}
	return e.info, e.changed, true
}

// list returns every fetch remembered, newest first.
func (fr *fetchRegistry) list() []FetchInfo {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	out := make([]FetchInfo, 0, len(fr.order))
	for i := len(fr.order) - 1; i >= 0; i-- {
		out = append(out, fr.byID[fr.order[i]].info)
	}
	return out
}

// stop cancels a fetch in progress; false if none has that id.
func (fr *fetchRegistry) stop(id string) bool {
	fr.mu.Lock()
	e, ok := fr.byID[id]
	fr.mu.Unlock()
	if !ok || e.info.State != FetchRunning {
		return false
	}
	e.cancel()
	return true
}

// runFetch runs a fetch registered under a new id until it ends. named is
// called once, with the id, as the gateway asks the partner (so that a
// request refused before that keeps its own error status); progress with
// the counts at most every fetchProgress.
func (s *Server) runFetch(ctx context.Context, req FetchRequest, named func(id string), progress func(received, permitted uint64)) (string, *FetchSummary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	id := s.fetches.start(req, cancel)
	var once sync.Once
	var last time.Time
	sum, err := s.g.Fetch(ctx, req, func(received, permitted uint64) {
		once.Do(func() { named(id) })
		s.fetches.progress(id, received, permitted)
		if progress != nil && time.Since(last) > fetchProgress {
			last = time.Now()
			progress(received, permitted)
		}
	})
	if err != nil && ctx.Err() != nil && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w: %w", context.Canceled, err)
	}
	s.fetches.end(id, sum, err)
	return id, sum, err
}

// fetch runs a fetch for the length of the request, streaming its events.
func (s *Server) fetch(w http.ResponseWriter, r *http.Request) {
	req, ok := s.fetchRequest(w, r)
	if !ok {
		return
	}
	ev := newEvents(w)
	_, sum, err := s.runFetch(r.Context(), req, func(id string) { _ = ev.send(FetchEvent{ID: id}) },
		func(received, permitted uint64) { _ = ev.send(FetchEvent{Received: received, Permitted: permitted}) })
	if err != nil {
		ev.fail(err, func(msg string) any { return FetchEvent{Error: msg} })
		return
	}
	_ = ev.send(FetchEvent{Result: sum})
}

// startFetch starts a fetch that outlives the request: the answer, 202,
// comes as the gateway asks the partner, and names the fetch's resource.
func (s *Server) startFetch(w http.ResponseWriter, r *http.Request) {
	req, ok := s.fetchRequest(w, r)
	if !ok {
		return
	}
	named := make(chan string, 1)
	failed := make(chan error, 1)
	go func() {
		_, _, err := s.runFetch(s.base, req, func(id string) { named <- id }, nil)
		failed <- err
	}()
	select {
	case id := <-named:
		info, _, _ := s.fetches.get(id)
		w.Header().Set("Location", "/v1/fetches/"+id)
		writeJSON(w, http.StatusAccepted, info)
	case err := <-failed:
		writeError(w, http.StatusBadGateway, err)
	}
}

// fetchRequest reads a fetch's request body.
func (s *Server) fetchRequest(w http.ResponseWriter, r *http.Request) (FetchRequest, bool) {
	var req FetchRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return req, false
	}
	if isRemote(r) && req.Out != "" {
		writeError(w, http.StatusBadRequest, FieldErrorf(http.StatusBadRequest, "out", "out names a file on the gateway's machine, which only the Unix socket may: download the records with GET /v1/fetched"))
		return req, false
	}
	return req, true
}

// cancelFetch stops the fetch in progress named id.
func (s *Server) cancelFetch(w http.ResponseWriter, r *http.Request) {
	if !s.fetches.stop(r.PathValue("id")) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no fetch in progress has id %q", r.PathValue("id")))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) fetchInfo(w http.ResponseWriter, r *http.Request) {
	info, _, ok := s.fetches.get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Errorf("no fetch has id %q (the gateway remembers the newest %d ended ones)", r.PathValue("id"), keepFetches))
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// fetchEvents streams a fetch's progress as server-sent events: "progress"
// events, each a FetchInfo, then one "end" event with the last.
func (s *Server) fetchEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	info, changed, ok := s.fetches.get(id)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Errorf("no fetch has id %q", id))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	keepAlive := time.NewTicker(sseKeepAlive)
	defer keepAlive.Stop()
	for {
		name := "progress"
		if info.State != FetchRunning {
			name = "end"
		}
		data, _ := json.Marshal(info)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, data); err != nil || rc.Flush() != nil || name == "end" {
			return
		}
		select {
		case <-time.After(sseEvery):
		case <-r.Context().Done():
			return
		}
		for waiting := true; waiting; {
			select {
			case <-changed:
				waiting = false
			case <-keepAlive.C:
				if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
					return
				}
			case <-r.Context().Done():
				return
			}
		}
		info, changed, _ = s.fetches.get(id)
	}
}
