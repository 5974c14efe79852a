package schemas

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// Schemas are consortium data, so a member's document must not be able to
// make other members' gateways work without end. Two costs can grow
// exponentially with a small document or record:
//
//   - Walking a document through its $refs (to find sensitive paths, or to
//     compare two versions): a $defs entry whose properties all refer to
//     the next entry, ten deep, is 10^10 paths in 2 KB. Compile refuses a
//     document whose walk passes maxWalk steps.
//   - Validating a record: every subschema that applies to a value (allOf,
//     anyOf, oneOf, not, if/then/else, $ref, dependentSchemas) applies its
//     children to the value's children, so a recursive oneOf of two
//     branches costs 2^depth for a record nested depth deep. Compile
//     refuses a document in which more than maxSameValue subschemas apply
//     to one value; and before a record is validated with such keywords,
//     the applications its validation makes are counted, without
//     validating, up to maxApplications: a record past it is refused.

const (
	maxWalk         = 100_000
	maxSameValue    = 1_000
	maxApplications = 200_000
)

// ErrTooComplex is the error of a schema document or record whose checking
// would pass the registry's work bounds (schemas/registry.md).
var ErrTooComplex = errors.New("beyond the registry's work bounds")

// walkBudget counts the steps of a walk through a document's $refs.
type walkBudget struct{ left int }

func (b *walkBudget) step() bool {
	b.left--
	return b.left >= 0
}

// applicators are the keywords whose subschemas apply to the value itself.
var sameValueSingle = []string{"not", "if", "then", "else"}
var sameValueList = []string{"allOf", "anyOf", "oneOf"}

// costModel counts the subschema applications that validating a value
// makes, for documents with keywords that apply several subschemas to one
// value.
// It is read-only once made, so validations may share it.
type costModel struct {
	doc     map[string]any
	nodes   map[string]*costNode // pointer -> a subschema's children
	closure map[string][]string  // pointer -> pointers applied to the same value
}

// costNode is what a subschema applies to a value's members and items.
type costNode struct {
	props      map[string]string // member name -> pointer
	patterns   []*regexp.Regexp
	patPtrs    []string
	additional []string // additionalProperties, unevaluatedProperties
	prefix     []string // prefixItems
	items      string   // "" if none
	allItems   []string // contains, unevaluatedItems
}

func newCostNode(at string, n map[string]any) *costNode {
	c := &costNode{props: map[string]string{}}
	if ps, ok := n["properties"].(map[string]any); ok {
		for k := range ps {
			c.props[k] = at + pointer("properties", k)
		}
	}
	if pp, ok := n["patternProperties"].(map[string]any); ok {
		for pat := range pp {
			if re, err := regexp.Compile(pat); err == nil {
				c.patterns, c.patPtrs = append(c.patterns, re), append(c.patPtrs, at+pointer("patternProperties", pat))
			}
		}
	}
	for _, kw := range []string{"additionalProperties", "unevaluatedProperties"} {
		if _, ok := n[kw].(map[string]any); ok {
			c.additional = append(c.additional, at+pointer(kw))
		}
	}
	prefix, _ := n["prefixItems"].([]any)
	for i := range prefix {
		c.prefix = append(c.prefix, at+pointer("prefixItems", strconv.Itoa(i)))
	}
	if _, ok := n["items"].(map[string]any); ok {
		c.items = at + pointer("items")
	}
	for _, kw := range []string{"contains", "unevaluatedItems"} {
		if _, ok := n[kw].(map[string]any); ok {
			c.allItems = append(c.allItems, at+pointer(kw))
		}
	}
	return c
}

// newCostModel returns nil if the document applies at most one subschema
// to any value (validation is linear in the record), and an error if it
// applies more than maxSameValue to one value.
func newCostModel(doc map[string]any) (*costModel, error) {
	m := &costModel{doc: doc, nodes: map[string]*costNode{}, closure: map[string][]string{}}
	needed := false
	var err error
	walk(doc, "", func(at string, node map[string]any) {
		m.nodes[at] = newCostNode(at, node)
		for _, k := range append(append([]string{"dependentSchemas", "contains", "unevaluatedItems", "unevaluatedProperties"}, sameValueSingle...), sameValueList...) {
			if _, ok := node[k]; ok {
				needed = true
			}
		}
		if err == nil {
			_, err = m.same(at, 0)
		}
	})
	if err != nil || !needed {
		return nil, err
	}
	return m, nil
}

