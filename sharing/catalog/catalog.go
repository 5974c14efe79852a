package catalog

import (
	"context"
	"errors"
	"sync"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// ErrKnown is returned by Catalog.Add for a statement it already holds.
var ErrKnown = errors.New("statement already known")

// Entry is a manifest as the catalog lists it.
type Entry struct {
	CID       string             `json:"cid"`
	Manifest  *manifest.Manifest `json:"manifest"`
	Signer    string             `json:"signer"`
	Head      bool               `json:"head"`      // the newest version of its dataset
	Retracted bool               `json:"retracted"` // hidden by a retraction
}

// Filter selects catalog entries; empty fields match everything.
type Filter struct {
	Org, Schema, Label string
	// All lists every version, and retracted ones; otherwise only the
	// head of each dataset that is not retracted.
	All bool
}

// Catalog holds the verified statements of every member, indexed in
// memory and persisted in the Store. Every statement is kept, so two
// catalogs that hold the same statements list the same entries.
type Catalog struct {
	store store.StatementStore

	mu          sync.RWMutex
	changed     chan struct{} // closed when a statement is indexed, if someone awaits one
	statements  map[cid.Cid]*manifest.Statement
	manifests   map[cid.Cid]*manifest.Manifest
	retractions map[cid.Cid]*manifest.Retraction
	registered  []cid.Cid             // registrations of dataset schemas, in arrival order
	byOrg       map[string][]cid.Cid  // every statement of an org
	byDataset   map[string][]cid.Cid  // every statement of an org's dataset, by datasetKey
	summary     map[string]OrgSummary // cached; nil after a change
	usage       map[string]Usage      // by org
	quota       Quota
	// hidden are the statements held but not shared: a sealed dataset's
	// manifests and retractions (this org's own, or revealed to it). They
	// are indexed for listing and fetching, but are not in byOrg (so not in
	// summaries, digests or catch-up), not counted by Len, and never
	// served to others (SharedStatement).
	hidden map[cid.Cid]bool
	sealed map[cid.Cid]cid.Cid // the sealed statements held: sealed CID -> the CID it seals
}

func datasetKey(org, dataset string) string { return org + "\x00" + dataset }

// Open loads the catalog from st.
func Open(st store.StatementStore) (*Catalog, error) {
	c := &Catalog{
		store:       st,
		statements:  map[cid.Cid]*manifest.Statement{},
		manifests:   map[cid.Cid]*manifest.Manifest{},
		retractions: map[cid.Cid]*manifest.Retraction{},
		byOrg:       map[string][]cid.Cid{},
		byDataset:   map[string][]cid.Cid{},
		usage:       map[string]Usage{},
		quota:       Quota{}.WithDefaults(),
		hidden:      map[cid.Cid]bool{},
		sealed:      map[cid.Cid]cid.Cid{},
	}
	if err := st.Hidden(func(id cid.Cid) error { c.hidden[id] = true; return nil }); err != nil {
		return nil, err
	}
	err := st.Statements(func(s *manifest.Statement) error { return c.index(s) })
	return c, err
}

// index adds st to the in-memory index.
func (c *Catalog) index(st *manifest.Statement) error {
	org, err := st.Org()
	if err != nil {
		return err
	}
	id := st.CID()
	c.statements[id] = st
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
	if !c.hidden[id] {
		c.byOrg[org] = append(c.byOrg[org], id)
		u := c.usage[org]
		u.Statements++
		u.Bytes += int64(len(st.Marshal()))
		c.usage[org] = u
	}
	c.summary = nil
	var dataset string
	switch st.BodyType() {
	case manifest.TypeManifest:
		m, _ := st.Manifest()
		c.manifests[id] = m
		dataset = m.Dataset
	case manifest.TypeRetraction:
		r, _ := st.Retraction()
		c.retractions[id] = r
		dataset = r.Dataset
	case manifest.TypeRegistration:
		c.registered = append(c.registered, id)
		return nil
	case manifest.TypeSealed:
		sl, _ := st.Sealed()
		c.sealed[id] = cid.MustParse(sl.Statement)
		return nil
	}
	k := datasetKey(org, dataset)
	c.byDataset[k] = append(c.byDataset[k], id)
	return nil
}

// Registrations returns the schema registrations the catalog holds.
func (c *Catalog) Registrations() []*manifest.Statement {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*manifest.Statement, len(c.registered))
	for i, id := range c.registered {
		out[i] = c.statements[id]
	}
	return out
}

// Has reports whether the catalog holds the statement.
func (c *Catalog) Has(id cid.Cid) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.statements[id]
	return ok
}

