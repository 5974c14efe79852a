package schemas

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Extension keywords of a dataset schema.
const (
	// KeywordPolicyAttribute marks a top-level property whose value policies
	// may read, as an attribute of the record.
	KeywordPolicyAttribute = "x-caravan-policy-attribute"
	// KeywordSensitive marks personal or otherwise sensitive data: never a
	// policy attribute, so never in a decision's inputs, an explanation or
	// the journal.
	KeywordSensitive = "x-caravan-sensitive"
	// KeywordSchema names a document's default registry name and version:
	// {"id": NAME, "version": "MAJOR.MINOR"} (an integer is MAJOR.0).
	KeywordSchema = "x-caravan-schema"
)

// ErrInvalid is wrapped by every *LintError.
var ErrInvalid = errors.New("invalid dataset schema")

// Problem is one thing wrong with a schema document, at a JSON pointer
// (RFC 6901) into it; "" is the document itself.
type Problem struct {
	Pointer string
	Msg     string
}

func (p Problem) String() string {
	if p.Pointer == "" {
		return p.Msg
	}
	return p.Pointer + ": " + p.Msg
}

// LintError lists what makes a schema document unusable.
type LintError struct {
	Problems []Problem
}

func (e *LintError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (e *LintError) Unwrap() error { return ErrInvalid }

// AttrType is the Cedar type a policy attribute takes.
type AttrType string

// The JSON Schema types that map onto Cedar, and what they become.
const (
	AttrString    AttrType = "String"      // "string" (and enums of strings)
	AttrBool      AttrType = "Bool"        // "boolean"
	AttrLong      AttrType = "Long"        // "integer", within -2^63 .. 2^63-1
	AttrDatetime  AttrType = "datetime"    // "string" with "format": "date-time" or "date"
	AttrStringSet AttrType = "Set<String>" // "array" of "string" items
)

// Attribute is one policy attribute of a schema.
type Attribute struct {
	Name string
	Type AttrType
}

// pointer escapes and joins reference tokens into a JSON pointer.
func pointer(tokens ...string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return b.String()
}

// lint checks the rules of schemas/registry.md that the meta-schema does
// not: references stay inside the document, policy attributes map onto
// Cedar and are top-level, sensitive data is never a policy attribute.
func lint(doc map[string]any) ([]Attribute, []Problem) {
	var probs []Problem
	defs, _ := doc["$defs"].(map[string]any)
	walk(doc, "", func(at string, node map[string]any) {
		for _, k := range []string{"$ref", "$dynamicRef"} {
			if ref, ok := node[k].(string); ok && !strings.HasPrefix(ref, "#") {
				probs = append(probs, Problem{at + pointer(k), fmt.Sprintf("%q points outside the document; a registry schema must be self-contained (use $defs)", ref)})
			}
		}
		if refLoops(doc, at, node) {
			probs = append(probs, Problem{at + pointer("$ref"), "this $ref leads back to itself through $refs alone: it never reaches a schema, and checking a record against it would never end"})
		}
		if v, ok := node[KeywordPolicyAttribute]; ok {
			if v != true && v != false {
				probs = append(probs, Problem{at + pointer(KeywordPolicyAttribute), "must be true or false"})
			} else if v == true && !isTopLevelProperty(at) {
				probs = append(probs, Problem{at + pointer(KeywordPolicyAttribute), "only a top-level property (/properties/NAME) can be a policy attribute"})
			}
		}
		if v, ok := node[KeywordSensitive]; ok && v != true && v != false {
			probs = append(probs, Problem{at + pointer(KeywordSensitive), "must be true or false"})
		}
	})
	var attrs []Attribute
	props, _ := doc["properties"].(map[string]any)
	for name, p := range props {
		pm, _ := p.(map[string]any)
		if pm[KeywordPolicyAttribute] != true {
			continue
		}
		at := pointer("properties", name)
		if pm[KeywordSensitive] == true {
			probs = append(probs, Problem{at, "a sensitive property cannot be a policy attribute: its values would enter decisions, explanations and the journal's inputs"})
			continue
		}
		if name == "dataset" {
			probs = append(probs, Problem{at, `"dataset" is the record's own attribute in Cedar (resource.dataset); rename the property`})
			continue
		}
		t, err := cedarType(resolveRef(pm, defs), defs)
		if err != nil {
			probs = append(probs, Problem{at, "policy attribute: " + err.Error()})
			continue
		}
		attrs = append(attrs, Attribute{Name: name, Type: t})
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].Name < attrs[j].Name })
	sort.Slice(probs, func(i, j int) bool { return probs[i].Pointer < probs[j].Pointer })
	return attrs, probs
}

