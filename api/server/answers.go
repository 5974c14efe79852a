package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/caravan-consortium/caravan/api"
)

// The answers' plumbing: JSON in and out, problem details, and the route
// adapters of the table (routes.go).

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) { writeProblem(w, problemOf(err, code)) }

// problemOf is err's problem details: its status, or code.
func problemOf(err error, code int) api.Problem {
	code = api.StatusOf(err, code)
	return api.Problem{Type: "about:blank", Title: http.StatusText(code), Status: code, Detail: err.Error(), Field: api.FieldOf(err)}
}

func writeProblem(w http.ResponseWriter, p api.Problem) {
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

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
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
	if !started && api.StatusOf(err, 0) != 0 {
		writeError(e.w, 0, err)
		return
	}
	_ = e.send(event(err.Error()))
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

// answer serves f's result as JSON, or its error as a problem (500
// unless the error is of a kind, api.StatusOf).
func answer[T any](f func(s *Server, r *http.Request) (T, error)) func(*Server, http.ResponseWriter, *http.Request) {
	return func(s *Server, w http.ResponseWriter, r *http.Request) {
		v, err := f(s, r)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

// text serves f's result as plain text, or its error as answer does.
func text(f func(s *Server, r *http.Request) ([]byte, error)) func(*Server, http.ResponseWriter, *http.Request) {
	return func(s *Server, w http.ResponseWriter, r *http.Request) {
		data, err := f(s, r)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(data)
	}
}

// exchange serves f: the request's JSON body in, f's result out as JSON;
// a bad body or f's error is 400 unless the error is of another kind.
func exchange[Req, Res any](f func(s *Server, req Req) (Res, error)) func(*Server, http.ResponseWriter, *http.Request) {
	return func(s *Server, w http.ResponseWriter, r *http.Request) {
		var req Req
		if err := readJSON(r, &req); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		res, err := f(s, req)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}
