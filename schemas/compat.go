package schemas

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/caravan-consortium/caravan/internal/jcs"
)

// Compatible reports whether next may follow prev as a minor version: every
// record valid under prev is valid under next, and policies that read
// prev's attributes read them the same way under next. It allows only
// what provably widens (schemas/registry.md): optional properties added,
// types, enums and bounds widened, required properties, patterns and
// formats dropped, annotations changed. Anything else is a problem at its
// pointer in next, and takes a new major version.
func Compatible(prev, next *Schema) error {
	p, n := parseDoc(prev.Canonical), parseDoc(next.Canonical)
	c := compat{pdefs: defsOf(p), ndefs: defsOf(n), walked: walkBudget{left: maxWalk}}
	c.node(p, n, "", 0)
	for _, a := range prev.Attributes {
		i := slices.IndexFunc(next.Attributes, func(b Attribute) bool { return b.Name == a.Name })
		switch {
		case i < 0:
			c.fail(pointer("properties", a.Name), "is no longer a policy attribute; policies that read it would break")
		case next.Attributes[i].Type != a.Type:
			c.fail(pointer("properties", a.Name), "policy attribute type %s was %s", next.Attributes[i].Type, a.Type)
		}
	}
	if len(c.probs) > 0 {
		return &LintError{Problems: c.probs}
	}
	return nil
}

func parseDoc(canonical []byte) map[string]any {
	v, _ := jcs.Parse(canonical)
	m, _ := v.(map[string]any)
	return m
}

func defsOf(doc map[string]any) map[string]any {
	d, _ := doc["$defs"].(map[string]any)
	return d
}

type compat struct {
	pdefs, ndefs map[string]any
	probs        []Problem
	walked       walkBudget
}

func (c *compat) fail(at, format string, args ...any) {
	c.probs = append(c.probs, Problem{at, fmt.Sprintf(format, args...)})
}

// keywords whose change cannot narrow what a schema accepts.
var annotationKeywords = map[string]bool{
	"title": true, "description": true, "examples": true, "default": true, "$comment": true, "deprecated": true,
	"readOnly": true, "writeOnly": true, "$id": true, "$schema": true, "$defs": true, "definitions": true,
	KeywordSchema: true, KeywordSensitive: true, KeywordPolicyAttribute: true,
}

// node checks that subschema n accepts all that p accepts.
func (c *compat) node(p, n map[string]any, at string, depth int) {
	if depth > 32 {
		c.fail(at, "too deeply nested to compare")
		return
	}
	if !c.walked.step() {
		if c.walked.left == -1 {
			c.fail(at, "%v: comparing the versions passes %d subschemas; take a new major version", ErrTooComplex, maxWalk)
		}
		return
	}
	p, n = resolveRef(p, c.pdefs), resolveRef(n, c.ndefs)
	for k, pv := range p {
		nv, inNext := n[k]
		switch {
		case annotationKeywords[k] || k == "$ref":
		case k == "type":
			if inNext && !typesWiden(pv, nv) {
				c.fail(at+pointer(k), "%v no longer allows all of %v", nv, pv)
			}
		case k == "enum":
			if inNext && !isSubset(pv, nv) {
				c.fail(at+pointer(k), "drops values that were allowed")
			}
		case k == "required":
			// checked from next's side below
		case k == "maxLength" || k == "maxItems" || k == "maximum" || k == "exclusiveMaximum" || k == "maxProperties":
			if inNext && num(nv) < num(pv) {
				c.fail(at+pointer(k), "%v is lower than %v", nv, pv)
			}
		case k == "minLength" || k == "minItems" || k == "minimum" || k == "exclusiveMinimum" || k == "minProperties":
			if inNext && num(nv) > num(pv) {
				c.fail(at+pointer(k), "%v is higher than %v", nv, pv)
			}
		case k == "pattern" || k == "format" || k == "const" || k == "multipleOf" || k == "uniqueItems":
			if inNext && !jsonEqual(pv, nv) {
				c.fail(at+pointer(k), "changed; only removing it keeps every record valid")
			}
		case k == "additionalProperties":
			if pv == false {
				continue // next may allow more
			}
			if inNext && !jsonEqual(pv, nv) {
				c.fail(at+pointer(k), "changed; it may reject properties that were allowed")
			}
		case k == "properties":
			c.properties(p, n, at, depth)
		case k == "items":
			pm, _ := pv.(map[string]any)
			nm, _ := nv.(map[string]any)
			if inNext && pm != nil && nm != nil {
				c.node(pm, nm, at+pointer(k), depth+1)
			}
		default:
			if inNext && !jsonEqual(pv, nv) {
				c.fail(at+pointer(k), "changed; whether it narrows cannot be told: take a new major version")
			}
		}
	}
	for k, nv := range n {
		if _, inPrev := p[k]; inPrev || annotationKeywords[k] || k == "$ref" || k == "properties" {
			continue
		}
		switch k {
		case "required":
			c.requiredAdded(p, nv, at)
		case "additionalProperties":
			if nv != true {
				c.fail(at+pointer(k), "added; it may reject properties that were allowed")
			}
		default:
			c.fail(at+pointer(k), "added; only annotations and optional properties may be added in a minor version")
		}
	}
	if pr, nr := p["required"], n["required"]; pr != nil && nr != nil {
		c.requiredAdded(p, nr, at)
	}
}

// properties checks each property p had, and the ones n adds.
func (c *compat) properties(p, n map[string]any, at string, depth int) {
	pp, _ := p["properties"].(map[string]any)
	np, _ := n["properties"].(map[string]any)
	for name, ps := range pp {
		ns, ok := np[name]
		if !ok {
			if n["additionalProperties"] == false {
				c.fail(at+pointer("properties", name), "removed, and additional properties are not allowed")
			}
			continue
		}
		pm, _ := ps.(map[string]any)
		nm, _ := ns.(map[string]any)
		if pm != nil && nm != nil {
			c.node(pm, nm, at+pointer("properties", name), depth+1)
		}
	}
}

// requiredAdded fails for every property that nr requires and p did not.
func (c *compat) requiredAdded(p map[string]any, nr any, at string) {
	var had []string
	for _, x := range asList(p["required"]) {
		had = append(had, fmt.Sprint(x))
	}
	for i, x := range asList(nr) {
		if !slices.Contains(had, fmt.Sprint(x)) {
			c.fail(at+pointer("required", strconv.Itoa(i)), "%v is newly required; a new property must be optional", x)
		}
	}
}

func asList(v any) []any { l, _ := v.([]any); return l }

// typesWiden reports whether type next allows every type prev does (an
// integer is also a number).
func typesWiden(prev, next any) bool {
	allowed := typeList(next)
	for _, t := range typeList(prev) {
		if !slices.Contains(allowed, t) && !(t == "integer" && slices.Contains(allowed, "number")) {
			return false
		}
	}
	return true
}

func typeList(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

func isSubset(a, b any) bool {
	for _, x := range asList(a) {
		if !slices.ContainsFunc(asList(b), func(y any) bool { return jsonEqual(x, y) }) {
			return false
		}
	}
	return true
}

func num(v any) float64 {
	f, _ := strconv.ParseFloat(fmt.Sprint(v), 64)
	return f
}

func jsonEqual(a, b any) bool {
	x, err1 := jcs.Append(nil, a)
	y, err2 := jcs.Append(nil, b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
