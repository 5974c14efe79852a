package server

import (
	"io"
	"net/http"

	"github.com/caravan-consortium/caravan/api"
)

func (s *Server) rosterReload(w http.ResponseWriter, r *http.Request) {
	if err := s.sv.Admin.ReloadRoster(); err != nil {
		writeError(w, http.StatusConflict, err)
		return
	}
	writeJSON(w, http.StatusOK, s.sv.Admin.Status())
}

// metrics serves the gateway's metrics, if it has any.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.metricsH == nil {
		http.NotFound(w, r)
		return
	}
	s.metricsH.ServeHTTP(w, r)
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	doc, err := OpenAPIDocument()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(doc)
}

func (s *Server) submitDelegation(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err == nil && len(data) > maxJSONBody {
		err = api.Errorf(api.ErrInvalid, "a delegation larger than %d bytes", maxJSONBody)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	d, err := s.sv.Admin.SubmitDelegation(data)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) submitRoster(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err == nil && len(data) > maxJSONBody {
		err = api.Errorf(api.ErrInvalid, "a roster larger than %d bytes", maxJSONBody)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	p, err := s.sv.Admin.SubmitRoster(data)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}
