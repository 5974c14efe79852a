package policy

import (
	"fmt"
	"time"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/internal/jcs"
)

// Entity types and actions of the Cedar schema.
const (
	TypeOrg     = types.EntityType("Org")
	TypeGroup   = types.EntityType("Group")
	TypeDataset = types.EntityType("Dataset")
	TypeRecord  = types.EntityType("Record")
)

// Actions.
var (
	ActionDiscover = types.NewEntityUID("Action", "discover")
	ActionFetch    = types.NewEntityUID("Action", "fetch")
)

// Org is a member organization, as the roster describes it.
type Org struct {
	ID      string   `json:"id" yaml:"id"`
	Name    string   `json:"name" yaml:"name"`
	Country string   `json:"country" yaml:"country"`
	Sector  string   `json:"sector" yaml:"sector"`
	Roles   []string `json:"roles" yaml:"roles"`
	Groups  []string `json:"groups" yaml:"groups"`
}

// UID is the org's entity id, Org::"ID".
func (o Org) UID() types.EntityUID { return types.NewEntityUID(TypeOrg, types.String(o.ID)) }

func (o Org) entity() types.Entity {
	parents := make([]types.EntityUID, len(o.Groups))
	for i, g := range o.Groups {
		parents[i] = types.NewEntityUID(TypeGroup, types.String(g))
	}
	return types.Entity{
		UID:     o.UID(),
		Parents: types.NewEntityUIDSet(parents...),
		Attributes: types.NewRecord(types.RecordMap{
			"name":    types.String(o.Name),
			"country": types.String(o.Country),
			"sector":  types.String(o.Sector),
			"roles":   stringSet(o.Roles),
		}),
	}
}

// Dataset is a published dataset, as its latest manifest describes it.
type Dataset struct {
	Owner    string   `json:"owner" yaml:"owner"` // org id
	Name     string   `json:"name" yaml:"name"`
	Schema   string   `json:"schema" yaml:"schema"`
	Labels   []string `json:"labels" yaml:"labels"`
	Purposes []string `json:"purposes" yaml:"purposes"`
	// Superseded: a later version of the dataset exists (the fetch is of
	// an older one).
	Superseded bool `json:"superseded,omitempty" yaml:"superseded,omitempty"`
}

// UID is the dataset's entity id, Dataset::"OWNER/NAME".
func (d Dataset) UID() types.EntityUID {
	return types.NewEntityUID(TypeDataset, types.String(d.Owner+"/"+d.Name))
}

func (d Dataset) entity() types.Entity {
	return types.Entity{
		UID: d.UID(),
		Attributes: types.NewRecord(types.RecordMap{
			"name":       types.String(d.Name),
			"owner":      types.NewEntityUID(TypeOrg, types.String(d.Owner)),
			"schema":     types.String(d.Schema),
			"labels":     stringSet(d.Labels),
			"purposes":   stringSet(d.Purposes),
			"superseded": types.Boolean(d.Superseded),
		}),
	}
}

// Record is one record as the policy sees it: its CID and its policy
// attributes. Build it with Extractor.Record, which adds a compact copy of the
// attributes for fast memo keys; a Record with only ID and Attrs works too.
// Extractor.RecordLazy builds only the compact copy, and a session makes ID
// and Attrs when it needs them (when the memo does not decide the record).
type Record struct {
	ID    string
	Attrs types.RecordMap

	layout *Extractor // the field order of tuple
	tuple  []byte     // per field in layout order: 0 (absent) or appendRaw(value)

	// A lazy record's source: its CID and the JSON object its attributes
	// come from. ID and Attrs are empty until materialize.
	cid cid.Cid
	src []byte

	bad error // an unreadable record (Unreadable): always denied
}

// Unreadable is a record whose policy attributes cannot be read (say, an
// integer Cedar's Long cannot hold): a session denies it, and says why in
// an explanation, and decides the other records of the request as usual.
func Unreadable(c cid.Cid, why error) Record { return Record{ID: c.String(), cid: c, bad: why} }

// unmaterialized reports a lazy record whose ID and Attrs are not made.
func (r *Record) unmaterialized() bool { return r.src != nil && r.Attrs == nil }

// materialize makes a lazy record's ID and Attrs from its source. It
// cannot fail for a record that RecordLazy accepted, since it parses and
// converts the same bytes the same way; if it did, the caller denies.
func (r *Record) materialize() error {
	if r.bad != nil {
		return r.bad
	}
	if r.src == nil || r.Attrs != nil {
		return nil
	}
	v, err := jcs.ParseValue(r.src)
	if err != nil {
		return fmt.Errorf("policy: record %s: %w", r.cid, err)
	}
	full, err := r.layout.RecordValue(r.cid.String(), &v)
	if err != nil {
		return fmt.Errorf("policy: record %s: %w", r.cid, err)
	}
	r.ID, r.Attrs = full.ID, full.Attrs
	return nil
}

// UID is the record's entity id, Record::"CID".
func (r Record) UID() types.EntityUID { return types.NewEntityUID(TypeRecord, types.String(r.ID)) }

// recordAttrs is the attribute map of a record entity: the record's policy
// attributes plus its dataset.
func recordAttrs(r Record, dataset types.EntityUID) types.Record {
	m := make(types.RecordMap, len(r.Attrs)+1)
	for k, v := range r.Attrs {
		m[k] = v
	}
	m["dataset"] = dataset
	return types.NewRecord(m)
}

// Request is what a requester asks for: the fixed part of every decision in a
// session.
type Request struct {
	Org     Org
	Dataset Dataset
	// Owner is the dataset owner's Org, so that policies can read
	// resource.dataset.owner's attributes. Optional.
	Owner   *Org
	Purpose string
	Time    time.Time
	Node    string // the requesting gateway's PeerID
	// Selected is how many records the request selects; 0 means all.
	Selected int
	// ReleasedToday is released_today at the start of a session that has no
	// Ledger (policy tests, explain). With a Ledger it is ignored.
	ReleasedToday int64
}

// Day is the UTC day that volume limits count in, "YYYY-MM-DD".
func (r Request) Day() string { return r.Time.UTC().Format(time.DateOnly) }

func (r Request) fetchContext(released int64) types.Record {
	return types.NewRecord(types.RecordMap{
		"purpose":        types.String(r.Purpose),
		"time":           cedar.NewDatetime(r.Time),
		"released_today": types.Long(released),
		"request": types.NewRecord(types.RecordMap{
			"node":     types.String(r.Node),
			"selected": types.Long(r.Selected),
		}),
	})
}

func discoverContext(t time.Time) types.Record {
	return types.NewRecord(types.RecordMap{"time": cedar.NewDatetime(t)})
}

func stringSet(ss []string) types.Set {
	vs := make([]types.Value, len(ss))
	for i, s := range ss {
		vs[i] = types.String(s)
	}
	return types.NewSet(vs...)
}

// store is the entity getter for one decision: the principal, its groups,
// the dataset, its owner and the current record. Groups have no attributes.
type store struct {
	org, dataset, owner, record types.Entity
	hasOwner                    bool
}

func (s *store) Get(uid types.EntityUID) (types.Entity, bool) {
	switch {
	case uid == s.record.UID:
		return s.record, true
	case uid == s.org.UID:
		return s.org, true
	case uid == s.dataset.UID:
		return s.dataset, true
	case s.hasOwner && uid == s.owner.UID:
		return s.owner, true
	case uid.Type == TypeGroup:
		return types.Entity{UID: uid}, true
	}
	return types.Entity{}, false
}
