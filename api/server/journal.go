package server

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/caravan-consortium/caravan/api"
)

func (s *Server) journalEntries(r *http.Request) (*api.JournalPage, error) {
	q := r.URL.Query()
	var from, limit uint64
	for name, p := range map[string]*uint64{"from": &from, "limit": &limit} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, api.FieldErrorf(api.ErrInvalid, name, "%s %q: not a number", name, v)
			}
			*p = n
		}
	}
	return s.sv.Journal.JournalEntries(r.Context(), q.Get("org"), from, limit)
}

func (s *Server) evidence(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	entry := int64(-1)
	if v := q.Get("entry"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, api.FieldErrorf(api.ErrInvalid, "entry", "entry %q: not an entry index", v))
			return
		}
		entry = n
	}
	p, err := s.sv.Journal.Evidence(r.Context(), entry, q.Get("hash"))
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
	rep, err := s.sv.Journal.VerifyEvidence(data)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
