package schemas

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/caravan-consortium/caravan/internal/jcs"
)

// A compiled schema validates jcs.Values directly, for the publish hot path.
// It covers the keywords the dataset schemas use; a schema that uses any
// other keyword is not compiled and is validated by jsonschema/v6 alone.
// The two agree on validity: see FuzzCompiledAgrees.

// annotations are keywords that do not constrain values.
var annotations = map[string]bool{
	"$schema": true, "$id": true, "$defs": true, "$comment": true, "title": true, "description": true,
	"examples": true, "default": true, "deprecated": true, "readOnly": true, "writeOnly": true,
}

type typeSet uint8

const (
	tNull typeSet = 1 << iota
	tBool
	tInteger
	tNumber
	tString
	tArray
	tObject
)

var typeNames = map[string]typeSet{"null": tNull, "boolean": tBool, "integer": tInteger, "number": tNumber | tInteger, "string": tString, "array": tArray, "object": tObject}

type prop struct {
	name     string
	node     *cnode
	required bool
}

type cnode struct {
	types      typeSet // 0: any
	enum       []string
	pattern    *regexp.Regexp
	fastPat    *classSeq // nil: use pattern
	format     func(string) error
	formatName string
	minLen     int
	maxLen     int // -1: none
	bounds     []bound
	props      []prop   // sorted like object members
	required   []string // sorted
	reqOnly    []string // required names that have no property schema
	noExtra    bool
	items      *cnode
	minItems   int
	maxItems   int // -1: none
	ref        *cnode
	pureRef    bool // ref is the only constraint
}

type bound struct {
	keyword string
	limit   float64
	ok      func(v, limit float64) bool
}

var boundChecks = map[string]func(v, limit float64) bool{
	"minimum":          func(v, l float64) bool { return v >= l },
	"maximum":          func(v, l float64) bool { return v <= l },
	"exclusiveMinimum": func(v, l float64) bool { return v > l },
	"exclusiveMaximum": func(v, l float64) bool { return v < l },
}

// errUnsupported marks a schema the compiler does not cover.
type errUnsupported string

func (e errUnsupported) Error() string { return "unsupported keyword " + string(e) }

// compileFast compiles doc, or returns errUnsupported.
func compileFast(doc map[string]any) (*cnode, error) {
	defs, _ := doc["$defs"].(map[string]any)
	c := &compiler{defs: defs, compiled: map[string]*cnode{}}
	return c.compile(doc)
}

// compiler compiles one document; $defs are compiled once each.
type compiler struct {
	defs     map[string]any
	compiled map[string]*cnode
}

func (c *compiler) compile(s map[string]any) (*cnode, error) {
	n := &cnode{maxLen: -1, maxItems: -1}
	for k, v := range s {
		var err error
		switch {
		case annotations[k] || strings.HasPrefix(k, "x-"):
		case k == "required" || k == "additionalProperties" || k == "properties" || k == "items" || k == "$ref":
			err = c.structural(n, k, v)
		default:
			err = c.valueKeyword(n, k, v)
		}
		if err != nil {
			return nil, err
		}
	}
	n.pureRef = n.ref != nil && n.onlyRef()
	for _, r := range n.required {
		i := slices.IndexFunc(n.props, func(p prop) bool { return p.name == r })
		if i < 0 {
			n.reqOnly = append(n.reqOnly, r)
			continue
		}
		n.props[i].required = true
	}
	return n, nil
}

// valueKeyword compiles a keyword that checks a value itself: its type,
// enum, pattern, format, length, number of items or bounds.
func (c *compiler) valueKeyword(n *cnode, k string, v any) error {
	switch {
	case k == "type":
		switch t := v.(type) {
		case string:
			n.types = typeNames[t]
		case []any:
			for _, e := range t {
				name, _ := e.(string)
				n.types |= typeNames[name]
			}
		}
		if n.types == 0 {
			return errUnsupported("type " + fmt.Sprint(v))
		}
	case k == "enum":
		vals, ok := v.([]any)
		if !ok {
			return errUnsupported("enum")
		}
		for _, e := range vals {
			s, ok := e.(string)
			if !ok {
				return errUnsupported("enum of non-strings")
			}
			n.enum = append(n.enum, s)
		}
	case k == "pattern":
		re, err := regexp.Compile(fmt.Sprint(v))
		if err != nil {
			return errUnsupported("pattern")
		}
		n.pattern = re
		if q, ok := compileClassSeq(fmt.Sprint(v)); ok {
			n.fastPat = q
		}
	case k == "format":
		f, err := formatChecker(fmt.Sprint(v))
		if err != nil {
			return err
		}
		n.format, n.formatName = f, fmt.Sprint(v)
	case k == "minLength" || k == "maxLength" || k == "minItems" || k == "maxItems":
		i, err := strconv.Atoi(fmt.Sprint(v))
		if err != nil {
			return errUnsupported(k)
		}
		switch k {
		case "minLength":
			n.minLen = i
		case "maxLength":
			n.maxLen = i
		case "minItems":
			n.minItems = i
		case "maxItems":
			n.maxItems = i
		}
	case boundChecks[k] != nil:
		f, err := strconv.ParseFloat(fmt.Sprint(v), 64)
		if err != nil {
			return errUnsupported(k)
		}
		n.bounds = append(n.bounds, bound{k, f, boundChecks[k]})
	default:
		return errUnsupported(k)
	}
	return nil
}

