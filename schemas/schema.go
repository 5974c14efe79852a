// Package schemas is how a consortium describes its records: dataset
// schemas are JSON Schema 2020-12 documents, registered by their owners as
// signed statements and held by every gateway in a Registry. Compile checks
// a document against the registry's rules (schemas/registry.md), each
// problem at its JSON pointer; a compiled Schema validates records, with a
// validator compiled for the keywords it covers (compiled.go) and
// jsonschema/v6 for the rest. The registry generates the Cedar schema that
// policies are checked against (cedar.go).
//
// Two extension keywords, which validators ignore, give properties a
// meaning:
//
//   - "x-caravan-policy-attribute": true on a top-level property exposes its
//     value to policies as an attribute of the record, with the Cedar type
//     its JSON type maps onto (string, boolean, integer, date-time string,
//     array of strings);
//   - "x-caravan-sensitive": true marks personal or sensitive data: never a
//     policy attribute, so it never enters decisions, explanations or the
//     journal.
//
// A schema's CID is the CID (json codec, sha2-256) of its RFC 8785
// canonical form, so a manifest pins the exact schema its records were
// checked with. The demo's four schemas are embedded (demo.go) for devnet
// to register and for the offline tools.
package schemas

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/internal/jcs"
)

// MaxDocument bounds a schema document: it travels in a signed statement.
const MaxDocument = 48 << 10

// Schema is one compiled dataset schema.
type Schema struct {
	Name    string  // its registry name, e.g. "customs-declaration"
	Version Version // e.g. 1.0
	Owner   string  // the org that registered it; "" for a document not registered
	// Created is when the owner signed its registration (zero for a
	// document not registered): the registry's order (Registry).
	Created time.Time
	// Title and Description are the document's own.
	Title, Description string
	CID                cid.Cid // of the canonical document
	// Attributes are the policy attributes with their Cedar types, sorted
	// by name; PolicyAttributes are their names.
	Attributes       []Attribute
	PolicyAttributes []string
	// Sensitive are the paths (e.g. "declarant.tax_id",
	// "directors[].name") of properties marked x-caravan-sensitive, sorted.
	Sensitive []string
	// Canonical is the schema document in RFC 8785 form.
	Canonical []byte

	compiled *jsonschema.Schema
	fast     *cnode      // nil if the schema uses a keyword compileFast lacks
	fallback string      // why fast is nil
	typed    []Attribute // the policy attributes that not every valid value fits in Cedar
	cost     *costModel  // nil if validation is linear in the record
}

// Ref returns "NAME@MAJOR.MINOR".
func (s *Schema) Ref() string { return s.Name + "@" + s.Version.String() }

// Label returns "OWNER/NAME@MAJOR.MINOR", or Ref for a schema no org
// registered.
func (s *Schema) Label() string {
	if s.Owner == "" {
		return s.Ref()
	}
	return s.Owner + "/" + s.Ref()
}

// Compile checks a schema document (schemas/registry.md) and compiles it.
// Its name and version are those of its "x-caravan-schema" keyword, if it
// has one; the registry sets them otherwise. Every problem found is in the
// *LintError, each at its JSON pointer.
func Compile(data []byte) (*Schema, error) {
	fail := func(ptr, format string, args ...any) (*Schema, error) {
		return nil, &LintError{Problems: []Problem{{ptr, fmt.Sprintf(format, args...)}}}
	}
	if len(data) > MaxDocument {
		return fail("", "the document is %d bytes; a schema document is at most %d", len(data), MaxDocument)
	}
	parsed, err := jcs.Parse(data)
	if err != nil {
		return fail("", "not strict JSON: %v", err)
	}
	doc, ok := parsed.(map[string]any)
	if !ok {
		return fail("", "a schema must be a JSON object")
	}
	canonical, err := jcs.Append(nil, parsed)
	if err != nil {
		return fail("", "%v", err)
	}
	attrs, probs := lint(doc)
	s := &Schema{CID: cids.OfJSON(canonical), Canonical: canonical, Attributes: attrs}
	if s.Name, s.Version, err = defaultName(doc); err != nil {
		probs = append(probs, Problem{pointer(KeywordSchema), err.Error()})
	}
	if len(probs) == 0 {
		if s.compiled, err = compileJSONSchema(doc); err != nil {
			probs = append(probs, metaProblems(err)...)
		}
	}
	if len(probs) > 0 {
		return nil, &LintError{Problems: probs}
	}
	if s.fast, err = compileFast(doc); err != nil { // an unsupported keyword: jsonschema/v6 alone
		s.fallback = err.Error()
	}
	s.Title, _ = doc["title"].(string)
	s.Description, _ = doc["description"].(string)
	for _, a := range attrs {
		s.PolicyAttributes = append(s.PolicyAttributes, a.Name)
		if a.Type == AttrLong || a.Type == AttrDatetime {
			s.typed = append(s.typed, a)
		}
	}
	defs, _ := doc["$defs"].(map[string]any)
	walked := &walkBudget{left: maxWalk}
	collectSensitive(doc, defs, "", &s.Sensitive, 0, walked)
	if walked.left < 0 {
		return nil, &LintError{Problems: []Problem{{"", fmt.Sprintf("%v: its properties and items reach more than %d subschemas through $refs (a $defs entry whose properties refer to the next, many deep, multiplies); simplify the document", ErrTooComplex, maxWalk)}}}
	}
	if s.cost, err = newCostModel(doc); err != nil {
		return nil, &LintError{Problems: []Problem{{"", err.Error()}}}
	}
	slices.Sort(s.Sensitive)
	s.Sensitive = slices.Compact(s.Sensitive)
	return s, nil
}

