package publish

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// Errors that callers check with errors.Is.
var (
	// ErrNothingValid: a publish found no valid record, and published nothing.
	ErrNothingValid = errors.New("nothing was published")
	// ErrBadRequest: the request itself is wrong (dataset name, purpose,
	// format, encoding, delimiter, CSV header), whatever its records.
	ErrBadRequest = errors.New("bad publish request")
)

// Catalog is where the publisher finds a dataset's newest version and lists
// what it publishes; *catalog.Catalog implements it.
type Catalog interface {
	// Head returns the newest manifest of org's dataset, if any.
	Head(org, dataset string) (cid.Cid, *manifest.Manifest, bool)
	// AddCommitted indexes a statement the store already holds.
	AddCommitted(*manifest.Statement) error
	// AddAll stores statements in one synced write and indexes them.
	AddAll([]*manifest.Statement) (int, error)
	// Room says whether the catalog takes one more statement of size
	// bytes from org (its quota), or why not.
	Room(org string, size int) error
	// AddCommittedSealed indexes a manifest committed hidden, with the
	// sealed statement announcing it.
	AddCommittedSealed(st, sealed *manifest.Statement) error
	// AddHidden stores and indexes hidden statements and the sealed
	// statements announcing them, in one synced write.
	AddHidden(hidden, sealed []*manifest.Statement) error
	// Hidden reports whether a held statement is hidden.
	Hidden(cid.Cid) bool
}

// key is the key that signs the org's next statement.
func (p *Publisher) key() ed25519.PrivateKey {
	if p.cfg.KeyInForce != nil {
		return p.cfg.KeyInForce()
	}
	return p.cfg.Key
}