// structural compiles a keyword about an object's or array's members:
// required, additionalProperties, properties, items, or a $ref to $defs.
func (c *compiler) structural(n *cnode, k string, v any) error {
	switch k {
	case "required":
		for _, r := range v.([]any) {
			n.required = append(n.required, fmt.Sprint(r))
		}
		slices.SortFunc(n.required, jcs.CompareKeys)
	case "additionalProperties":
		if b, ok := v.(bool); !ok || b {
			return errUnsupported("additionalProperties other than false")
		}
		n.noExtra = true
	case "properties":
		for name, ps := range v.(map[string]any) {
			pm, ok := ps.(map[string]any)
			if !ok {
				return errUnsupported("boolean property schema")
			}
			child, err := c.compile(pm)
			if err != nil {
				return err
			}
			n.props = append(n.props, prop{name: name, node: child})
		}
		slices.SortFunc(n.props, func(a, b prop) int { return jcs.CompareKeys(a.name, b.name) })
	case "items":
		im, ok := v.(map[string]any)
		if !ok {
			return errUnsupported("items")
		}
		child, err := c.compile(im)
		if err != nil {
			return err
		}
		n.items = child
	case "$ref":
		ref, err := c.ref(fmt.Sprint(v))
		if err != nil {
			return err
		}
		n.ref = ref
	}
	return nil
}

// ref compiles the definition a "#/$defs/NAME" reference names, once; a
// recursive reference gets the node being compiled.
func (c *compiler) ref(ref string) (*cnode, error) {
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	d, found := c.defs[name].(map[string]any)
	if !ok || !found {
		return nil, errUnsupported("$ref " + ref)
	}
	if n, done := c.compiled[name]; done {
		return n, nil
	}
	n := &cnode{} // placed first, so a recursive $ref ends here
	c.compiled[name] = n
	built, err := c.compile(d)
	if err != nil {
		return nil, err
	}
	*n = *built
	return n, nil
}

// validate checks v at path against n.
func (n *cnode) validate(v *jcs.Value, path []string) error {
	if n.ref != nil {
		if err := n.ref.validate(v, path); err != nil {
			return err
		}
	}
	if n.types != 0 && !n.types.has(v) {
		return fail(path, "got %s, want %s", kindName(v), n.types)
	}
	if n.enum != nil && (v.Kind != jcs.String || !slices.Contains(n.enum, v.Str)) {
		return fail(path, "value must be one of %s", quoteAll(n.enum))
	}
	switch v.Kind {
	case jcs.String:
		return n.validateString(v.Str, path)
	case jcs.Number:
		if len(n.bounds) == 0 {
			return nil
		}
		f, tiny := numberValue(v.Str)
		for _, b := range n.bounds {
			ok := b.ok(f, b.limit)
			if tiny != 0 && b.limit == 0 {
				ok = b.ok(float64(tiny), 0) // a tiny value has the sign of its literal
			}
			if !ok {
				return fail(path, "%s: got %s, want %s %v", b.keyword, v.Str, b.keyword, b.limit)
			}
		}
	case jcs.Array:
		items := v.Items()
		if len(items) < n.minItems || (n.maxItems >= 0 && len(items) > n.maxItems) {
			return fail(path, "%d items, want between %d and %d", len(items), n.minItems, n.maxItems)
		}
		if n.items != nil {
			for i := range items {
				if err := n.items.validate(&items[i], append(path, strconv.Itoa(i))); err != nil {
					return err
				}
			}
		}
	case jcs.Object:
		return n.validateObject(v, path)
	}
	return nil
}

