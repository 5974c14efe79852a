package catalog

import (
	"errors"
	"fmt"
	"maps"
)

// Quota bounds what the catalog keeps of each org: its statements and
// their bytes. A statement beyond it is not stored (Room says why); zero
// fields take the defaults. Every member should set the same quota: a
// statement one gateway refuses and another keeps makes their catalogs
// differ.
type Quota struct {
	Statements int
	Bytes      int64
}

// Default quota of each org.
const (
	DefaultQuotaStatements = 50_000
	DefaultQuotaBytes      = 64 << 20
)

// WithDefaults fills in zero fields.
func (q Quota) WithDefaults() Quota {
	if q.Statements <= 0 {
		q.Statements = DefaultQuotaStatements
	}
	if q.Bytes <= 0 {
		q.Bytes = DefaultQuotaBytes
	}
	return q
}

// Usage is what the catalog holds of one org.
type Usage struct {
	Statements int
	Bytes      int64
}

// ErrQuota is wrapped by Room's refusals.
var ErrQuota = errors.New("over the org's catalog quota")

// SetQuota sets the quota (statements held already stay).
func (c *Catalog) SetQuota(q Quota) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.quota = q.WithDefaults()
}

// Room says whether the catalog takes one more statement of size bytes
// from org, or why not.
func (c *Catalog) Room(org string, size int) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.room(org, c.usage[org], size)
}

func (c *Catalog) room(org string, u Usage, size int) error {
	if u.Statements+1 > c.quota.Statements || u.Bytes+int64(size) > c.quota.Bytes {
		return fmt.Errorf("%w: %s holds %d statements of %d bytes in all (quota %d, %d bytes)",
			ErrQuota, org, u.Statements, u.Bytes, c.quota.Statements, c.quota.Bytes)
	}
	return nil
}

// Usages is what the catalog holds of each org (shared statements).
func (c *Catalog) Usages() map[string]Usage {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return maps.Clone(c.usage)
}