// Config configures New. Store, Catalog, Key (or KeyInForce) and Org are
// required.
type Config struct {
	Store   store.DatasetStore
	Catalog Catalog
	Key     ed25519.PrivateKey // this org's signing key
	// KeyInForce, if set, is asked for the signing key at each statement,
	// in place of Key: an org whose key changes while the gateway runs
	// (its roster version gives it an org key) signs the next statement
	// with the new one.
	KeyInForce func() ed25519.PrivateKey
	Org        string
	// Journal, if set, is called with each new statement before it is
	// stored: the gateway journals its publishes, retractions and schema
	// registrations here, so that no statement is stored (and could spread
	// by catch-up) that its journal lacks. If it fails, nothing is stored
	// or announced and the publish fails.
	Journal func(*manifest.Statement) error
	// Announce, if set, tells the consortium of each new statement (the
	// catalog's gossip).
	Announce func(*manifest.Statement) error
	// Seal, if set, says whether a manifest's dataset is one that not
	// every member may discover: such a manifest is held, not shared, and
	// a sealed statement (owner, CID, time) is journaled and announced in
	// its place (catalog-protocol.md). A retraction of a sealed dataset is
	// sealed too.
	Seal func(*manifest.Manifest) bool
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Publisher publishes this org's datasets: it stores records and manifests,
// journals and announces each new statement.
type Publisher struct {
	cfg Config
	mu  sync.Mutex // one publish at a time: versions are assigned in order
}

// New returns a publisher.
func New(cfg Config) *Publisher {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Publisher{cfg: cfg}
}

// Request describes one publish.
type Request struct {
	Dataset     string
	Schema      *schemas.Schema
	Input       Input // the file's format, encoding and CSV delimiter
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

// Result is what a publish made.
type Result struct {
	Statement *manifest.Statement
	Manifest  *manifest.Manifest
	Rejected  int
	// Sealed, if set, is the sealed statement announced in the manifest's
	// place (Config.Seal).
	Sealed *manifest.Statement
}

// Publish reads records from r and publishes them as the next version of
// the dataset. If it fails, nothing of it is stored.
func (p *Publisher) Publish(ctx context.Context, req Request, r io.Reader) (*Result, error) {
	if err := checkRequest(req); err != nil {
		return nil, err
	}
	src, err := Open(r, req.Schema, req.Input)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	ss, err := p.cfg.Store.NewSession()
	if err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			_ = ss.Abort()
		}
	}()
	res, err := stage(ctx, ss, src, req)
	if err != nil {
		return nil, err
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.manifest(req, res)
	if err := m.Validate(); err != nil {
		return nil, err
	}
	st, err := manifest.SignStatement(m, p.key())
	if err != nil {
		return nil, err
	}
	out := &Result{Statement: st, Manifest: m, Rejected: res.Rejected}
	if req.DryRun {
		return out, nil
	}
	if p.cfg.Seal != nil && p.cfg.Seal(m) {
		return p.commitSealed(ss, st, out, &committed)
	}
	return p.commit(ss, st, out, &committed)
}

// checkRequest checks what a request says beside its records.
func checkRequest(req Request) error {
	if !manifest.ValidName(req.Dataset) {
		return fmt.Errorf("%w: dataset %q is not a valid name (lower-case letters, digits, '.', '_', '-')", ErrBadRequest, req.Dataset)
	}
	if req.Schema == nil {
		return fmt.Errorf("%w: a schema is required", ErrBadRequest)
	}
	for _, pu := range req.Purposes {
		if !manifest.ValidPurpose(pu) {
			return fmt.Errorf("%w: purpose %.80q: %s", ErrBadRequest, pu, manifest.PurposeRule)
		}
	}
	return nil
}

// stage builds src's records into the store session ss: validated,
// canonical, content-addressed, with their attribute projections.
func stage(ctx context.Context, ss store.Session, src Source, req Request) (*BuildResult, error) {
	res, err := Build(ctx, src, BuildOptions{Schema: req.Schema, Attributes: req.Schema.PolicyAttributes, Reject: req.Reject, Progress: req.Progress},
		func(recs []Record) error {
			for _, r := range recs {
				if err := ss.Put(r.Index, r.CID, r.Canonical, r.Attributes); err != nil {
					return err
				}
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	if res.Records == 0 {
		if res.Rejected > 0 {
			return nil, fmt.Errorf("no record is valid (all %d rejected): %w", res.Rejected, ErrNothingValid)
		}
		return nil, fmt.Errorf("the input holds no record: %w", ErrNothingValid)
	}
	return res, nil
}

// commit journals st, then commits the session with it, indexes it and
// announces it. Journal first: a statement that is stored spreads by
// catch-up, so none may be stored that the journal lacks.
func (p *Publisher) commit(ss store.Session, st *manifest.Statement, out *Result, committed *bool) (*Result, error) {
	if err := p.cfg.Catalog.Room(p.cfg.Org, len(st.Marshal())); err != nil {
		return nil, err // the others would not keep it either
	}
	if err := p.journal(st); err != nil {
		return nil, err
	}
	if err := ss.Commit(st); err != nil {
		return nil, err
	}
	*committed = true
	if err := p.cfg.Catalog.AddCommitted(st); err != nil {
		return nil, err
	}
	return out, p.announce(st)
}

// commitSealed is commit for a sealed dataset: the sealed statement that
// announces st is journaled, stored beside it and announced in its place.
func (p *Publisher) commitSealed(ss store.Session, st *manifest.Statement, out *Result, committed *bool) (*Result, error) {
	sealed, err := p.seal(st)
	if err != nil {
		return nil, err
	}
	out.Sealed = sealed
	if err := p.journal(sealed); err != nil {
		return nil, err
	}
	if err := ss.CommitSealed(st, sealed); err != nil {
		return nil, err
	}
	*committed = true
	if err := p.cfg.Catalog.AddCommittedSealed(st, sealed); err != nil {
		return nil, err
	}
	return out, p.announce(sealed)
}

// seal signs the sealed statement that announces st in its place, within
// the catalog quota.
func (p *Publisher) seal(st *manifest.Statement) (*manifest.Statement, error) {
	sealed, err := manifest.SignStatement(&manifest.Sealed{Type: manifest.TypeSealed, Publisher: p.cfg.Org,
		Created: p.cfg.Now().UTC().Truncate(time.Second), Statement: st.CID().String()}, p.key())
	if err != nil {
		return nil, err
	}
	return sealed, p.cfg.Catalog.Room(p.cfg.Org, len(sealed.Marshal()))
}

// manifest makes the manifest of the next version of req's dataset.
func (p *Publisher) manifest(req Request, res *BuildResult) *manifest.Manifest {
	m := &manifest.Manifest{
		Type:        manifest.TypeManifest,
		Dataset:     req.Dataset,
		Version:     1,
		Schema:      manifest.SchemaRef{ID: req.Schema.Name, Version: req.Schema.Version.Major, CID: req.Schema.CID.String()},
		Publisher:   p.cfg.Org,
		Created:     p.cfg.Now().UTC().Truncate(time.Second),
		Records:     res.Records,
		Tree:        res.Tree,
		Labels:      sortedSet(req.Labels),
		Description: req.Description,
		Purposes:    sortedSet(req.Purposes),
	}
	if prevID, prev, ok := p.cfg.Catalog.Head(p.cfg.Org, req.Dataset); ok {
		m.Version = prev.Version + 1
		m.Previous = prevID.String()
	}
	return m
}

// Retract signs, stores, journals and announces a retraction of one of
// this org's datasets.
func (p *Publisher) Retract(dataset, reason string) (*manifest.Statement, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	last, _, ok := p.cfg.Catalog.Head(p.cfg.Org, dataset)
	if !ok {
		return nil, fmt.Errorf("%s has published no dataset %q", p.cfg.Org, dataset)
	}
	r := &manifest.Retraction{Type: manifest.TypeRetraction, Dataset: dataset, Publisher: p.cfg.Org,
		Created: p.cfg.Now().UTC().Truncate(time.Second), Last: last.String(), Reason: reason}
	if !p.cfg.Catalog.Hidden(last) {
		return p.sign(r)
	}
	// A sealed dataset's retraction names it: sealed too.
	st, err := manifest.SignStatement(r, p.key())
	if err != nil {
		return nil, err
	}
	sealed, err := p.seal(st)
	if err != nil {
		return nil, err
	}
	if err := p.journal(sealed); err != nil {
		return nil, err
	}
	if err := p.cfg.Catalog.AddHidden([]*manifest.Statement{st}, []*manifest.Statement{sealed}); err != nil {
		return nil, err
	}
	return st, p.announce(sealed)
}

// Register signs, stores, journals and announces the registration of one of
// this org's dataset schemas, whose registry checks the caller has made.
func (p *Publisher) Register(s *schemas.Schema) (*manifest.Statement, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := &manifest.Registration{Type: manifest.TypeRegistration, Publisher: p.cfg.Org, Name: s.Name,
		Version: s.Version.String(), Created: p.cfg.Now().UTC().Truncate(time.Second), Document: s.Canonical}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return p.sign(r)
}

// sign signs a statement of this org, journals it, stores it (synced: our
// own act) and announces it.
func (p *Publisher) sign(body any) (*manifest.Statement, error) {
	st, err := manifest.SignStatement(body, p.key())
	if err != nil {
		return nil, err
	}
	if err := p.cfg.Catalog.Room(p.cfg.Org, len(st.Marshal())); err != nil {
		return nil, err
	}
	if err := p.journal(st); err != nil {
		return nil, err
	}
	if _, err := p.cfg.Catalog.AddAll([]*manifest.Statement{st}); err != nil {
		return nil, err
	}
	return st, p.announce(st)
}

// journal writes a statement's journal entry (the Journal hook), before
// it is stored.
func (p *Publisher) journal(st *manifest.Statement) error {
	if p.cfg.Journal == nil {
		return nil
	}
	if err := p.cfg.Journal(st); err != nil {
		return fmt.Errorf("journal: %w; nothing was stored or announced", err)
	}
	return nil
}

// announce tells the consortium of a stored statement.
func (p *Publisher) announce(st *manifest.Statement) error {
	if p.cfg.Announce != nil {
		return p.cfg.Announce(st)
	}
	return nil
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
