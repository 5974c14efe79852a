// Package schemas is the registry of the dataset schemas a consortium
// shares: JSON Schema 2020-12 documents embedded from schemas/datasets/.
//
// Each schema carries "x-caravan-schema": {"id", "version"} and may mark
// properties with two extension keywords, which validators ignore:
//
//   - "x-caravan-policy-attribute": true on a top-level property exposes its
//     value to the policy engine as an attribute of the record;
//   - "x-caravan-sensitive": true marks personal or sensitive data, which
//     never enters the journal.
//
// A schema's CID is the CID (json codec, sha2-256) of its RFC 8785 canonical
// form, so a manifest pins the exact schema its records were checked with.
package schemas

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/ipfs/go-cid"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/internal/jcs"
)

//go:embed datasets/*.json
var datasets embed.FS

// ErrUnknown is returned by Lookup for a schema the registry does not hold.
var ErrUnknown = errors.New("unknown schema")

// Schema is one compiled dataset schema.
type Schema struct {
	ID          string // e.g. "customs-declaration"
	Version     int
	Title       string
	Description string
	CID         cid.Cid
	// PolicyAttributes are the top-level properties marked
	// x-caravan-policy-attribute, sorted.
	PolicyAttributes []string
	// Sensitive are the paths (e.g. "declarant.tax_id",
	// "directors[].name") of properties marked x-caravan-sensitive, sorted.
	Sensitive []string
	// Canonical is the schema document in RFC 8785 form.
	Canonical []byte

	compiled *jsonschema.Schema
	fast     *cnode // nil if the schema uses a keyword compileFast lacks
}

// Ref returns "ID@VERSION".
func (s *Schema) Ref() string { return s.ID + "@" + strconv.Itoa(s.Version) }

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

// Validate checks a value as jcs.Parse returns it. The error, if any, is a
// *FieldError for the first field that is wrong.
func (s *Schema) Validate(v any) error {
	err := s.compiled.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	return &FieldError{Field: fieldPath(ve.InstanceLocation), Msg: ve.ErrorKind.LocalizedString(printer)}
}

// ValidateValue checks a value as jcs.ParseValue returns it, with the
// compiled validator when the schema has one. Errors are *FieldError.
func (s *Schema) ValidateValue(v *jcs.Value) error {
	if s.fast != nil {
		return s.fast.validate(v, make([]string, 0, 8))
	}
	return s.Validate(v.Any())
}

// Compiled reports whether ValidateValue uses the compiled validator.
func (s *Schema) Compiled() bool { return s.fast != nil }

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

// Registry holds compiled schemas by id and version.
type Registry struct {
	byRef  map[string]*Schema
	latest map[string]*Schema
}

var (
	defaultOnce sync.Once
	defaultReg  *Registry
	defaultErr  error
)

// Default returns the registry of the embedded dataset schemas.
func Default() (*Registry, error) {
	defaultOnce.Do(func() { defaultReg, defaultErr = Load(datasets, "datasets") })
	return defaultReg, defaultErr
}

// Load compiles every *.json schema in dir of fsys.
func Load(fsys fs.FS, dir string) (*Registry, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	r := &Registry{byRef: map[string]*Schema{}, latest: map[string]*Schema{}}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".json" {
			continue
		}
		file := path.Join(dir, e.Name())
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, err
		}
		s, err := compile(file, data)
		if err != nil {
			return nil, err
		}
		if _, dup := r.byRef[s.Ref()]; dup {
			return nil, fmt.Errorf("%s: schema %s is defined twice", file, s.Ref())
		}
		r.byRef[s.Ref()] = s
		if cur := r.latest[s.ID]; cur == nil || s.Version > cur.Version {
			r.latest[s.ID] = s
		}
	}
	return r, nil
}

func compile(file string, data []byte) (*Schema, error) {
	doc, err := jcs.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: a schema must be a JSON object", file)
	}
	meta, _ := obj["x-caravan-schema"].(map[string]any)
	id, _ := meta["id"].(string)
	ver, err := strconv.Atoi(fmt.Sprint(meta["version"]))
	if id == "" || err != nil || ver < 1 {
		return nil, fmt.Errorf("%s: x-caravan-schema needs an id and a version >= 1", file)
	}
	canonical, err := jcs.Append(nil, doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	url, _ := obj["$id"].(string)
	if url == "" {
		return nil, fmt.Errorf("%s: $id is required", file)
	}
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	compiled, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	s := &Schema{ID: id, Version: ver, CID: cids.OfJSON(canonical), Canonical: canonical, compiled: compiled}
	s.fast, _ = compileFast(obj) // an unsupported keyword: jsonschema/v6 alone
	s.Title, _ = obj["title"].(string)
	s.Description, _ = obj["description"].(string)
	defs, _ := obj["$defs"].(map[string]any)
	props, _ := obj["properties"].(map[string]any)
	for name, p := range props {
		if pm, _ := p.(map[string]any); pm["x-caravan-policy-attribute"] == true {
			s.PolicyAttributes = append(s.PolicyAttributes, name)
		}
	}
	collectSensitive(obj, defs, "", &s.Sensitive, 0)
	sort.Strings(s.PolicyAttributes)
	slices.Sort(s.Sensitive)
	s.Sensitive = slices.Compact(s.Sensitive)
	return s, nil
}

// collectSensitive walks properties, items and local $refs, recording the
// paths of properties marked x-caravan-sensitive.
func collectSensitive(node map[string]any, defs map[string]any, at string, out *[]string, depth int) {
	if depth > 16 {
		return
	}
	if node["x-caravan-sensitive"] == true && at != "" {
		*out = append(*out, at)
	}
	if ref, ok := node["$ref"].(string); ok && strings.HasPrefix(ref, "#/$defs/") {
		if d, ok := defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any); ok {
			collectSensitive(d, defs, at, out, depth+1)
		}
	}
	if props, ok := node["properties"].(map[string]any); ok {
		for name, p := range props {
			if pm, ok := p.(map[string]any); ok {
				child := name
				if at != "" {
					child = at + "." + name
				}
				collectSensitive(pm, defs, child, out, depth+1)
			}
		}
	}
	if items, ok := node["items"].(map[string]any); ok {
		collectSensitive(items, defs, at+"[]", out, depth+1)
	}
}

// Lookup returns the schema "ID@VERSION", or the newest version of "ID".
func (r *Registry) Lookup(ref string) (*Schema, error) {
	if s, ok := r.byRef[ref]; ok {
		return s, nil
	}
	if s, ok := r.latest[ref]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknown, ref, strings.Join(r.IDs(), ", "))
}

// IDs lists the schema ids, sorted.
func (r *Registry) IDs() []string {
	var ids []string
	for id := range r.latest {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// All returns every schema, sorted by ref.
func (r *Registry) All() []*Schema {
	var out []*Schema
	for _, s := range r.byRef {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref() < out[j].Ref() })
	return out
}

// TypeAt returns the JSON type ("string", "integer", "number", "boolean",
// "object", "array") of the field at path (property names from the record's
// root), or "" if the schema has no such field. Enums of strings count as
// "string".
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
		props, _ := node["properties"].(map[string]any)
		next, ok := props[p].(map[string]any)
		if !ok {
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
