package policy

import (
	"math"
	"slices"

	"github.com/cedar-policy/cedar-go/types"
	xast "github.com/cedar-policy/cedar-go/x/exp/ast"
)

// memoPlan says what a fetch decision depends on within one session, where
// principal, action, dataset and context (except released_today) are fixed.
//
// analyse walks every policy. A record can influence a decision only through
// the attributes the policies name (resource.X, resource has X); its
// resource.dataset, its type and its parent are the same for every record of a
// session. Anything else that touches `resource` (resource == Record::"…",
// resource in Record::"…", tags, passing resource around) makes the decision
// depend on the record's identity, and memoization is switched off.
//
// An attribute, or released_today, whose every use is a comparison with a Long
// literal (<, <=, >, >=, ==, !=) is keyed by the interval its value falls in
// between those literals, not by its value: within an interval every such
// comparison has the same result.
//
// An attribute whose every use is an equality (==, !=) with a String or
// Boolean literal, or with an attribute of principal or context (fixed in a
// session; released_today excepted), is keyed by which of those comparands
// its value equals: records that equal the same comparands give every such
// comparison the same result. A comparand the session lacks (a missing
// principal attribute) makes its comparisons fail the same way for every
// record, and counts as equal to none. Only strings, integers, booleans and
// datetimes are keyed so; other values are keyed raw.
type memoPlan struct {
	memo    bool
	attrs   []attrUse // sorted by name
	counter counterUse
}

type attrUse struct {
	name       types.String
	kind       keyKind
	thresholds []int64     // sorted interval bounds, for keyInterval
	comparands []comparand // for keyEqual
}

// comparand is what an attribute is compared with for equality: a literal,
// or an attribute of principal or context.
type comparand struct {
	lit  types.Value  // a literal, or nil
	of   types.String // varPrincipal or varContext
	name types.String
}

// maxComparands bounds an attribute's comparands (a key holds a bit each).
const maxComparands = 64

// keyKind is how an attribute enters the key (absence always does).
type keyKind uint8

const (
	keyPresence keyKind = iota // only `has` reads it
	keyInterval                // only compared with Long literals
	keyEqual                   // only compared for equality with comparands
	keyRaw                     // anything else: its exact value
)

type counterUse struct {
	read       bool
	thresholds []int64 // nil with read: keyed by raw value
}

// readsCounter says whether a decision may depend on released_today: the
// bundle reads it, or was not analysed (no memo).
func (p *memoPlan) readsCounter() bool { return !p.memo || p.counter.read }

// analysis accumulates uses while walking the policies.
type analysis struct {
	identity   bool
	attrRaw    map[types.String]bool
	attrBounds map[types.String][]int64
	attrEq     map[types.String][]comparand
	ctrRaw     bool
	ctrBounds  []int64
}

const (
	varResource  = types.String("resource")
	varContext   = types.String("context")
	varPrincipal = types.String("principal")
	ctrName      = types.String("released_today")
	attrDataset  = types.String("dataset")
)

