package catalog

import (
	"crypto/sha256"
	"fmt"
	"slices"

	"github.com/ipfs/go-cid"
)

// OrgSummary is the compact summary of one org's statements used by
// catch-up: how many, and a hash of their sorted CIDs.
type OrgSummary struct {
	Count  int    `json:"count"`
	Digest []byte `json:"digest"`
}

// Summary summarizes the statements of every org. It is computed once per
// change; the caller must not modify it.
func (c *Catalog) Summary() map[string]OrgSummary {
	c.mu.RLock()
	sum := c.summary
	c.mu.RUnlock()
	if sum != nil {
		return sum
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.summary == nil {
		c.summary = map[string]OrgSummary{}
		for org, ids := range c.byOrg {
			c.summary[org] = summarize(ids)
		}
	}
	return c.summary
}

func summarize(ids []cid.Cid) OrgSummary {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = string(id.Bytes())
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
	}
	return OrgSummary{Count: len(ids), Digest: h.Sum(nil)}
}

// CIDsOf returns the CIDs of an org's statements.
func (c *Catalog) CIDsOf(org string) []cid.Cid {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.byOrg[org])
}

// Digest summarizes the whole catalog: equal digests, equal catalogs.
func (c *Catalog) Digest() string {
	sum := c.Summary()
	orgs := make([]string, 0, len(sum))
	for org := range sum {
		orgs = append(orgs, org)
	}
	slices.Sort(orgs)
	h := sha256.New()
	for _, org := range orgs {
		fmt.Fprintf(h, "%s:%d:%x;", org, sum[org].Count, sum[org].Digest)
	}
	return fmt.Sprintf("%x", h.Sum(nil)[:8])
}

// Len returns how many shared statements the catalog holds (not the
// hidden ones, which only some catalogs hold).
func (c *Catalog) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.statements) - len(c.hidden)
}
