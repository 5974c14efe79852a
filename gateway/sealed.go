package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/gateway/policies"
	"github.com/caravan-consortium/caravan/gateway/roster"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/policy"
	"github.com/caravan-consortium/caravan/sharing/catalog"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// Sealed datasets: a dataset that not every member may discover (the
// owner's discover policies, on its first version's manifest) is announced
// by a sealed statement (owner, CID, time) in place of its manifests and
// retractions; the members the policies permit get each statement from
// the owner on request, a disclosure the owner journals
// (catalog-protocol.md).

// discovery answers, under the discover policies in force, which members
// may discover which of this org's datasets.
type discovery struct {
	org      string
	catalog  *catalog.Catalog
	policies *policies.Engine
	roster   *roster.Keeper
	journal  *journaler
}

// sealManifest is the publisher's Seal hook: whether m's dataset is hidden
// from some member. A dataset sealed once stays sealed: its next versions
// are sealed too, whatever the policies say of them now.
func (d *discovery) sealManifest(m *manifest.Manifest) bool {
	if prev, err := cid.Decode(m.Previous); err == nil && d.catalog.Hidden(prev) {
		return true
	}
	b, now := d.policies.Bundle(), time.Now()
	ds := datasetEntity(d.catalog, m, cid.Undef)
	for _, mem := range d.roster.Roster().Members {
		if mem.Org == d.org {
			continue
		}
		org := roster.OrgEntity(&mem)
		if !b.Discover(org, []policy.Dataset{ds}, now, d.roster.OrgEntity)[0].Permit {
			return true
		}
	}
	return false
}

// mayDiscover reports whether org may discover the dataset of st (a
// manifest, or a retraction of a dataset whose head manifest this gateway
// holds).
func (d *discovery) mayDiscover(org string, st *manifest.Statement) bool {
	who, ok := d.roster.OrgEntity(org)
	if !ok {
		return false
	}
	var m *manifest.Manifest
	switch st.BodyType() {
	case manifest.TypeManifest:
		m, _ = st.Manifest()
	case manifest.TypeRetraction:
		r, err := st.Retraction()
		if err != nil {
			return false
		}
		_, m, _ = d.catalog.Head(r.Publisher, r.Dataset)
	}
	if m == nil {
		return false
	}
	return d.policies.Bundle().Discover(who, []policy.Dataset{datasetEntity(d.catalog, m, st.CID())}, time.Now(), d.roster.OrgEntity)[0].Permit
}

// disclose is the catalog's Disclose hook: it reveals one of this org's
// sealed statements to org if the discover policies permit it, and
// journals the disclosure first.
func (d *discovery) disclose(org string, st *manifest.Statement) error {
	if !d.mayDiscover(org, st) {
		return errors.New("the discover policies do not permit it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	if _, err := d.journal.Append(ctx, &journal.Event{Type: journal.TypeDisclose, Requester: org, Manifest: st.CID().String()}); err != nil {
		return fmt.Errorf("journaling the disclosure: %w", err)
	}
	return nil
}

// datasetName is what a journal entry about manifest may say of its
// dataset: its name, unless it is sealed (every member mirrors the
// journal).
func datasetName(cat *catalog.Catalog, manifest cid.Cid, name string) string {
	if cat.Hidden(manifest) {
		return ""
	}
	return name
}

// datasetEntity is a manifest's dataset as policies see it; id, if
// defined, is the manifest's CID, which says whether it is superseded.
func datasetEntity(cat *catalog.Catalog, m *manifest.Manifest, id cid.Cid) policy.Dataset {
	d := policy.Dataset{Owner: m.Publisher, Name: m.Dataset, Schema: m.Schema.ID, Labels: m.Labels, Purposes: m.Purposes}
	if id.Defined() {
		d.Superseded, _ = cat.Standing(id)
	}
	return d
}

// discoverable keeps the entries of this org's datasets that org may
// discover under the bundle in force.
func (d *discovery) discoverable(org string, entries []catalog.Entry) ([]catalog.Entry, error) {
	who, ok := d.roster.OrgEntity(org)
	if !ok {
		return nil, fmt.Errorf("org %q is not a member in the roster in force", org)
	}
	var own []catalog.Entry
	var datasets []policy.Dataset
	for _, e := range entries {
		if e.Manifest != nil && e.Manifest.Publisher == d.org {
			own = append(own, e)
			datasets = append(datasets, datasetEntity(d.catalog, e.Manifest, cid.MustParse(e.CID)))
		}
	}
	decisions := d.policies.Bundle().Discover(who, datasets, time.Now(), d.roster.OrgEntity)
	out := []catalog.Entry{}
	for i, dec := range decisions {
		if dec.Permit {
			out = append(out, own[i])
		}
	}
	return out, nil
}
