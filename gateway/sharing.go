package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/gateway/metrics"
	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing/catalog"
	"github.com/caravan-consortium/caravan/sharing/publish"
	"github.com/ipfs/go-cid"
)

// sharingService is the API's publishing and catalog: this org's
// datasets, and every member's as the catalog holds them.
type sharingService struct {
	members   interface{ HasOrg(org string) bool } // the roster in force
	catalog   *catalog.Catalog
	publisher *publish.Publisher
	registry  *schemas.Registry
	discovery *discovery
	metrics   *metrics.Metrics
}

// Catalog lists catalog entries; with q.As, only this org's datasets that
// org may discover under the policies in force. A dataset whose schema has
// not reached this gateway's registry yet is not listed until it has.
func (ss *sharingService) Catalog(q api.CatalogQuery) ([]api.CatalogEntry, error) {
	list := ss.listed(catalog.Filter{Org: q.Org, Schema: q.Schema, Label: q.Label, All: q.All})
	if q.As != "" {
		var err error
		if list, err = ss.discovery.discoverable(q.As, list); err != nil {
			return nil, err
		}
	}
	out := make([]api.CatalogEntry, len(list))
	for i, e := range list {
		out[i] = entryOf(e)
	}
	return out, nil
}

// CatalogItem returns one statement by CID, with its entry.
func (ss *sharingService) CatalogItem(text string) (*api.CatalogItem, error) {
	id, err := cid.Decode(text)
	if err != nil {
		return nil, api.Errorf(api.ErrInvalid, "not a CID: %s", text)
	}
	st, ok := ss.catalog.Statement(id)
	if ok {
		org, err := st.Org()
		ok = err == nil && ss.members.HasOrg(org) // not a removed member's
	}
	if !ok {
		return nil, api.Errorf(api.ErrNotFound, "the catalog holds no statement %s", id)
	}
	item := &api.CatalogItem{Statement: st.Marshal()}
	if e, ok := ss.catalog.Entry(id); ok {
		ae := entryOf(e)
		item.Entry = &ae
	}
	return item, nil
}

// AwaitCatalogItem returns once the catalog holds the statement text
// names, or ctx's error if ctx ends first.
func (ss *sharingService) AwaitCatalogItem(ctx context.Context, text string) error {
	id, err := cid.Decode(text)
	if err != nil {
		return api.Errorf(api.ErrInvalid, "not a CID: %s", text)
	}
	return ss.catalog.Await(ctx, id)
}

// Retract retracts one of this org's datasets.
func (ss *sharingService) Retract(dataset, reason string) (*api.CatalogItem, error) {
	st, err := ss.publisher.Retract(dataset, reason)
	if err != nil {
		return nil, api.Errorf(api.ErrConflict, "%w", err)
	}
	return &api.CatalogItem{Statement: st.Marshal()}, nil
}

// listed is the catalog's list, less the manifests whose schema the
// registry lacks.
func (ss *sharingService) listed(f catalog.Filter) []catalog.Entry {
	list := ss.catalog.List(f)
	out := list[:0]
	for _, e := range list {
		if ss.shown(e) {
			out = append(out, e)
		}
	}
	return out
}

// shown reports whether the catalog's entry e is listed: its publisher is
// in the roster in force (a removed member's datasets are no longer), and
// its schema has reached the registry.
func (ss *sharingService) shown(e catalog.Entry) bool {
	_, err := schemaFor(ss.registry, e.Manifest)
	return err == nil && ss.members.HasOrg(e.Manifest.Publisher)
}

func entryOf(e catalog.Entry) api.CatalogEntry {
	return api.CatalogEntry{CID: e.CID, Manifest: e.Manifest, Signer: e.Signer, Head: e.Head, Retracted: e.Retracted}
}

