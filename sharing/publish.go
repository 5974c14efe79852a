package sharing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/caravan-consortium/caravan/schemas"
)

// Publisher publishes this org's datasets: it stores records and manifests
// and hands each new statement to Announce.
type Publisher struct {
	Store    *Store
	Catalog  *Catalog
	Key      crypto.PrivKey
	Org      string
	Now      func() time.Time       // default time.Now
	Announce func(*Statement) error // default: nothing

	mu sync.Mutex // one publish at a time: versions are assigned in order
}

// PublishRequest describes one publish.
type PublishRequest struct {
	Dataset     string
	Schema      *schemas.Schema
	Format      string // "jsonl" (default) or "csv"
	Labels      []string
	Purposes    []string
	Description string
	// DryRun builds and signs the manifest but stores and announces
	// nothing.
	DryRun bool
	// Reject, if set, receives invalid records and the publish goes on
	// with the valid ones; otherwise any invalid record fails it.
	Reject   func(raw []byte, err *RecordError) error
	Progress func(records int)
}

// PublishResult is what a publish made.
type PublishResult struct {
	Statement *Statement
	Manifest  *Manifest
	Rejected  int
}

// Publish reads records from r and publishes them as the next version of
// the dataset. If it fails, nothing of it is stored.
func (p *Publisher) Publish(ctx context.Context, req PublishRequest, r io.Reader) (*PublishResult, error) {
	if !namePattern.MatchString(req.Dataset) {
		return nil, fmt.Errorf("dataset %q is not a valid name (lower-case letters, digits, '.', '_', '-')", req.Dataset)
	}
	if req.Schema == nil {
		return nil, errors.New("a schema is required")
	}
	var src Source
	switch req.Format {
	case "", "jsonl":
		src = JSONLines(r)
	case "csv":
		var err error
		if src, err = CSVRecords(r, req.Schema); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("format %q: want jsonl or csv", req.Format)
	}

	ss, err := p.Store.newSession()
	if err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			_ = ss.abort()
		}
	}()
	res, err := Build(ctx, src, BuildOptions{Schema: req.Schema, Attributes: req.Schema.PolicyAttributes, Reject: req.Reject, Progress: req.Progress}, ss.add)
	if err != nil {
		return nil, err
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	m := &Manifest{
		Type:        TypeManifest,
		Dataset:     req.Dataset,
		Version:     1,
		Schema:      SchemaRef{ID: req.Schema.ID, Version: req.Schema.Version, CID: req.Schema.CID.String()},
		Publisher:   p.Org,
		Created:     p.now().UTC().Truncate(time.Second),
		Records:     res.Records,
		Tree:        res.Tree,
		Labels:      sortedSet(req.Labels),
		Description: req.Description,
		Purposes:    sortedSet(req.Purposes),
	}
	if prevID, prev, ok := p.Catalog.Head(p.Org, req.Dataset); ok {
		m.Version = prev.Version + 1
		m.Previous = prevID.String()
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	st, err := SignStatement(m, p.Key)
	if err != nil {
		return nil, err
	}
	out := &PublishResult{Statement: st, Manifest: m, Rejected: res.Rejected}
	if req.DryRun {
		return out, nil
	}
	if err := ss.commit(st); err != nil {
		return nil, err
	}
	committed = true
	if err := p.Catalog.addCommitted(st); err != nil {
		return nil, err
	}
	return out, p.announce(st)
}

// Retract signs, stores and announces a retraction of one of this org's
// datasets.
func (p *Publisher) Retract(dataset, reason string) (*Statement, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	last, _, ok := p.Catalog.Head(p.Org, dataset)
	if !ok {
		return nil, fmt.Errorf("%s has published no dataset %q", p.Org, dataset)
	}
	r := &Retraction{Type: TypeRetraction, Dataset: dataset, Publisher: p.Org,
		Created: p.now().UTC().Truncate(time.Second), Last: last.String(), Reason: reason}
	st, err := SignStatement(r, p.Key)
	if err != nil {
		return nil, err
	}
	if _, err := p.Catalog.AddAll([]*Statement{st}); err != nil { // synced: our own act
		return nil, err
	}
	return st, p.announce(st)
}

func (p *Publisher) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Publisher) announce(st *Statement) error {
	if p.Announce == nil {
		return nil
	}
	return p.Announce(st)
}

func sortedSet(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}
