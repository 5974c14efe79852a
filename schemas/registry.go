package schemas

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ipfs/go-cid"
)

// Errors that callers check with errors.Is.
var (
	// ErrUnknown: the registry holds no schema by that name or version.
	ErrUnknown = errors.New("unknown schema")
	// ErrAmbiguous: more than one org registered a schema by that name.
	ErrAmbiguous = errors.New("ambiguous schema name")
	// ErrRefused wraps the reasons Check refuses a new schema for.
	ErrRefused = errors.New("schema refused")
)

// Registry holds the schemas a consortium registered, by owner, name and
// version. It is safe for concurrent use.
//
// Every gateway must put the same registrations in force whatever order
// they reach it in, or one member's registration could change another
// member's vocabulary, or stop its gateway. So the registry holds every
// registration it is given, and puts in force those that keep the rules
// (Check) when taken in the order they were signed: by creation time, then
// CID. A registration that breaks them is set aside, with the reason
// (SetAside), and never decides anything: the first registration of a
// policy attribute fixes its Cedar type for every later one.
type Registry struct {
	mu     sync.RWMutex
	held   []*Schema // every registration given to Add, in signing order
	all    []*Schema // in force, sorted by owner, name, version, CID
	byCID  map[cid.Cid][]*Schema
	aside  []SetAside
	compat map[[2]cid.Cid]error // Compatible's answers, by the pair's CIDs
}

// SetAside is a registration the registry holds but does not use.
type SetAside struct {
	Schema *Schema
	Reason string
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byCID: map[cid.Cid][]*Schema{}, compat: map[[2]cid.Cid]error{}}
}

func key(s *Schema) string { return s.Owner + "/" + s.Name + "@" + s.Version.String() }

func order(a, b *Schema) int {
	switch {
	case a.Owner != b.Owner:
		return strings.Compare(a.Owner, b.Owner)
	case a.Name != b.Name:
		return strings.Compare(a.Name, b.Name)
	case a.Version != b.Version:
		if a.Version.Less(b.Version) {
			return -1
		}
		return 1
	}
	return strings.Compare(a.CID.String(), b.CID.String())
}

// signingOrder orders registrations as they were signed: creation time,
// then CID (then owner, name and version, for the same document registered
// twice).
func signingOrder(a, b *Schema) int {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c
	}
	if c := strings.Compare(a.CID.String(), b.CID.String()); c != 0 {
		return c
	}
	return strings.Compare(key(a), key(b))
}

// Add puts a registered schema (its Owner, Name, Version and Created set)
// in the registry, in force or set aside. It reports false if the registry
// holds it already.
func (r *Registry) Add(s *Schema) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, found := slices.BinarySearchFunc(r.held, s, signingOrder)
	if found {
		return false
	}
	r.held = slices.Insert(r.held, i, s)
	if i == len(r.held)-1 {
		r.place(s) // signed after all the others: nothing before it changes
	} else {
		r.resolve()
	}
	return true
}

// AddAll is Add for many registrations (a gateway's start), with one
// resolution instead of one per registration.
func (r *Registry) AddAll(ss []*Schema) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range ss {
		if i, found := slices.BinarySearchFunc(r.held, s, signingOrder); !found {
			r.held = slices.Insert(r.held, i, s)
		}
	}
	r.resolve()
}

// InForce reports whether the registry puts s (a schema given to Add) in
// force.
func (r *Registry) InForce(s *Schema) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, found := slices.BinarySearchFunc(r.all, s, order)
	return found
}

// SetAside lists the registrations held but not in force, in signing
// order, with the reasons.
func (r *Registry) SetAside() []SetAside {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.aside)
}

// Reason says why s is set aside, or "" if it is not.
func (r *Registry) Reason(s *Schema) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, a := range r.aside {
		if a.Schema == s {
			return a.Reason
		}
	}
	return ""
}

// resolve takes the held registrations in signing order and puts in force
// each that keeps the rules against those in force before it.
func (r *Registry) resolve() {
	r.all, r.aside = r.all[:0], r.aside[:0]
	clear(r.byCID)
	for _, s := range r.held {
		r.place(s)
	}
}

// place puts s, signed after everything in force, in force or aside.
func (r *Registry) place(s *Schema) {
	if err := r.checkLocked(s); err != nil {
		r.aside = append(r.aside, SetAside{Schema: s, Reason: err.Error()})
		return
	}
	i, _ := slices.BinarySearchFunc(r.all, s, order)
	r.all = slices.Insert(r.all, i, s)
	r.byCID[s.CID] = append(r.byCID[s.CID], s)
}

