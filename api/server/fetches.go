package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/caravan-consortium/caravan/api"
)

// sseEvery is the shortest time between two progress events of one
// server-sent event stream; sseKeepAlive, the longest silence.
const (
	sseEvery     = 100 * time.Millisecond
	sseKeepAlive = 15 * time.Second
)

// fetch runs a fetch for the length of the request, streaming its events.
func (s *Server) fetch(w http.ResponseWriter, r *http.Request) {
	req, ok := s.fetchRequest(w, r)
	if !ok {
		return
	}
	ev := newEvents(w)
	var last time.Time
	sum, err := s.sv.Fetching.Fetch(r.Context(), req, func(id string) { _ = ev.send(api.FetchEvent{ID: id}) },
		func(received, permitted uint64) {
			if time.Since(last) > fetchProgress {
				last = time.Now()
				_ = ev.send(api.FetchEvent{Received: received, Permitted: permitted})
			}
		})
	if err != nil {
		ev.fail(err, func(msg string) any { return api.FetchEvent{Error: msg} })
		return
	}
	_ = ev.send(api.FetchEvent{Result: sum})
}

// startFetch starts a fetch that outlives the request: the answer, 202,
// comes as the gateway asks the partner, and names the fetch's resource.
func (s *Server) startFetch(w http.ResponseWriter, r *http.Request) {
	req, ok := s.fetchRequest(w, r)
	if !ok {
		return
	}
	info, err := s.sv.Fetching.StartFetch(req)
	if err != nil {
		writeError(w, http.StatusBadGateway, err)
		return
	}
	w.Header().Set("Location", "/v1/fetches/"+info.ID)
	writeJSON(w, http.StatusAccepted, info)
}

// fetchRequest reads a fetch's request body.
func (s *Server) fetchRequest(w http.ResponseWriter, r *http.Request) (api.FetchRequest, bool) {
	var req api.FetchRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return req, false
	}
	if isRemote(r) && req.Out != "" {
		writeError(w, http.StatusBadRequest, api.FieldErrorf(api.ErrInvalid, "out", "out names a file on the gateway's machine, which only the Unix socket may: download the records with GET /v1/fetched"))
		return req, false
	}
	return req, true
}

// cancelFetch stops the fetch in progress named id.
func (s *Server) cancelFetch(w http.ResponseWriter, r *http.Request) {
	if err := s.sv.Fetching.CancelFetch(r.PathValue("id")); err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) fetchInfo(w http.ResponseWriter, r *http.Request) {
	info, _, err := s.sv.Fetching.FetchInfo(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// fetchEvents streams a fetch's progress as server-sent events: "progress"
// events, each a FetchInfo, then one "end" event with the last.
func (s *Server) fetchEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	info, changed, err := s.sv.Fetching.FetchInfo(id)
	if err != nil {
		writeError(w, http.StatusNotFound, err)
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
		if info.State != api.FetchRunning {
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
		if next, ch, err := s.sv.Fetching.FetchInfo(id); err == nil {
			info, changed = next, ch
		}
	}
}

// fetched serves the records received of a dataset version. The status
// goes with the first record, so that a refusal keeps its own status.
func (s *Server) fetched(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lw := &lazyWriter{w: w, media: api.NDJSON}
	if _, err := s.sv.Fetching.Fetched(r.Context(), q.Get("manifest"), q.Get("purpose"), lw); err != nil && !lw.started {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	lw.start()
}
