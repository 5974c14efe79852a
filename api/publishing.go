package api

import (
	"net/http"
	"strings"
)

// publish streams the request body through the gateway's publisher and
// answers with NDJSON events.
func (s *Server) publish(w http.ResponseWriter, r *http.Request) {
	if isRemote(r) && r.URL.Query().Get("path") != "" {
		writeError(w, http.StatusBadRequest, FieldErrorf(http.StatusBadRequest, "path", "path names a file on the gateway's machine, which only the Unix socket may: send the records as the body"))
		return
	}
	if !wantsStream(r) {
		s.publishOnce(w, r)
		return
	}
	ev := newEvents(w)
	lastProgress := 0
	res, err := s.g.Publish(r.Context(), publishRequestOf(r.URL.Query()), r.Body, func(e PublishEvent) error {
		if e.Progress > 0 {
			if e.Progress-lastProgress < progressEvery {
				return nil
			}
			lastProgress = e.Progress
		}
		return ev.send(e)
	})
	if err != nil {
		ev.fail(err, func(msg string) any { return PublishEvent{Error: msg} })
		return
	}
	_ = ev.send(PublishEvent{Result: res})
}

// NDJSON is the media type of the API's event streams.
const NDJSON = "application/x-ndjson"

// wantsStream reports whether a caller asked for an event stream
// (Accept: application/x-ndjson).
func wantsStream(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), NDJSON)
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
	var rejects []RejectedRecord
	size := 0
	res, err := s.g.Publish(r.Context(), publishRequestOf(r.URL.Query()), r.Body, func(e PublishEvent) error {
		if e.Reject != nil && len(rejects) < maxListedRejects && size < maxListedRejectBytes {
			rejects = append(rejects, *e.Reject)
			size += len(e.Reject.Record) + len(e.Reject.Error)
		}
		return nil
	})
	if err != nil {
		writeError(w, codeOf(err, http.StatusInternalServerError), err)
		return
	}
	res.Rejects = rejects
	writeJSON(w, http.StatusOK, res)
}
