package server

import (
	"fmt"
	"io"
	"net/http"

	"github.com/caravan-consortium/caravan/api"
)

func (s *Server) schema(w http.ResponseWriter, r *http.Request) {
	info, err := s.sv.Registry.Schema(r.PathValue("ref"))
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) registerSchema(w http.ResponseWriter, r *http.Request) {
	doc, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err == nil && len(doc) > maxJSONBody {
		err = fmt.Errorf("document larger than %d bytes", maxJSONBody)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	q := r.URL.Query()
	info, err := s.sv.Registry.RegisterSchema(r.Context(), api.SchemaRequest{Name: q.Get("name"), Version: q.Get("version")}, doc)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}