func (n *cnode) validateString(s string, path []string) error {
	// A string of b bytes has between b/4 and b characters: count them only
	// when that range straddles a bound.
	if n.minLen > len(s)/4 || n.maxLen >= 0 && n.maxLen < len(s) {
		l := utf8.RuneCountInString(s)
		if l < n.minLen {
			return fail(path, "minLength: got %d, want %d", l, n.minLen)
		}
		if n.maxLen >= 0 && l > n.maxLen {
			return fail(path, "maxLength: got %d, want %d", l, n.maxLen)
		}
	}
	if n.pattern != nil && !n.matchPattern(s) {
		return fail(path, "'%s' does not match pattern '%s'", s, n.pattern)
	}
	if n.format != nil {
		if err := n.format(s); err != nil {
			return fail(path, "'%s' is not valid %s", s, n.formatName)
		}
	}
	return nil
}

// validateObject walks the object's members and the schema's properties
// together, once: both are sorted in the same order.
func (n *cnode) validateObject(v *jcs.Value, path []string) error {
	members, props := v.Members(), n.props
	mi, pi := 0, 0
	for mi < len(members) || pi < len(props) {
		var c int
		switch {
		case mi == len(members):
			c = 1
		case pi == len(props):
			c = -1
		default:
			c = jcs.CompareKeys(members[mi].Key, props[pi].name)
		}
		switch {
		case c < 0: // a member the schema does not name
			if n.noExtra {
				return fail(path, "additional property '%s' is not allowed", members[mi].Key)
			}
			mi++
		case c > 0: // a property the object lacks
			if props[pi].required {
				return fail(path, "missing property '%s'", props[pi].name)
			}
			pi++
		default:
			if err := props[pi].node.validate(&members[mi].Value, append(path, members[mi].Key)); err != nil {
				return err
			}
			mi++
			pi++
		}
	}
	for _, req := range n.reqOnly {
		if _, found := slices.BinarySearchFunc(members, req, func(m jcs.Member, k string) int { return jcs.CompareKeys(m.Key, k) }); !found {
			return fail(path, "missing property '%s'", req)
		}
	}
	return nil
}

func (t typeSet) has(v *jcs.Value) bool {
	switch v.Kind {
	case jcs.Null:
		return t&tNull != 0
	case jcs.Bool:
		return t&tBool != 0
	case jcs.String:
		return t&tString != 0
	case jcs.Array:
		return t&tArray != 0
	case jcs.Object:
		return t&tObject != 0
	}
	if t&tNumber != 0 {
		return true
	}
	return t&tInteger != 0 && isIntegerLiteral(v.Str)
}

func (t typeSet) String() string {
	var names []string
	for _, name := range []string{"null", "boolean", "integer", "number", "string", "array", "object"} {
		if t&typeNames[name] == typeNames[name] && !(name == "integer" && t&tNumber != 0) {
			names = append(names, name)
		}
	}
	return strings.Join(names, " or ")
}

func kindName(v *jcs.Value) string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[v.Kind]
}

func quoteAll(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = "'" + x + "'"
	}
	return strings.Join(q, ", ")
}

func fail(path []string, format string, args ...any) error {
	return &FieldError{Field: fieldPath(path), Msg: fmt.Sprintf(format, args...)}
}

// isIntegerLiteral reports whether a JSON number literal denotes an
// integer, exactly (as jsonschema/v6's big.Rat does), whatever its size:
// "1e400" is an integer, "1.5" and "1e-400" are not, "100e-2" is.
func isIntegerLiteral(s string) bool {
	s = strings.TrimPrefix(s, "-")
	mant, exp, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	trimmed := strings.TrimRight(digits, "0")
	if trimmed == "" {
		return true // zero
	}
	zeros := len(digits) - len(trimmed)
	e := 0
	if hasExp {
		exp = strings.TrimPrefix(exp, "+")
		neg := strings.HasPrefix(exp, "-")
		exp = strings.TrimLeft(strings.TrimPrefix(exp, "-"), "0")
		if len(exp) > 9 {
			return !neg // astronomically large or small
		}
		e, _ = strconv.Atoi(exp)
		if neg {
			e = -e
		}
	}
	return e-len(frac)+zeros >= 0
}

// numberValue parses a number for comparison with finite limits: a value
// too large is ±Inf, one too small is ±0 with its sign in tiny.
func numberValue(s string) (f float64, tiny int) {
	if n, ok := jcs.ShortInteger(s); ok {
		return float64(n), 0 // exact: |n| < 2^53
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && f == 0 {
		if strings.HasPrefix(s, "-") {
			return 0, -1
		}
		return 0, 1
	}
	return f, 0
}

func (n *cnode) matchPattern(s string) bool {
	if n.fastPat != nil {
		if m, ok := n.fastPat.match(s); ok {
			return m
		}
	}
	return n.pattern.MatchString(s)
}