// Add stores and indexes a statement received from another member, whose
// signature and signer the caller has checked (see store.PutUnsynced on
// durability). It returns ErrKnown if the catalog already holds it. This
// org's own statements go through AddAll, which syncs.
func (c *Catalog) Add(st *manifest.Statement) error {
	n, err := c.add([]*manifest.Statement{st}, c.store.PutUnsynced)
	if err == nil && n == 0 {
		return ErrKnown
	}
	return err
}

// AddAll stores and indexes statements whose signatures and signers the
// caller has checked, in one synced write, and returns how many were new.
func (c *Catalog) AddAll(sts []*manifest.Statement) (int, error) {
	return c.add(sts, c.store.PutStatements)
}

// add stores, with put, the statements the catalog does not hold yet, and
// indexes them.
func (c *Catalog) add(sts []*manifest.Statement, put func([]*manifest.Statement) error) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var fresh []*manifest.Statement
	seen := map[cid.Cid]bool{}
	pending := map[string]Usage{}
	for _, st := range sts {
		org, err := st.Org()
		if err != nil {
			return 0, err
		}
		if _, ok := c.statements[st.CID()]; ok || seen[st.CID()] {
			continue
		}
		u, ok := pending[org]
		if !ok {
			u = c.usage[org]
		}
		size := len(st.Marshal())
		if c.room(org, u, size) != nil {
			continue // over the org's quota: not kept (Room says why)
		}
		u.Statements++
		u.Bytes += int64(size)
		pending[org] = u
		seen[st.CID()] = true
		fresh = append(fresh, st)
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	if err := put(fresh); err != nil {
		return 0, err
	}
	for _, st := range fresh {
		if err := c.index(st); err != nil {
			return 0, err
		}
	}
	return len(fresh), nil
}

// AddCommitted indexes a statement the publisher already committed to the
// store.
func (c *Catalog) AddCommitted(st *manifest.Statement) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.index(st)
}

// Statement returns a held statement.
func (c *Catalog) Statement(id cid.Cid) (*manifest.Statement, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st, ok := c.statements[id]
	return st, ok
}

// Await returns once the catalog holds the statement id (at once if it
// does), or ctx's error if ctx ends first.
func (c *Catalog) Await(ctx context.Context, id cid.Cid) error {
	for {
		c.mu.Lock()
		_, ok := c.statements[id]
		if !ok && c.changed == nil {
			c.changed = make(chan struct{})
		}
		changed := c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// SharedStatement returns a held statement that may be given to others:
// not a hidden one.
func (c *Catalog) SharedStatement(id cid.Cid) (*manifest.Statement, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.hidden[id] {
		return nil, false
	}
	st, ok := c.statements[id]
	return st, ok
}

// Hidden reports whether a held statement is hidden (a sealed dataset's).
func (c *Catalog) Hidden(id cid.Cid) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.hidden[id]
}

// AddHidden stores and indexes hidden statements (a sealed dataset's
// manifests or retractions: this org's own, or revealed to it, verified by
// the caller) and the sealed statements announcing them, in one synced
// write.
func (c *Catalog) AddHidden(hidden, sealed []*manifest.Statement) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.store.PutHidden(hidden, sealed); err != nil {
		return err
	}
	for _, st := range hidden {
		if _, ok := c.statements[st.CID()]; ok {
			continue
		}
		c.hidden[st.CID()] = true
		if err := c.index(st); err != nil {
			return err
		}
	}
	for _, st := range sealed {
		if _, ok := c.statements[st.CID()]; ok {
			continue
		}
		if err := c.index(st); err != nil {
			return err
		}
	}
	return nil
}

// AddCommittedSealed indexes a manifest the publisher committed hidden
// (store.Session.CommitSealed) and the sealed statement announcing it.
func (c *Catalog) AddCommittedSealed(st, sealed *manifest.Statement) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hidden[st.CID()] = true
	if err := c.index(st); err != nil {
		return err
	}
	return c.index(sealed)
}

// Unrevealed lists the sealed statements of other orgs whose statement this
// catalog does not hold: what a permitted member may ask their owner for.
func (c *Catalog) Unrevealed(self string) []*manifest.Statement {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []*manifest.Statement
	for id, target := range c.sealed {
		if _, held := c.statements[target]; held {
			continue
		}
		if org, _ := c.statements[id].Org(); org != self {
			out = append(out, c.statements[id])
		}
	}
	return out
}

// Sealing returns the sealed statement that announces a hidden statement,
// if the catalog holds it.
func (c *Catalog) Sealing(target cid.Cid) (*manifest.Statement, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for id, t := range c.sealed {
		if t == target {
			return c.statements[id], true
		}
	}
	return nil, false
}