// defaultName reads the document's x-caravan-schema keyword, if any.
func defaultName(doc map[string]any) (string, Version, error) {
	v, ok := doc[KeywordSchema]
	if !ok {
		return "", Version{}, nil
	}
	meta, _ := v.(map[string]any)
	name, _ := meta["id"].(string)
	if name != "" && !ValidName(name) {
		return "", Version{}, fmt.Errorf("id %q is not a valid name (lower-case letters, digits, '.', '_', '-')", name)
	}
	var ver Version
	if raw, ok := meta["version"]; ok {
		var err error
		if ver, err = ParseVersion(fmt.Sprint(raw)); err != nil {
			return "", Version{}, fmt.Errorf("version: %v", err)
		}
	}
	return name, ver, nil
}

// documentURL is the base URI of a document without an "$id".
const documentURL = "urn:caravan:schema"

// compileJSONSchema compiles doc with jsonschema/v6, checking it against
// the 2020-12 meta-schema. Nothing is loaded from outside the document.
func compileJSONSchema(doc map[string]any) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(noLoader{})
	url := documentURL
	if id, ok := doc["$id"].(string); ok && id != "" {
		url = id
	}
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// noLoader refuses every URL: a registry schema is self-contained.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s is outside the document; a registry schema loads nothing", url)
}

