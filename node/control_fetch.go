package node

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
)

// FetchEvent is one line of the NDJSON stream POST /v1/fetch returns:
// progress, then the summary or an error.
type FetchEvent struct {
	Received  uint64        `json:"received,omitempty"`
	Permitted uint64        `json:"permitted,omitempty"`
	Result    *FetchSummary `json:"result,omitempty"`
	Error     string        `json:"error,omitempty"`
}

func (n *Node) registerFetch(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/fetch", func(w http.ResponseWriter, r *http.Request) {
		var o FetchOptions
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = json.Unmarshal(body, &o)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		var mu sync.Mutex
		enc := json.NewEncoder(w)
		emit := func(ev FetchEvent) {
			mu.Lock()
			defer mu.Unlock()
			_ = enc.Encode(ev)
			_ = rc.Flush()
		}
		var last time.Time
		o.Progress = func(received, permitted uint64) {
			if time.Since(last) > 100*time.Millisecond {
				last = time.Now()
				emit(FetchEvent{Received: received, Permitted: permitted})
			}
		}
		sum, err := n.Fetch(r.Context(), o)
		if err != nil {
			emit(FetchEvent{Error: err.Error()})
			return
		}
		emit(FetchEvent{Result: sum})
	})
}
