package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/gateway/policies"
	"github.com/caravan-consortium/caravan/gateway/roster"
	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/policy"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing/catalog"
)

// policyService is the API's policies: the bundle in force, its reloads,
// uploads and explanations. It reads the roster, the catalog and the
// registry to decide as a fetch would.
type policyService struct {
	org      string
	engine   *policies.Engine
	roster   *roster.Keeper
	catalog  *catalog.Catalog
	registry *schemas.Registry
}

// Policy returns the policy bundle in force.
func (ps *policyService) Policy() api.PolicyInfo {
	b := ps.engine.Bundle()
	info := api.PolicyInfo{PolicyStatus: ps.engine.Status(), Files: policyFilesOf(b.Files())}
	for _, p := range b.Policies() {
		info.Policies = append(info.Policies, api.PolicyRef{ID: p.ID, Effect: p.Effect, File: p.File, Line: p.Line})
	}
	return info
}

// ReloadPolicies reads the policy directory again (policyEngine.Reload); a
// refusal is a conflict with the bundle in force, which stays.
func (ps *policyService) ReloadPolicies() error {
	if err := ps.engine.Reload(); err != nil {
		return api.Errorf(api.ErrConflict, "%w", err)
	}
	return nil
}

// Explain decides req with the bundle in force and says why. It counts
// nothing towards released_today.
func (ps *policyService) Explain(req api.ExplainRequest) (*api.ExplainResult, error) {
	org, ok := ps.roster.OrgEntity(req.Org)
	if !ok {
		return nil, fmt.Errorf("org %q is not a member in the roster in force", req.Org)
	}
	entry, err := ps.findDataset(req.Dataset)
	if err != nil {
		return nil, err
	}
	m := entry.Manifest
	schema, err := schemaFor(ps.registry, m)
	if err != nil {
		return nil, err
	}
	if len(req.Record) == 0 {
		return nil, errors.New("record: missing (give the record as a JSON object)")
	}
	canon, err := jcs.Canonicalize(req.Record)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	v, err := jcs.Parse(canon)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("record: not a JSON object")
	}
	b := ps.engine.Bundle()
	attrs, err := b.Vocabulary().ExtractorFor(schema).Extract(obj)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	t := req.Time
	if t.IsZero() {
		t = time.Now().UTC()
	}
	preq := policy.Request{Org: org, Dataset: datasetEntity(ps.catalog, m, cid.MustParse(entry.CID)), Purpose: req.Purpose, Time: t}
	if owner, ok := ps.roster.OrgEntity(m.Publisher); ok {
		preq.Owner = &owner
	}
	if preq.ReleasedToday, err = ps.engine.Ledger().Released(preq.Day(), org.ID); err != nil {
		return nil, fmt.Errorf("released_today: %w", err)
	}
	rec := policy.Record{ID: cids.OfJSON(canon).String(), Attrs: attrs}
	e := b.Fetch(preq, nil).Explain(rec)
	res := &api.ExplainResult{Decision: "deny", Errors: e.Errors, Bundle: e.Bundle, Org: api.Org(org),
		Dataset: m.Publisher + "/" + m.Dataset, Manifest: entry.CID, Schema: schema.Ref(), Purpose: req.Purpose,
		Time: t, ReleasedToday: preq.ReleasedToday, Record: rec.ID, Attributes: map[string]any{}}
	if e.Permit {
		res.Decision = "permit"
	}
	for _, id := range e.Policies {
		if p := b.Policy(id); p != nil {
			res.Policies = append(res.Policies, api.PolicyRef{ID: p.ID, Effect: p.Effect, File: p.File, Line: p.Line})
		}
	}
	for k, v := range attrs { // Cedar's JSON form: a datetime is {"__extn": ...}
		j, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("record: attribute %s: %w", k, err)
		}
		res.Attributes[string(k)] = json.RawMessage(j)
	}
	return res, nil
}

// findDataset resolves a manifest CID, "OWNER/NAME" or a name of this org's
// datasets to the catalog entry of that version (the newest for names).
func (ps *policyService) findDataset(ref string) (*catalog.Entry, error) {
	if ref == "" {
		return nil, errors.New("dataset: missing")
	}
	if id, err := cid.Decode(ref); err == nil {
		if e, ok := ps.catalog.Entry(id); ok {
			return &e, nil
		}
	} else {
		owner, name := ps.org, ref
		if o, nm, ok := strings.Cut(ref, "/"); ok {
			owner, name = o, nm
		}
		if id, _, ok := ps.catalog.Head(owner, name); ok {
			if e, ok := ps.catalog.Entry(id); ok {
				return &e, nil
			}
		}
	}
	return nil, fmt.Errorf("dataset %q: not in this gateway's catalog (see 'caravan catalog')", ref)
}