// node returns the subschema at a pointer, or nil.
func (m *costModel) node(at string) map[string]any {
	n, _ := resolvePointer(m.doc, at).(map[string]any)
	return n
}

// same returns the pointers of the subschemas that apply to a value that
// the subschema at `at` applies to, itself included, with repeats.
func (m *costModel) same(at string, depth int) ([]string, error) {
	if c, ok := m.closure[at]; ok {
		if c == nil {
			return nil, fmt.Errorf("%w: %s applies itself to the same value through allOf/anyOf/oneOf/not/if/$ref", ErrTooComplex, orRoot(at))
		}
		return c, nil
	}
	n := m.node(at)
	if n == nil || depth > 64 {
		return []string{at}, nil
	}
	m.closure[at] = nil // in progress: a loop on the same value
	out := []string{at}
	add := func(sub string) error {
		c, err := m.same(sub, depth+1)
		if err != nil {
			return err
		}
		if out = append(out, c...); len(out) > maxSameValue {
			return fmt.Errorf("%w: more than %d subschemas apply to one value at %s (anyOf/oneOf/allOf over $refs multiply); simplify the document", ErrTooComplex, maxSameValue, orRoot(at))
		}
		return nil
	}
	var err error
	if ref, ok := n["$ref"].(string); ok && len(ref) > 0 && ref[0] == '#' {
		err = add(ref[1:])
	}
	for _, k := range sameValueSingle {
		if _, ok := n[k].(map[string]any); ok && err == nil {
			err = add(at + pointer(k))
		}
	}
	for _, k := range sameValueList {
		xs, _ := n[k].([]any)
		for i := range xs {
			if err == nil {
				err = add(at + pointer(k, strconv.Itoa(i)))
			}
		}
	}
	if ds, ok := n["dependentSchemas"].(map[string]any); ok {
		for name := range ds {
			if err == nil {
				err = add(at + pointer("dependentSchemas", name))
			}
		}
	}
	if err != nil {
		delete(m.closure, at)
		return nil, err
	}
	m.closure[at] = out
	return out, nil
}

func orRoot(at string) string {
	if at == "" {
		return "the document's root"
	}
	return at
}

// check counts the applications that validating v (as jcs.Parse returns
// it) would make, and refuses a record past maxApplications.
func (m *costModel) check(v any) error {
	left := maxApplications
	if !m.count([]string{""}, v, &left) {
		return &FieldError{Msg: fmt.Sprintf("%v: validating this record against its schema would apply more than %d subschemas (the schema's anyOf/oneOf/allOf recurse as deep as the record nests)", ErrTooComplex, maxApplications)}
	}
	return nil
}

func (m *costModel) count(ats []string, v any, left *int) bool {
	var applied []*costNode
	for _, at := range ats {
		c, ok := m.closure[at] // filled for every subschema when m was made
		if !ok {
			c = []string{at}
		}
		for _, p := range c {
			if *left--; *left < 0 {
				return false
			}
			if n := m.nodes[p]; n != nil {
				applied = append(applied, n)
			}
		}
	}
	switch x := v.(type) {
	case map[string]any:
		for k, mv := range x {
			var subs []string
			for _, n := range applied {
				subs = n.member(subs, k)
			}
			if len(subs) > 0 && !m.count(subs, mv, left) {
				return false
			}
		}
	case []any:
		for j, ev := range x {
			var subs []string
			for _, n := range applied {
				subs = n.item(subs, j)
			}
			if len(subs) > 0 && !m.count(subs, ev, left) {
				return false
			}
		}
	}
	return true
}

// member appends the subschemas of n that apply to the member k.
func (n *costNode) member(out []string, k string) []string {
	matched := false
	if p, ok := n.props[k]; ok {
		out, matched = append(out, p), true
	}
	for i, re := range n.patterns {
		if re.MatchString(k) {
			out, matched = append(out, n.patPtrs[i]), true
		}
	}
	if !matched {
		out = append(out, n.additional...)
	}
	return out
}

// item appends the subschemas of n that apply to the item j.
func (n *costNode) item(out []string, j int) []string {
	if j < len(n.prefix) {
		out = append(out, n.prefix[j])
	} else if n.items != "" {
		out = append(out, n.items)
	}
	return append(out, n.allItems...)
}
