package policy

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cedar-policy/cedar-go/types"
	"github.com/cedar-policy/cedar-go/x/exp/schema"
	"github.com/cedar-policy/cedar-go/x/exp/schema/resolved"
	"github.com/cedar-policy/cedar-go/x/exp/schema/validate"

	"github.com/caravan-consortium/caravan/schemas"
)

// Vocabulary is what policies may say: the Cedar schema that bundles are
// checked against (strict mode) and that records' attributes are typed by.
// A gateway generates it from its schema registry
// (schemas.Registry.CedarSchema): the entities and actions of
// schemas/caravan.cedarschema, and Record's attributes, each optional.
type Vocabulary struct {
	text      []byte
	record    resolved.RecordType
	dataset   resolved.RecordType
	validator *validate.Validator
}

// NewVocabulary resolves a Cedar schema (human-readable format).
func NewVocabulary(cedarSchema []byte) (*Vocabulary, error) {
	var s schema.Schema
	s.SetFilename("caravan.cedarschema")
	if err := s.UnmarshalCedar(cedarSchema); err != nil {
		return nil, fmt.Errorf("policy: cedar schema: %w", err)
	}
	r, err := s.Resolve()
	if err != nil {
		return nil, fmt.Errorf("policy: cedar schema: %w", err)
	}
	rec, ok := r.Entities[TypeRecord]
	if !ok {
		return nil, fmt.Errorf("policy: cedar schema: no %s entity", TypeRecord)
	}
	ds := r.Entities[TypeDataset]
	return &Vocabulary{text: cedarSchema, record: rec.Shape, dataset: ds.Shape, validator: validate.New(r, validate.WithStrict())}, nil
}

// VocabularyOf is the vocabulary of a schema registry.
func VocabularyOf(r *schemas.Registry) (*Vocabulary, error) { return NewVocabulary(r.CedarSchema()) }

// DemoVocabulary is the vocabulary of the demo's schemas (schemas.Demo),
// for the offline tools when no registry is given.
var DemoVocabulary = sync.OnceValues(func() (*Vocabulary, error) {
	r, err := schemas.Demo()
	if err != nil {
		return nil, err
	}
	return VocabularyOf(r)
})

// Text is the Cedar schema, as 'caravan policy schema' prints it.
func (v *Vocabulary) Text() []byte { return slices.Clone(v.text) }

// Attributes lists Record's attributes, sorted.
func (v *Vocabulary) Attributes() []string {
	var out []string
	for name := range v.record {
		if name != attrDataset {
			out = append(out, string(name))
		}
	}
	slices.Sort(out)
	return out
}

// Extractor returns an extractor for the named attributes. Each must be
// declared on Record.
func (v *Vocabulary) Extractor(names []string) (*Extractor, error) {
	e := &Extractor{}
	for _, n := range names {
		a, ok := v.record[types.String(n)]
		if !ok || n == string(attrDataset) {
			return nil, fmt.Errorf("policy: attribute %q is not declared on Record in the Cedar schema (no schema in the registry declares it)", n)
		}
		e.fields = append(e.fields, field{name: types.String(n), typ: a.Type})
	}
	slices.SortFunc(e.fields, func(a, b field) int { return strings.Compare(string(a.name), string(b.name)) })
	e.fields = slices.CompactFunc(e.fields, func(a, b field) bool { return a.name == b.name })
	return e, nil
}

// ExtractorFor returns an extractor for the policy attributes of a dataset
// schema that the vocabulary declares with the same type. Those it does not
// (a schema registered after the vocabulary was made, or one whose
// attribute lost a type clash) are absent from the records, as a field a
// record lacks is: never an error.
func (v *Vocabulary) ExtractorFor(s *schemas.Schema) *Extractor {
	var names []string
	for _, a := range s.Attributes {
		if d, ok := v.record[types.String(a.Name)]; ok && cedarTypeName(d.Type) == string(a.Type) {
			names = append(names, a.Name)
		}
	}
	e, _ := v.Extractor(names) // every name is declared
	return e
}

// cedarTypeName writes a resolved type as schemas.AttrType writes it.
func cedarTypeName(t resolved.IsType) string {
	switch t := t.(type) {
	case resolved.StringType:
		return "String"
	case resolved.BoolType:
		return "Bool"
	case resolved.LongType:
		return "Long"
	case resolved.ExtensionType:
		return string(t)
	case resolved.SetType:
		return "Set<" + cedarTypeName(t.Element) + ">"
	}
	return fmt.Sprintf("%T", t)
}