// ReplacePolicies puts an uploaded bundle in force in place of the policy
// directory's files. The bundle is checked first, as CheckPolicies does,
// and its decision table, if one is given, must pass: otherwise nothing
// changes and the result lists the problems or the failing cases (422).
//
// The bundle's files become exactly the upload's (policy_files.go: written
// ahead, so a gateway killed halfway restarts with the old bundle or the
// new one), and the bundle is reloaded, all under the reload lock: the
// directory watcher, woken by the writes, waits and then finds the bundle
// in force unchanged. If the new bundle cannot be put in force (the
// journal refuses the entry), the old files are written back.
func (ps *policyService) ReplacePolicies(req api.PolicyCheckRequest) (*api.PolicyCheckResult, error) {
	res, err := ps.CheckPolicies(req)
	if err != nil {
		return nil, err
	}
	if !res.Valid {
		return res, api.FieldErrorf(api.ErrRefused, "files", "the bundle has %d problem(s), first %s; the bundle in force stays",
			len(res.Problems), res.Problems[0])
	}
	for _, c := range res.Cases {
		if !c.Pass {
			return res, api.FieldErrorf(api.ErrRefused, "table", "decision table case %q (line %d) fails: %s; the bundle in force stays",
				c.Name, c.Line, c.Result)
		}
	}
	files := make(map[string][]byte, len(req.Files))
	for name, text := range req.Files {
		files[name] = []byte(text)
	}
	if err := ps.engine.Replace(files, res.CID); err != nil {
		if errors.Is(err, policies.ErrNotInForce) {
			return nil, api.Errorf(api.ErrConflict, "%w", err)
		}
		return nil, err
	}
	return res, nil
}

// maxPolicyUpload bounds an uploaded bundle's files.
const maxPolicyUpload = 256

// CheckPolicies checks an uploaded bundle against this gateway's registry,
// as a reload would check the policy directory; nothing is put in force.
func (ps *policyService) CheckPolicies(req api.PolicyCheckRequest) (*api.PolicyCheckResult, error) {
	if len(req.Files) == 0 || len(req.Files) > maxPolicyUpload {
		return nil, api.FieldErrorf(api.ErrInvalid, "files", "files: give 1 to %d policy files by name", maxPolicyUpload)
	}
	dir, err := os.MkdirTemp("", "caravan-policy-check-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for name, text := range req.Files {
		if name != filepath.Base(name) || !strings.HasSuffix(name, ".cedar") || strings.HasPrefix(name, ".") {
			return nil, api.FieldErrorf(api.ErrInvalid, "files", "files: %q is not a file name ending in .cedar", name)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			return nil, err
		}
	}
	v, err := ps.registryVocabulary()
	if err != nil {
		return nil, err
	}
	b, err := policy.Load(dir, v)
	var be *policy.BundleError
	switch {
	case errors.As(err, &be):
		res := &api.PolicyCheckResult{}
		for _, p := range be.Problems {
			res.Problems = append(res.Problems, api.PolicyProblem{File: p.File, Line: p.Line, Message: p.Msg})
		}
		return res, nil
	case err != nil:
		return nil, err
	}
	res := &api.PolicyCheckResult{Valid: true, CID: b.CID()}
	for _, p := range b.Policies() {
		res.Policies = append(res.Policies, api.PolicyRef{ID: p.ID, Effect: p.Effect, File: p.File, Line: p.Line})
	}
	if req.Table != "" {
		if res.Cases, err = runTable(b, req.Table); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// TestPolicies runs a decision table (YAML, as caravan policy test reads)
// against the bundle in force.
func (ps *policyService) TestPolicies(table string) ([]api.PolicyCase, error) {
	return runTable(ps.engine.Bundle(), table)
}

// runTable runs a decision table against b.
func runTable(b *policy.Bundle, table string) ([]api.PolicyCase, error) {
	dir, err := os.MkdirTemp("", "caravan-policy-table-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "table.yaml")
	if err := os.WriteFile(path, []byte(table), 0o600); err != nil {
		return nil, err
	}
	tbl, err := policy.LoadTable(path)
	if err != nil {
		return nil, api.FieldErrorf(api.ErrInvalid, "table", "table: %v", strings.ReplaceAll(err.Error(), path, "table"))
	}
	cases := []api.PolicyCase{}
	for _, r := range tbl.Run(b) {
		cases = append(cases, api.PolicyCase{Name: r.Case.Name, Line: r.Case.Line, Expect: r.Case.Expect, Pass: r.Pass(), Result: r.String()})
	}
	return cases, nil
}

// registryVocabulary is the policy vocabulary of the registry now.
func (ps *policyService) registryVocabulary() (*policy.Vocabulary, error) {
	return policy.VocabularyOf(ps.registry)
}
