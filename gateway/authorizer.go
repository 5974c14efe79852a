package gateway

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/gateway/metrics"
	"github.com/caravan-consortium/caravan/gateway/policies"
	"github.com/caravan-consortium/caravan/gateway/roster"
	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/policy"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing/catalog"
	"github.com/caravan-consortium/caravan/sharing/fetch"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/ipfs/go-cid"
)

// authorizer is the fetch server's port to this gateway: the policy bundle
// in force and the volume ledger decide, the journal records.
type authorizer struct {
	roster    *roster.Keeper
	registry  *schemas.Registry
	policies  *policies.Engine
	catalog   *catalog.Catalog
	discovery *discovery
	journal   *journaler
	metrics   *metrics.Metrics
	log       *zap.Logger
}

func (a *authorizer) Authorize(_ context.Context, req *fetch.Request, m *manifest.Manifest, selected int) (fetch.Decider, error) {
	who, ok := a.roster.OrgEntity(req.Org)
	if !ok {
		return nil, fmt.Errorf("org %q is not in the roster", req.Org)
	}
	s, err := schemaFor(a.registry, m)
	if err != nil {
		return nil, err
	}
	b := a.policies.Bundle() // the session keeps this bundle, whatever reloads happen
	ex := b.Vocabulary().ExtractorFor(s)
	id, err := cid.Decode(req.Manifest)
	if err != nil {
		return nil, err
	}
	if st, ok := a.catalog.Statement(id); ok && a.catalog.Hidden(id) && !a.discovery.mayDiscover(req.Org, st) {
		// A sealed dataset's manifest CID is public; to an org that may not
		// discover the dataset, it names nothing here.
		return nil, fmt.Errorf("%w: %s", fetch.ErrNotProvider, id)
	}
	preq := policy.Request{Org: who, Dataset: datasetEntity(a.catalog, m, id), Purpose: req.Purpose, Time: time.Now().UTC(),
		Node: req.Node, Selected: selected}
	if owner, ok := a.roster.OrgEntity(m.Publisher); ok {
		preq.Owner = &owner
	}
	return &decider{a: a, session: b.Fetch(preq, a.policies.Ledger()), bundle: b.CID(), ex: ex}, nil
}

type decider struct {
	a       *authorizer
	session *policy.Session
	bundle  string
	ex      *policy.Extractor
	parsers [2]jcs.Parser // of the attribute projections, one per half batch
	recs    []policy.Record
	out     []policy.Decision
}

// Decide decides a batch: the records' memo tuples are made in two halves
// at once (parsing is most of the work and each record is independent),
// then the session decides them in order.
func (d *decider) Decide(recs []fetch.Record, out []bool) ([]bool, error) {
	d.recs = slices.Grow(d.recs[:0], len(recs))[:len(recs)]
	half := len(recs) / 2
	errc := make(chan error, 1)
	go func() { errc <- d.prepare(&d.parsers[1], recs[half:], d.recs[half:]) }()
	err := d.prepare(&d.parsers[0], recs[:half], d.recs[:half])
	if err2 := <-errc; err == nil {
		err = err2
	}
	if err != nil {
		return nil, err
	}
	d.out = d.session.Decide(d.recs, d.out[:0])
	for _, x := range d.out {
		out = append(out, x.Permit)
	}
	return out, nil
}

// prepare makes the records' memo tuples. A record whose attributes
// cannot be read (an integer Cedar cannot hold, a projection that does not
// parse) is denied alone, never an error for the whole request.
func (d *decider) prepare(p *jcs.Parser, recs []fetch.Record, into []policy.Record) error {
	for i, r := range recs {
		v, err := p.Parse(r.Data)
		if err == nil {
			// Most records are decided by the session's memo from the tuple
			// alone; their CIDs and Cedar attributes are made only if not.
			into[i], err = d.ex.RecordLazy(r.CID, r.Data, &v)
		}
		if err != nil {
			d.a.log.Warn("a record's attributes cannot be read; it is denied",
				zap.Uint64("record", r.Index), zap.Error(err))
			into[i] = policy.Unreadable(r.CID, fmt.Errorf("record %d: %w", r.Index, err))
		}
	}
	return nil
}

func (d *decider) Commit(ctx context.Context, dec fetch.Decision) (fetch.Journaled, error) {
	// The volume count first: a crash after it over-counts, never under.
	if err := d.session.Commit(); err != nil {
		return fetch.Journaled{}, err
	}
	e := &journal.Event{Type: journal.TypeDecision, Requester: dec.Requester, Dataset: datasetName(d.a.catalog, cid.MustParse(dec.Manifest), dec.Dataset), Manifest: dec.Manifest,
		Purpose: dec.Purpose, Permitted: dec.Permitted, Denied: dec.Denied, Commitment: dec.Commitment,
		Request: dec.Request, Bundle: d.bundle}
	idx, err := d.a.journal.Append(ctx, e)
	if err != nil {
		return fetch.Journaled{}, err
	}
	d.a.metrics.Decision(dec.Requester, dec.Purpose, dec.Permitted, dec.Denied)
	return fetch.Journaled{Origin: d.a.journal.log.Origin(), Index: idx, Bundle: d.bundle}, nil
}

// Checkpoint returns a checkpoint of this org's journal that covers entry
// index: the published one, or else one signed now for the integrated tree,
// so that the receipt does not wait for tessera's next publication (see
// journal.Log.CheckpointCovering).
func (d *decider) Checkpoint(ctx context.Context, index uint64) string {
	raw, err := d.a.journal.log.CheckpointCovering(ctx, index)
	if err != nil {
		d.a.log.Warn("no checkpoint for a fetch receipt", zap.Uint64("entry", index), zap.Error(err))
		return ""
	}
	return string(raw)
}