// DatasetVersions lists every version the catalog holds of owner's dataset
// name, oldest first, retracted ones included (marked).
func (ss *sharingService) DatasetVersions(owner, name string) ([]api.CatalogEntry, error) {
	var out []api.CatalogEntry
	for _, e := range ss.catalog.Versions(owner, name) {
		if ss.shown(e) {
			out = append(out, entryOf(e))
		}
	}
	if len(out) == 0 {
		return nil, api.Errorf(api.ErrNotFound, "the catalog lists no dataset %s/%s", owner, name)
	}
	return out, nil
}

// Publish publishes the records read from body, or from the file req.Path,
// as the next version of one of this org's datasets.
func (ss *sharingService) Publish(ctx context.Context, req api.PublishRequest, body io.Reader, event func(api.PublishEvent) error) (*api.PublishSummary, error) {
	schema, err := ss.registry.Lookup(req.Schema)
	if err != nil {
		return nil, api.FieldErrorf(api.ErrInvalid, "schema", "%v", err)
	}
	if req.Path != "" {
		f, err := openLocalInput(req.Path)
		if err != nil {
			return nil, api.FieldErrorf(api.ErrRefused, "path", "%v", err)
		}
		defer f.Close()
		body = f
	}
	in := &countingReader{r: body}
	preq := publish.Request{Dataset: req.Dataset, Schema: schema, Labels: req.Labels,
		Input:    publish.Input{Format: req.Format, Encoding: req.Encoding, Delimiter: req.Delimiter},
		Purposes: req.Purposes, Description: req.Description, DryRun: req.DryRun,
		Progress: func(k int) { _ = event(api.PublishEvent{Progress: k, Bytes: in.n.Load()}) }}
	if req.Rejects {
		preq.Reject = func(raw []byte, e *publish.RecordError) error {
			rec := api.RejectedRecord{Line: e.Line, Field: e.Field, Error: e.Msg}
			for _, o := range e.Others {
				rec.Others = append(rec.Others, api.FieldError{Field: o.Field, Error: o.Msg})
			}
			// The record as read, with the values of its sensitive fields
			// left out; nothing if it is not JSON (it may hold them).
			if v, err := jcs.Parse(raw); err == nil {
				rec.Record, _ = json.Marshal(schema.Redact(v))
			}
			return event(api.PublishEvent{Reject: &rec})
		}
	}
	res, err := ss.publisher.Publish(ctx, preq, in)
	if err != nil {
		return nil, publishError(err)
	}
	if !req.DryRun {
		ss.metrics.Published(res.Manifest.Records)
	}
	return &api.PublishSummary{CID: res.Statement.CID().String(), Manifest: res.Manifest,
		Statement: res.Statement.Marshal(), Rejected: res.Rejected, DryRun: req.DryRun}, nil
}

// publishError gives a failed publish its status: 422 for records that
// cannot be published, 400 for a request that is wrong whatever its records.
func publishError(err error) error {
	var re *publish.RecordError
	var ee *publish.EncodingError
	switch {
	case errors.As(err, &ee):
		return api.Errorf(api.ErrRefused, "%w (nothing was published)", err)
	case errors.As(err, &re) && !errors.Is(err, publish.ErrBadRequest):
		return api.Errorf(api.ErrRefused, "%s (nothing was published)", re)
	case errors.Is(err, publish.ErrNothingValid):
		return api.Errorf(api.ErrRefused, "%w", err)
	case errors.Is(err, publish.ErrBadRequest):
		return api.Errorf(api.ErrInvalid, "%w", err)
	}
	return err
}

// openLocalInput opens a file the publishing client named instead of
// streaming it. Only the gateway's owner can reach the API socket, and the
// file is opened with the gateway's own rights, so this grants nothing the
// client did not have; it saves copying every byte through the socket.
func openLocalInput(path string) (*os.File, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("path %q: must be absolute", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("path %q: not a regular file", path)
	}
	return f, nil
}

// countingReader counts the bytes read through it, for progress events
// sent from another goroutine.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
