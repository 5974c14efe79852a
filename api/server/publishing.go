package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/caravan-consortium/caravan/api"
)

// publish streams the request body through the gateway's publisher and
// answers with NDJSON events.
func (s *Server) publish(w http.ResponseWriter, r *http.Request) {
	if isRemote(r) && r.URL.Query().Get("path") != "" {
		writeError(w, http.StatusBadRequest, api.FieldErrorf(api.ErrInvalid, "path", "path names a file on the gateway's machine, which only the Unix socket may: send the records as the body"))
		return
	}
	if !wantsStream(r) {
		s.publishOnce(w, r)
		return
	}
	ev := newEvents(w)
	lastProgress := 0
	res, err := s.sv.Sharing.Publish(r.Context(), api.PublishRequestOf(r.URL.Query()), r.Body, func(e api.PublishEvent) error {
		if e.Progress > 0 {
			if e.Progress-lastProgress < progressEvery {
				return nil
			}
			lastProgress = e.Progress
		}
		return ev.send(e)
	})
	if err != nil {
		ev.fail(err, func(msg string) any { return api.PublishEvent{Error: msg} })
		return
	}
	_ = ev.send(api.PublishEvent{Result: res})
}

// wantsStream reports whether a caller asked for an event stream
// (Accept: application/x-ndjson).
func wantsStream(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), api.NDJSON)
}

// maxListedRejects and maxListedRejectBytes bound the rejected records a
// publish answered in one document lists (PublishSummary.Rejected counts
// them all): a record may be 1 MiB.
const (
	maxListedRejects     = 1000
	maxListedRejectBytes = 8 << 20
)

// publishOnce is publish for a caller that asked for no stream: one
// answer, 200 with the summary (and the rejected records) if a version was
// published, an error status otherwise.
func (s *Server) publishOnce(w http.ResponseWriter, r *http.Request) {
	var rejects []api.RejectedRecord
	size := 0
	res, err := s.sv.Sharing.Publish(r.Context(), api.PublishRequestOf(r.URL.Query()), r.Body, func(e api.PublishEvent) error {
		if e.Reject != nil && len(rejects) < maxListedRejects && size < maxListedRejectBytes {
			rejects = append(rejects, *e.Reject)
			size += len(e.Reject.Record) + len(e.Reject.Error)
		}
		return nil
	})
	if err != nil {
		writeError(w, api.StatusOf(err, http.StatusInternalServerError), err)
		return
	}
	res.Rejects = rejects
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) catalog(w http.ResponseWriter, r *http.Request) {
	list, err := s.sv.Sharing.Catalog(api.CatalogQueryOf(r.URL.Query()))
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
			writeError(w, http.StatusBadRequest, api.FieldErrorf(api.ErrInvalid, "wait", "wait %q: a duration such as 10s, at most %v", v, MaxCatalogWait))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		err = s.sv.Sharing.AwaitCatalogItem(ctx, r.PathValue("cid"))
		cancel()
		if err != nil && ctx.Err() == nil {
			writeError(w, http.StatusNotFound, err)
			return
		}
	}
	item, err := s.sv.Sharing.CatalogItem(r.PathValue("cid"))
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	writeJSON(w, http.StatusOK, item)
}

func (s *Server) retract(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	item, err := s.sv.Sharing.Retract(q.Get("dataset"), q.Get("reason"))
	if err != nil {
		writeError(w, http.StatusConflict, err)
		return
	}
	writeJSON(w, http.StatusOK, item)
}
