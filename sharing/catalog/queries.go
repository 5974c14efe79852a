package catalog

import (
	"cmp"
	"slices"

	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/ipfs/go-cid"
)

// head returns the newest manifest of org's dataset: the highest version,
// and among equal versions the lowest CID, so every catalog agrees.
func (c *Catalog) head(org, dataset string) (cid.Cid, *manifest.Manifest) {
	var best cid.Cid
	var bm *manifest.Manifest
	for _, id := range c.byDataset[datasetKey(org, dataset)] {
		m := c.manifests[id]
		if m == nil {
			continue
		}
		if bm == nil || m.Version > bm.Version || (m.Version == bm.Version && id.String() < best.String()) {
			best, bm = id, m
		}
	}
	return best, bm
}

// Head returns the newest manifest of a dataset, if any.
func (c *Catalog) Head(org, dataset string) (cid.Cid, *manifest.Manifest, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	id, m := c.head(org, dataset)
	return id, m, m != nil
}

// Standing says of a manifest the catalog holds whether a later version of
// its dataset exists (superseded) and whether a retraction withdraws it.
func (c *Catalog) Standing(id cid.Cid) (superseded, retracted bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	m := c.manifests[id]
	if m == nil {
		return false, false
	}
	head, _ := c.head(m.Publisher, m.Dataset)
	return head != id, m.Version <= c.retractedUpTo(m.Publisher, m.Dataset)
}

// retractedUpTo returns the highest version a retraction of the dataset
// covers: the version of its Last manifest, or every version if the catalog
// does not hold that manifest. 0 means not retracted.
func (c *Catalog) retractedUpTo(org, dataset string) uint64 {
	var upTo uint64
	for _, id := range c.byDataset[datasetKey(org, dataset)] {
		r := c.retractions[id]
		if r == nil {
			continue
		}
		v := ^uint64(0)
		if last, err := cid.Decode(r.Last); err == nil {
			if m := c.manifests[last]; m != nil {
				v = m.Version
			}
		}
		upTo = max(upTo, v)
	}
	return upTo
}

// List returns the entries that match f, sorted by org, dataset and version.
func (c *Catalog) List(f Filter) []Entry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []Entry
	for _, ids := range c.byDataset { // each dataset once: O(statements)
		var headID cid.Cid
		var upTo uint64
		for _, id := range ids {
			m := c.manifests[id]
			if m == nil {
				continue
			}
			if !headID.Defined() {
				headID, _ = c.head(m.Publisher, m.Dataset)
				upTo = c.retractedUpTo(m.Publisher, m.Dataset)
			}
			if (f.Org != "" && m.Publisher != f.Org) || (f.Schema != "" && m.Schema.ID != f.Schema) || (f.Label != "" && !slices.Contains(m.Labels, f.Label)) {
				continue
			}
			e := Entry{Manifest: m, Head: headID.Equals(id), Retracted: m.Version <= upTo}
			if !f.All && (!e.Head || e.Retracted) {
				continue
			}
			e.CID, e.Signer = id.String(), c.statements[id].Signer
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Manifest.Publisher, b.Manifest.Publisher), cmp.Compare(a.Manifest.Dataset, b.Manifest.Dataset),
			cmp.Compare(a.Manifest.Version, b.Manifest.Version), cmp.Compare(a.CID, b.CID))
	})
	return out
}

// Entry returns the entry of one manifest the catalog holds, as List with
// All gives it, at the cost of its dataset's versions rather than of the
// whole catalog (an API lookup must not scan, or hold the lock over, a
// catalog that a member filled to its quota).
func (c *Catalog) Entry(id cid.Cid) (Entry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	m := c.manifests[id]
	if m == nil {
		return Entry{}, false
	}
	return c.entry(id, m), true
}

// Versions returns the entries of every version of a dataset the catalog
// holds, in version order, retracted ones too.
func (c *Catalog) Versions(org, dataset string) []Entry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []Entry
	for _, id := range c.byDataset[datasetKey(org, dataset)] {
		if m := c.manifests[id]; m != nil {
			out = append(out, c.entry(id, m))
		}
	}
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Manifest.Version, b.Manifest.Version), cmp.Compare(a.CID, b.CID))
	})
	return out
}

// entry builds the entry of a held manifest; c.mu is held.
func (c *Catalog) entry(id cid.Cid, m *manifest.Manifest) Entry {
	head, _ := c.head(m.Publisher, m.Dataset)
	return Entry{CID: id.String(), Manifest: m, Signer: c.statements[id].Signer,
		Head: head.Equals(id), Retracted: m.Version <= c.retractedUpTo(m.Publisher, m.Dataset)}
}
