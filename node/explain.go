package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/policy"
	"github.com/caravan-consortium/caravan/sharing/catalog"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// Policy returns the policy bundle in force.
func (n *Node) Policy() api.PolicyInfo {
	b := n.Policies()
	info := api.PolicyInfo{PolicyStatus: n.policyStatus(), Files: b.Files()}
	for _, p := range b.Policies() {
		info.Policies = append(info.Policies, api.PolicyRef{ID: p.ID, Effect: p.Effect, File: p.File, Line: p.Line})
	}
	return info
}

// Explain decides req with the bundle in force and says why. It counts
// nothing towards released_today.
func (n *Node) Explain(req api.ExplainRequest) (*api.ExplainResult, error) {
	org, ok := n.orgEntity(req.Org)
	if !ok {
		return nil, fmt.Errorf("org %q is not a member in the roster in force", req.Org)
	}
	entry, err := n.findDataset(req.Dataset)
	if err != nil {
		return nil, err
	}
	m := entry.Manifest
	schema, err := n.schemaFor(m)
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
	b := n.Policies()
	attrs, err := b.Vocabulary().ExtractorFor(schema).Extract(obj)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	t := req.Time
	if t.IsZero() {
		t = time.Now().UTC()
	}
	preq := policy.Request{Org: org, Dataset: n.datasetEntity(m, cid.MustParse(entry.CID)), Purpose: req.Purpose, Time: t}
	if owner, ok := n.orgEntity(m.Publisher); ok {
		preq.Owner = &owner
	}
	preq.ReleasedToday = n.policies.ledger.Released(preq.Day(), org.ID)
	rec := policy.Record{ID: cids.OfJSON(canon).String(), Attrs: attrs}
	e := b.Fetch(preq, nil).Explain(rec)
	res := &api.ExplainResult{Decision: "deny", Errors: e.Errors, Bundle: e.Bundle, Org: org,
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
func (n *Node) findDataset(ref string) (*catalog.Entry, error) {
	if ref == "" {
		return nil, errors.New("dataset: missing")
	}
	if id, err := cid.Decode(ref); err == nil {
		if e, ok := n.catalog.Entry(id); ok {
			return &e, nil
		}
	} else {
		owner, name := n.cfg.Org, ref
		if o, nm, ok := strings.Cut(ref, "/"); ok {
			owner, name = o, nm
		}
		if id, _, ok := n.catalog.Head(owner, name); ok {
			if e, ok := n.catalog.Entry(id); ok {
				return &e, nil
			}
		}
	}
	return nil, fmt.Errorf("dataset %q: not in this gateway's catalog (see 'caravan catalog')", ref)
}

// datasetEntity is a manifest's dataset as policies see it; id, if
// defined, is the manifest's CID, which says whether it is superseded.
func (n *Node) datasetEntity(m *manifest.Manifest, id cid.Cid) policy.Dataset {
	d := policy.Dataset{Owner: m.Publisher, Name: m.Dataset, Schema: m.Schema.ID, Labels: m.Labels, Purposes: m.Purposes}
	if id.Defined() {
		d.Superseded, _ = n.catalog.Standing(id)
	}
	return d
}

// discoverable keeps the entries of this org's datasets that org may
// discover under the bundle in force.
func (n *Node) discoverable(org string, entries []catalog.Entry) ([]catalog.Entry, error) {
	who, ok := n.orgEntity(org)
	if !ok {
		return nil, fmt.Errorf("org %q is not a member in the roster in force", org)
	}
	var own []catalog.Entry
	var datasets []policy.Dataset
	for _, e := range entries {
		if e.Manifest != nil && e.Manifest.Publisher == n.cfg.Org {
			own = append(own, e)
			datasets = append(datasets, n.datasetEntity(e.Manifest, cid.MustParse(e.CID)))
		}
	}
	decisions := n.Policies().Discover(who, datasets, time.Now(), n.orgEntity)
	out := []catalog.Entry{}
	for i, d := range decisions {
		if d.Permit {
			out = append(out, own[i])
		}
	}
	return out, nil
}