func analyse(policies []*Policy) memoPlan {
	a := &analysis{attrRaw: map[types.String]bool{}, attrBounds: map[types.String][]int64{}, attrEq: map[types.String][]comparand{}}
	for _, p := range policies {
		pa := (*xast.Policy)(p.policy.AST())
		if !mayApplyToFetch(pa.Action) {
			continue
		}
		a.scope(pa.Resource)
		for _, c := range pa.Conditions {
			a.walk(c.Body)
		}
	}
	if a.identity {
		return memoPlan{}
	}
	plan := memoPlan{memo: true}
	names := make([]types.String, 0, len(a.attrRaw)+len(a.attrBounds)+len(a.attrEq))
	for n := range a.attrRaw {
		names = append(names, n)
	}
	for n := range a.attrBounds {
		names = append(names, n)
	}
	for n := range a.attrEq {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range slices.Compact(names) {
		u := attrUse{name: n, kind: keyRaw}
		bs, eq := bounds(a.attrBounds[n]), a.attrEq[n]
		switch {
		case a.attrRaw[n], len(bs) > 0 && len(eq) > 0, len(eq) > maxComparands:
		case len(eq) > 0:
			u.kind, u.comparands = keyEqual, eq
		case len(bs) > 0:
			u.kind, u.thresholds = keyInterval, bs
		default:
			u.kind = keyPresence
		}
		plan.attrs = append(plan.attrs, u)
	}
	if a.ctrRaw || len(a.ctrBounds) > 0 {
		plan.counter.read = true
		if !a.ctrRaw {
			plan.counter.thresholds = bounds(a.ctrBounds)
		}
	}
	return plan
}

// bounds turns literals into the sorted interval bounds {c, c+1}.
func bounds(lits []int64) []int64 {
	out := make([]int64, 0, 2*len(lits))
	for _, c := range lits {
		out = append(out, c)
		if c < math.MaxInt64 {
			out = append(out, c+1)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// mayApplyToFetch reports whether an action scope can match Action::"fetch".
func mayApplyToFetch(s xast.IsActionScopeNode) bool {
	switch s := s.(type) {
	case xast.ScopeTypeEq:
		return s.Entity == ActionFetch
	case xast.ScopeTypeInSet:
		return slices.Contains(s.Entities, ActionFetch)
	}
	return true // all actions, or `in` an action group
}

func (a *analysis) scope(s xast.IsResourceScopeNode) {
	switch s := s.(type) {
	case xast.ScopeTypeEq:
		a.identity = true
	case xast.ScopeTypeIn:
		if s.Entity.Type == TypeRecord {
			a.identity = true
		}
	case xast.ScopeTypeIsIn:
		if s.Entity.Type == TypeRecord {
			a.identity = true
		}
	}
}

func (a *analysis) walk(n xast.IsNode) {
	if n == nil {
		return
	}
	xast.Inspect(xast.NewNode(n), a.visit)
}

// visit handles the patterns it knows and returns false for them (their
// children are accounted for); it returns true to let Inspect descend.
func (a *analysis) visit(n xast.IsNode) bool {
	switch n := n.(type) {
	case xast.NodeTypeVariable:
		switch n.Name {
		case varResource:
			a.identity = true // resource used as a whole
		case varContext:
			a.ctrRaw = true // context used as a whole
		}
		return false
	case xast.NodeTypeAccess:
		return a.access(n.Arg, n.Value)
	case xast.NodeTypeHas:
		if isVar(n.Arg, varResource) {
			if n.Value != attrDataset {
				a.touch(n.Value)
			}
			return false
		}
		if isVar(n.Arg, varContext) {
			return false // the context's shape is fixed
		}
		return true
	case xast.NodeTypeIn:
		if isVar(n.Left, varResource) {
			if !nonRecordEntities(n.Right) {
				a.identity = true
			}
			a.walk(n.Right)
			return false
		}
		return true
	case xast.NodeTypeIs:
		if isVar(n.Left, varResource) {
			return false // every record of a session has the same type
		}
		return true
	case xast.NodeTypeIsIn:
		if isVar(n.Left, varResource) {
			if !nonRecordEntities(n.Entity) {
				a.identity = true
			}
			a.walk(n.Entity)
			return false
		}
		return true
	case xast.NodeTypeLessThan:
		return a.compare(n.Left, n.Right)
	case xast.NodeTypeLessThanOrEqual:
		return a.compare(n.Left, n.Right)
	case xast.NodeTypeGreaterThan:
		return a.compare(n.Left, n.Right)
	case xast.NodeTypeGreaterThanOrEqual:
		return a.compare(n.Left, n.Right)
	case xast.NodeTypeEquals:
		return !a.equality(n.Left, n.Right) && a.compare(n.Left, n.Right)
	case xast.NodeTypeNotEquals:
		return !a.equality(n.Left, n.Right) && a.compare(n.Left, n.Right)
	}
	return true
}

// equality handles resource.X == c (or c == resource.X, or !=) where c is
// a String or Boolean literal or an attribute of principal or context; it
// reports whether it did.
func (a *analysis) equality(l, r xast.IsNode) bool {
	acc, c, ok := eitherWay(l, r, accessVsComparand)
	if !ok {
		return false
	}
	a.attrEq[acc.Value] = append(a.attrEq[acc.Value], c)
	return true
}

// accessVsComparand matches x = resource.X (X not dataset) and y = a
// comparand.
func accessVsComparand(x, y xast.IsNode) (xast.NodeTypeAccess, comparand, bool) {
	acc, ok := x.(xast.NodeTypeAccess)
	if !ok || !isVar(acc.Arg, varResource) || acc.Value == attrDataset {
		return acc, comparand{}, false
	}
	switch y := y.(type) {
	case xast.NodeValue:
		switch y.Value.(type) {
		case types.String, types.Boolean:
			return acc, comparand{lit: y.Value}, true
		}
	case xast.NodeTypeAccess:
		switch {
		case isVar(y.Arg, varPrincipal):
			return acc, comparand{of: varPrincipal, name: y.Value}, true
		case isVar(y.Arg, varContext) && y.Value != ctrName:
			return acc, comparand{of: varContext, name: y.Value}, true
		}
	}
	return acc, comparand{}, false
}

// touch makes sure an attribute is in the key (at least its presence).
func (a *analysis) touch(name types.String) {
	if _, ok := a.attrBounds[name]; !ok {
		a.attrBounds[name] = nil
	}
}

// access handles X.name.
func (a *analysis) access(arg xast.IsNode, name types.String) bool {
	switch {
	case isVar(arg, varResource):
		if name != attrDataset {
			a.attrRaw[name] = true
		}
		return false
	case isVar(arg, varContext):
		if name == ctrName {
			a.ctrRaw = true
		}
		return false
	}
	return true
}

// compare handles a comparison; an access compared with a Long literal
// becomes an interval bound.
func (a *analysis) compare(l, r xast.IsNode) bool {
	acc, lit, ok := eitherWay(l, r, accessVsLong)
	if !ok {
		return true
	}
	switch {
	case isVar(acc.Arg, varResource) && acc.Value != attrDataset:
		a.attrBounds[acc.Value] = append(a.attrBounds[acc.Value], lit)
		return false
	case isVar(acc.Arg, varContext) && acc.Value == ctrName:
		a.ctrBounds = append(a.ctrBounds, lit)
		return false
	}
	return true
}

// eitherWay matches a symmetric comparison: (l, r), else (r, l).
func eitherWay[T any](l, r xast.IsNode, match func(x, y xast.IsNode) (xast.NodeTypeAccess, T, bool)) (xast.NodeTypeAccess, T, bool) {
	if acc, v, ok := match(l, r); ok {
		return acc, v, true
	}
	return match(r, l)
}

func accessVsLong(x, y xast.IsNode) (xast.NodeTypeAccess, int64, bool) {
	acc, ok := x.(xast.NodeTypeAccess)
	if !ok {
		return acc, 0, false
	}
	v, ok := y.(xast.NodeValue)
	if !ok {
		return acc, 0, false
	}
	l, ok := v.Value.(types.Long)
	return acc, int64(l), ok
}

func isVar(n xast.IsNode, name types.String) bool {
	v, ok := n.(xast.NodeTypeVariable)
	return ok && v.Name == name
}

// nonRecordEntities reports whether n is an entity literal, or a set of them,
// of a type other than Record: `resource in` such a thing has the same answer
// for every record of a session.
func nonRecordEntities(n xast.IsNode) bool {
	ok := func(v types.Value) bool {
		uid, isUID := v.(types.EntityUID)
		return isUID && uid.Type != TypeRecord
	}
	switch n := n.(type) {
	case xast.NodeValue:
		if s, isSet := n.Value.(types.Set); isSet {
			for v := range s.All() {
				if !ok(v) {
					return false
				}
			}
			return true
		}
		return ok(n.Value)
	case xast.NodeTypeSet:
		for _, e := range n.Elements {
			if !nonRecordEntities(e) {
				return false
			}
		}
		return true
	}
	return false
}