// isTopLevelProperty reports whether the pointer is /properties/NAME.
func isTopLevelProperty(at string) bool {
	rest, ok := strings.CutPrefix(at, "/properties/")
	return ok && rest != "" && !strings.Contains(rest, "/")
}

// cedarType is the Cedar type of a property's values, or why it has none.
func cedarType(p, defs map[string]any) (AttrType, error) {
	typ, _ := p["type"].(string)
	if typ == "" {
		if enum, ok := p["enum"].([]any); ok && len(enum) > 0 && allStrings(enum) {
			typ = "string"
		}
	}
	switch typ {
	case "string":
		if p["format"] == "date-time" || p["format"] == "date" {
			return AttrDatetime, nil
		}
		return AttrString, nil
	case "boolean":
		return AttrBool, nil
	case "integer":
		for _, k := range []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} {
			if b, ok := p[k]; ok {
				f, err := strconv.ParseFloat(fmt.Sprint(b), 64)
				if err == nil && (f < math.MinInt64 || f > math.MaxInt64) {
					return "", fmt.Errorf("%s %v is outside Cedar's Long range (-2^63 .. 2^63-1)", k, b)
				}
			}
		}
		return AttrLong, nil
	case "array":
		items, _ := p["items"].(map[string]any)
		if t, err := cedarType(resolveRef(items, defs), defs); err == nil && t == AttrString {
			return AttrStringSet, nil
		}
		return "", errors.New(`an array maps onto Cedar only as a set of strings ("items": {"type": "string"})`)
	case "number":
		return "", errors.New(`type "number" has no Cedar equivalent (Cedar has Long integers, not floating point): use "integer", or a string`)
	case "":
		return "", errors.New(`give the property a single "type": string, boolean, integer, or an array of strings`)
	}
	return "", fmt.Errorf("type %q has no Cedar equivalent: use string, boolean, integer (or a date-time string), or an array of strings", typ)
}

func allStrings(xs []any) bool {
	for _, x := range xs {
		if _, ok := x.(string); !ok {
			return false
		}
	}
	return true
}

// walk calls fn with every subschema of doc (every object reachable through
// the keywords that hold schemas) and its pointer.
func walk(node map[string]any, at string, fn func(at string, node map[string]any)) {
	fn(at, node)
	for k, v := range node {
		switch k {
		case "properties", "patternProperties", "$defs", "definitions", "dependentSchemas":
			m, _ := v.(map[string]any)
			for name, sub := range m {
				if sm, ok := sub.(map[string]any); ok {
					walk(sm, at+pointer(k, name), fn)
				}
			}
		case "items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
			"unevaluatedItems", "unevaluatedProperties", "additionalItems":
			if sm, ok := v.(map[string]any); ok {
				walk(sm, at+pointer(k), fn)
			}
		case "allOf", "anyOf", "oneOf", "prefixItems":
			xs, _ := v.([]any)
			for i, sub := range xs {
				if sm, ok := sub.(map[string]any); ok {
					walk(sm, at+pointer(k, strconv.Itoa(i)), fn)
				}
			}
		}
	}
}

// refLoops reports whether following $ref from node (at its pointer) comes
// back to it without passing through anything but $refs: a schema that
// validates a value by validating the same value against itself.
func refLoops(doc map[string]any, at string, node map[string]any) bool {
	seen := map[string]bool{at: true}
	for range 64 {
		ref, ok := node["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#") {
			return false
		}
		target := strings.TrimPrefix(ref, "#")
		if seen[target] {
			return target == at
		}
		seen[target] = true
		if node, ok = resolvePointer(doc, target).(map[string]any); !ok {
			return false
		}
	}
	return true // a chain this long is refused too
}

// resolvePointer returns the value at a JSON pointer (RFC 6901) into doc,
// or nil.
func resolvePointer(doc map[string]any, ptr string) any {
	var v any = doc
	if ptr == "" {
		return v
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch x := v.(type) {
		case map[string]any:
			v = x[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}
