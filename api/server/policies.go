package server

import (
	"net/http"

	"github.com/caravan-consortium/caravan/api"
)

func (s *Server) policyReload(w http.ResponseWriter, r *http.Request) {
	if err := s.sv.Policies.ReloadPolicies(); err != nil {
		writeError(w, http.StatusConflict, err)
		return
	}
	writeJSON(w, http.StatusOK, s.sv.Policies.Policy())
}

func (s *Server) replacePolicies(w http.ResponseWriter, r *http.Request) {
	var req api.PolicyCheckRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	res, err := s.sv.Policies.ReplacePolicies(req)
	if err != nil {
		p := problemOf(err, http.StatusConflict)
		p.Check = res
		writeProblem(w, p)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
