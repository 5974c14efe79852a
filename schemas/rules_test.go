package schemas_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/schemas"
)

// A schema of the registry names itself, and gives a policy attribute of
// each Cedar type.
const phyto = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Phytosanitary certificate",
  "x-caravan-schema": {"id": "phytosanitary-certificate", "version": "1.0"},
  "type": "object",
  "additionalProperties": false,
  "required": ["certificate_id", "commodity", "issued_at"],
  "properties": {
    "certificate_id": {"type": "string"},
    "commodity": {"type": "string", "x-caravan-policy-attribute": true},
    "issued_at": {"type": "string", "format": "date-time", "x-caravan-policy-attribute": true},
    "quarantine_pest_free": {"type": "boolean", "x-caravan-policy-attribute": true},
    "lot_count": {"type": "integer", "minimum": 1, "x-caravan-policy-attribute": true},
    "treatments": {"type": "array", "items": {"type": "string"}, "x-caravan-policy-attribute": true},
    "inspector": {"type": "object", "properties": {"name": {"type": "string", "x-caravan-sensitive": true}}}
  }
}`

func TestCompileMapsAttributesOntoCedar(t *testing.T) {
	s, err := schemas.Compile([]byte(phyto))
	if err != nil {
		t.Fatal(err)
	}
	if s.Ref() != "phytosanitary-certificate@1.0" || len(s.Sensitive) != 1 || s.Sensitive[0] != "inspector.name" {
		t.Fatalf("%s, sensitive %v", s.Ref(), s.Sensitive)
	}
	want := map[string]schemas.AttrType{"commodity": schemas.AttrString, "issued_at": schemas.AttrDatetime,
		"quarantine_pest_free": schemas.AttrBool, "lot_count": schemas.AttrLong, "treatments": schemas.AttrStringSet}
	for _, a := range s.Attributes {
		if want[a.Name] != a.Type {
			t.Errorf("%s: %s, want %s", a.Name, a.Type, want[a.Name])
		}
		delete(want, a.Name)
	}
	if len(want) != 0 {
		t.Errorf("missing attributes %v", want)
	}
}

// Each rule refuses with the JSON pointer of what breaks it.
func TestCompileRefusesWithThePointer(t *testing.T) {
	for _, c := range []struct{ name, old, new, pointer, msg string }{
		{"number attribute", `"lot_count": {"type": "integer"`, `"lot_count": {"type": "number"`, "/properties/lot_count", "no Cedar equivalent"},
		{"object attribute", `"inspector": {"type": "object",`, `"inspector": {"type": "object", "x-caravan-policy-attribute": true,`, "/properties/inspector", "no Cedar equivalent"},
		{"array of integers", `"items": {"type": "string"}`, `"items": {"type": "integer"}`, "/properties/treatments", "set of strings"},
		{"integer beyond Long", `"minimum": 1,`, `"minimum": -1e30,`, "/properties/lot_count", "Long range"},
		{"nested attribute", `"name": {"type": "string", "x-caravan-sensitive": true}`, `"name": {"type": "string", "x-caravan-policy-attribute": true}`,
			"/properties/inspector/properties/name/x-caravan-policy-attribute", "top-level"},
		{"sensitive attribute", `"commodity": {"type": "string",`, `"commodity": {"type": "string", "x-caravan-sensitive": true,`, "/properties/commodity", "sensitive"},
		{"external $ref", `"certificate_id": {"type": "string"}`, `"certificate_id": {"$ref": "https://example.org/id.json"}`, "/properties/certificate_id/$ref", "outside the document"},
		{"not JSON Schema", `"certificate_id": {"type": "string"}`, `"certificate_id": {"type": 5}`, "/properties/certificate_id/type", "JSON Schema 2020-12"},
		{"bad version", `"version": "1.0"`, `"version": "one"`, "/x-caravan-schema", "not a version"},
		{"a $ref loop", `"inspector": {"type": "object",`, `"inspector": {"$ref": "#/$defs/a"}, "lot": {"type": "object",`,
			"/$defs/a/$ref", "leads back to itself"},
		{"a $ref to itself", `"certificate_id": {"type": "string"}`, `"certificate_id": {"$ref": "#/properties/certificate_id"}`,
			"/properties/certificate_id/$ref", "leads back to itself"},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := strings.Replace(phyto, c.old, c.new, 1)
			if c.name == "a $ref loop" {
				doc = strings.Replace(doc, `"title":`, `"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "title":`, 1)
			}
			if doc == phyto {
				t.Fatal("the case changes nothing")
			}
			_, err := schemas.Compile([]byte(doc))
			var le *schemas.LintError
			if !errors.As(err, &le) || !errors.Is(err, schemas.ErrInvalid) {
				t.Fatalf("Compile: %v, want a LintError", err)
			}
			for _, p := range le.Problems {
				if p.Pointer == c.pointer && strings.Contains(p.Msg, c.msg) {
					return
				}
			}
			t.Fatalf("problems %v, want one at %s saying %q", le.Problems, c.pointer, c.msg)
		})
	}
}

// Whatever document arrives in a registration, Compile answers without
// panicking; what it accepts compiles again from its canonical form to the
// same schema, and is compatible with itself.
func FuzzCompile(f *testing.F) {
	f.Add([]byte(phyto))
	for _, d := range schemas.DemoDocuments() {
		f.Add(d.Data)
	}
	f.Add([]byte(`{"type":"object","properties":{"n":{"type":"integer","maximum":1e400,"x-caravan-policy-attribute":true}}}`))
	f.Add([]byte(`{"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/a"}}}`))
	f.Add([]byte(`{"$ref":"https://example.com/s.json"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := schemas.Compile(data)
		if err != nil {
			var le *schemas.LintError
			if !errors.As(err, &le) || len(le.Problems) == 0 {
				t.Fatalf("an error that is not a lint error with problems: %v", err)
			}
			return
		}
		again, err := schemas.Compile(s.Canonical)
		if err != nil || again.CID != s.CID || strings.Join(again.PolicyAttributes, ",") != strings.Join(s.PolicyAttributes, ",") {
			t.Fatalf("the canonical form compiles differently: %v", err)
		}
		// Checking values against what Compile accepted always ends.
		for _, text := range []string{`{}`, `[]`, `"x"`, `1`, `null`, `{"a":[{"b":1}]}`} {
			v, _ := jcs.ParseValue([]byte(text))
			_ = s.ValidateValue(&v)
			_ = s.AcceptsCanonical([]byte(text))
		}
		if err := schemas.Compatible(s, again); err != nil {
			t.Fatalf("not compatible with itself: %v", err)
		}
	})
}
