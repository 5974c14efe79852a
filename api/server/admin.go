package server

import "net/http"

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