// metaProblems turns jsonschema/v6's compile error into problems at the
// pointers the meta-schema names.
func metaProblems(err error) []Problem {
	var sve *jsonschema.SchemaValidationError
	if !errors.As(err, &sve) {
		return []Problem{{"", err.Error()}}
	}
	var ve *jsonschema.ValidationError
	if !errors.As(sve.Err, &ve) {
		return []Problem{{"", sve.Err.Error()}}
	}
	var out []Problem
	for _, leaf := range leaves(ve, nil) {
		p := Problem{pointer(leaf.InstanceLocation...), "not valid JSON Schema 2020-12: " + leaf.ErrorKind.LocalizedString(printer)}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// leaves collects the errors at the bottom of a validation error's tree.
func leaves(ve *jsonschema.ValidationError, out []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(ve.Causes) == 0 {
		return append(out, ve)
	}
	for _, c := range ve.Causes {
		out = leaves(c, out)
	}
	return out
}

// FieldError is a record that does not match its schema. Field is a path
// such as "items[0].hs_code" ("" for the record itself).
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

var printer = message.NewPrinter(language.English)

// Validate checks a value as jcs.Parse returns it, and that its policy
// attributes can be Cedar values (see checkCedar). The error, if any, is a
// *FieldError for the first field that is wrong.
func (s *Schema) Validate(v any) error {
	errs := s.ValidateAll(v, 1)
	if len(errs) == 0 {
		if obj, ok := v.(map[string]any); ok {
			for _, a := range s.typed {
				if fe := checkCedarAny(a, obj[a.Name]); fe != nil {
					return fe
				}
			}
		}
		return nil
	}
	return errs[0]
}

// ValidateAll checks a value as jcs.Parse returns it and returns at most
// limit of its errors, one per field that is wrong, in document order.
func (s *Schema) ValidateAll(v any, limit int) []*FieldError {
	if s.cost != nil {
		if err := s.cost.check(v); err != nil {
			return []*FieldError{err.(*FieldError)}
		}
	}
	err := s.compiled.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []*FieldError{{Msg: err.Error()}}
	}
	var out []*FieldError
	seen := map[string]bool{}
	for _, leaf := range leaves(ve, nil) {
		fe := &FieldError{Field: fieldPath(leaf.InstanceLocation), Msg: leaf.ErrorKind.LocalizedString(printer)}
		if seen[fe.Field] {
			continue
		}
		seen[fe.Field] = true
		if out = append(out, fe); len(out) == limit {
			break
		}
	}
	return out
}

// ValidateValue is Validate for a value as jcs.ParseValue returns it, with
// the compiled validator when the schema has one. Errors are *FieldError.
func (s *Schema) ValidateValue(v *jcs.Value) error {
	if s.fast == nil {
		return s.Validate(v.Any())
	}
	if err := s.fast.validate(v, make([]string, 0, 8)); err != nil {
		return err
	}
	if fe := s.checkCedar(v); fe != nil {
		return fe
	}
	return nil
}

// ValidateValueAll is ValidateValue that returns at most limit errors of
// the value, one per field: what a rejected record is told.
func (s *Schema) ValidateValueAll(v *jcs.Value, limit int) []*FieldError {
	errs := s.ValidateAll(v.Any(), limit)
	if fe := s.checkCedar(v); fe != nil && len(errs) < limit {
		errs = append(errs, fe)
	}
	return errs
}

// Compiled reports whether ValidateValue uses the compiled validator.
func (s *Schema) Compiled() bool { return s.fast != nil }

// Fallback says why ValidateValue uses jsonschema/v6 rather than the
// compiled validator (e.g. "unsupported keyword uniqueItems"), or "".
func (s *Schema) Fallback() string { return s.fallback }

func fieldPath(loc []string) string {
	var b strings.Builder
	for _, p := range loc {
		if _, err := strconv.Atoi(p); err == nil {
			b.WriteString("[" + p + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// collectSensitive walks properties, items and local $refs, recording the
// paths of properties marked x-caravan-sensitive.
func collectSensitive(node map[string]any, defs map[string]any, at string, out *[]string, depth int, b *walkBudget) {
	if depth > 16 || !b.step() {
		return
	}
	if node["x-caravan-sensitive"] == true && at != "" {
		*out = append(*out, at)
	}
	if ref, ok := node["$ref"].(string); ok && strings.HasPrefix(ref, "#/$defs/") {
		if d, ok := defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any); ok {
			collectSensitive(d, defs, at, out, depth+1, b)
		}
	}
	if props, ok := node["properties"].(map[string]any); ok {
		for name, p := range props {
			if pm, ok := p.(map[string]any); ok {
				child := name
				if at != "" {
					child = at + "." + name
				}
				collectSensitive(pm, defs, child, out, depth+1, b)
			}
		}
	}
	if items, ok := node["items"].(map[string]any); ok {
		collectSensitive(items, defs, at+"[]", out, depth+1, b)
	}
}

// TypeAt returns the JSON type ("string", "integer", "number", "boolean",
// "object", "array") of the field at path (property names from the record's
// root, "[]" for an array's items), or "" if the schema has no such field.
// Enums of strings count as "string".
func (s *Schema) TypeAt(path []string) string {
	doc, err := jcs.Parse(s.Canonical)
	if err != nil {
		return ""
	}
	root, _ := doc.(map[string]any)
	defs, _ := root["$defs"].(map[string]any)
	node := root
	for _, p := range path {
		node = resolveRef(node, defs)
		var next map[string]any
		if p == "[]" {
			next, _ = node["items"].(map[string]any)
		} else {
			props, _ := node["properties"].(map[string]any)
			next, _ = props[p].(map[string]any)
		}
		if next == nil {
			return ""
		}
		node = next
	}
	node = resolveRef(node, defs)
	if t, ok := node["type"].(string); ok {
		return t
	}
	if enum, ok := node["enum"].([]any); ok && len(enum) > 0 {
		if _, isString := enum[0].(string); isString {
			return "string"
		}
	}
	return ""
}

func resolveRef(node, defs map[string]any) map[string]any {
	for range 8 {
		ref, ok := node["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#/$defs/") {
			return node
		}
		d, ok := defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		if !ok {
			return node
		}
		node = d
	}
	return node
}