// Check applies the owner's rules to a new schema of its (schemas/registry.md):
// a name and a version; a version above every version the owner registered
// under that name; a minor version compatible with the newest version of
// its major; and policy attributes typed as the schemas in force type them.
func (r *Registry) Check(s *Schema) error {
	r.mu.Lock() // checkLocked fills the compatibility cache
	defer r.mu.Unlock()
	return r.checkLocked(s)
}

func (r *Registry) checkLocked(s *Schema) error {
	if !ValidName(s.Name) {
		return fmt.Errorf("%w: %q is not a valid schema name (lower-case letters, digits, '.', '_', '-'); give --name", ErrRefused, s.Name)
	}
	if s.Version.IsZero() {
		return fmt.Errorf("%w: %s has no version; give --version (MAJOR.MINOR)", ErrRefused, s.Name)
	}
	var newestOfMajor *Schema
	for _, o := range r.all {
		if o.Owner != s.Owner || o.Name != s.Name {
			continue
		}
		if !o.Version.Less(s.Version) {
			return fmt.Errorf("%w: %s is registered already; a new version of %s must be higher than %s", ErrRefused, o.Label(), s.Name, o.Version)
		}
		if o.Version.Major == s.Version.Major {
			newestOfMajor = o
		}
	}
	if newestOfMajor != nil {
		pair := [2]cid.Cid{newestOfMajor.CID, s.CID}
		err, known := r.compat[pair]
		if !known {
			err = Compatible(newestOfMajor, s)
			r.compat[pair] = err
		}
		if err != nil {
			return fmt.Errorf("%w: %s is not compatible with %s; take version %d.0 for an incompatible change:\n%w",
				ErrRefused, s.Ref(), newestOfMajor.Ref(), s.Version.Major+1, err)
		}
	}
	for _, a := range s.Attributes {
		for _, o := range r.all {
			if t, ok := attrType(o, a.Name); ok && t != a.Type {
				return fmt.Errorf("%w: /properties/%s: policy attribute %s is %s here, but %s, registered before, makes it %s; policies see one type per name (schemas/registry.md)",
					ErrRefused, a.Name, a.Name, a.Type, o.Label(), t)
			}
		}
	}
	return nil
}

func attrType(s *Schema, name string) (AttrType, bool) {
	for _, a := range s.Attributes {
		if a.Name == name {
			return a.Type, true
		}
	}
	return "", false
}

// Lookup finds a schema by a reference as people write it: NAME,
// NAME@MAJOR (its newest minor version), NAME@MAJOR.MINOR, each optionally
// OWNER/NAME. Without a version it is the newest.
func (r *Registry) Lookup(ref string) (*Schema, error) {
	owner, rest, hasOwner := strings.Cut(ref, "/")
	if !hasOwner {
		owner, rest = "", ref
	}
	name, ver, hasVer := strings.Cut(rest, "@")
	var want Version
	wantMinor := false
	if hasVer {
		v, err := ParseVersion(ver)
		if err != nil {
			return nil, fmt.Errorf("schema %q: %w", ref, err)
		}
		want, wantMinor = v, strings.Contains(ver, ".")
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	var best *Schema
	owners := map[string]bool{}
	for _, s := range r.all {
		if s.Name != name || hasOwner && s.Owner != owner {
			continue
		}
		owners[s.Owner] = true
		if hasVer && (s.Version.Major != want.Major || wantMinor && s.Version.Minor != want.Minor) {
			continue
		}
		if best == nil || best.Version.Less(s.Version) || best.Version == s.Version && best.Owner == s.Owner && s.CID.String() < best.CID.String() {
			best = s
		}
	}
	if len(owners) > 1 {
		var refs []string
		for o := range owners {
			refs = append(refs, o+"/"+name)
		}
		slices.Sort(refs)
		return nil, fmt.Errorf("%w %q: registered by several orgs; write %s", ErrAmbiguous, ref, strings.Join(refs, " or "))
	}
	if best == nil {
		return nil, fmt.Errorf("%w %q (registered: %s; see 'caravan schema list')", ErrUnknown, ref, r.namesLocked())
	}
	return best, nil
}

func (r *Registry) namesLocked() string {
	var names []string
	for _, s := range r.all {
		if !slices.Contains(names, s.Name) {
			names = append(names, s.Name)
		}
	}
	if len(names) == 0 {
		return "none yet"
	}
	return strings.Join(names, ", ")
}

// ForManifest returns the schema a manifest pins: the document with CID c,
// registered under name.
func (r *Registry) ForManifest(name string, c cid.Cid) (*Schema, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, s := range r.byCID[c] {
		if s.Name == name {
			return s, true
		}
	}
	return nil, false
}

// All returns every schema, sorted by owner, name and version.
func (r *Registry) All() []*Schema {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.all)
}
