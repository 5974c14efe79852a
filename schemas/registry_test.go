package schemas_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/schemas/sample"
)

func compile(t *testing.T, doc, owner, version string) *schemas.Schema {
	t.Helper()
	s, err := schemas.Compile([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	s.Owner = owner
	if version != "" {
		if s.Version, err = schemas.ParseVersion(version); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// A minor version may only widen; what narrows, or what cannot be told,
// takes a new major version.
func TestCompatible(t *testing.T) {
	prev := compile(t, phyto, "plant-kz", "")
	for _, c := range []struct {
		name, old, new string
		ok             bool
		pointer        string
	}{
		{"optional property added", `"certificate_id": {"type": "string"},`, `"certificate_id": {"type": "string"}, "remarks": {"type": "string"},`, true, ""},
		{"description changed", `"title": "Phytosanitary certificate"`, `"title": "Phytosanitary certificate (IPPC)"`, true, ""},
		{"minimum lowered", `"minimum": 1,`, `"minimum": 0,`, true, ""},
		{"required dropped", `"required": ["certificate_id", "commodity", "issued_at"]`, `"required": ["certificate_id", "commodity"]`, true, ""},
		{"property newly required", `"required": ["certificate_id", "commodity", "issued_at"]`, `"required": ["certificate_id", "commodity", "issued_at", "lot_count"]`, false, "/required/3"},
		{"minimum raised", `"minimum": 1,`, `"minimum": 2,`, false, "/properties/lot_count/minimum"},
		{"type narrowed", `"certificate_id": {"type": "string"}`, `"certificate_id": {"type": "string", "maxLength": 8}`, false, "/properties/certificate_id/maxLength"},
		{"property removed", `"certificate_id": {"type": "string"},`, ``, false, "/properties/certificate_id"},
		{"attribute type changed", `"lot_count": {"type": "integer", "minimum": 1, "x-caravan-policy-attribute": true}`, `"lot_count": {"type": "string", "x-caravan-policy-attribute": true}`, false, "/properties/lot_count"},
		{"attribute withdrawn", `"commodity": {"type": "string", "x-caravan-policy-attribute": true}`, `"commodity": {"type": "string"}`, false, "/properties/commodity"},
		{"pattern added", `"certificate_id": {"type": "string"}`, `"certificate_id": {"type": "string", "pattern": "^[A-Z]+$"}`, false, "/properties/certificate_id/pattern"},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := strings.Replace(phyto, c.old, c.new, 1)
			if doc == phyto {
				t.Fatal("the case changes nothing")
			}
			err := schemas.Compatible(prev, compile(t, doc, "plant-kz", "1.1"))
			var le *schemas.LintError
			switch {
			case c.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !c.ok && !errors.As(err, &le):
				t.Fatalf("accepted, want a problem at %s", c.pointer)
			case !c.ok && !strings.Contains(le.Error(), c.pointer+":"):
				t.Fatalf("%v, want a problem at %s", err, c.pointer)
			}
		})
	}
}

// The owner's rules: versions rise, a minor version stays compatible (a new
// major need not), and one name means one Cedar type across the registry.
func TestRegistryCheck(t *testing.T) {
	r := schemas.NewRegistry()
	v1 := compile(t, phyto, "plant-kz", "")
	if err := r.Check(v1); err != nil {
		t.Fatal(err)
	}
	r.Add(v1)
	if err := r.Check(compile(t, phyto, "plant-kz", "1.0")); !errors.Is(err, schemas.ErrRefused) {
		t.Fatalf("the same version again: %v", err)
	}
	narrower := strings.Replace(phyto, `"minimum": 1,`, `"minimum": 5,`, 1)
	if err := r.Check(compile(t, narrower, "plant-kz", "1.1")); !errors.Is(err, schemas.ErrRefused) || !strings.Contains(err.Error(), "/properties/lot_count/minimum") {
		t.Fatalf("an incompatible minor version: %v", err)
	}
	v2 := compile(t, narrower, "plant-kz", "2.0")
	if err := r.Check(v2); err != nil {
		t.Fatalf("a new major version: %v", err)
	}
	r.Add(v2)
	clash := strings.Replace(strings.Replace(phyto, `"phytosanitary-certificate"`, `"grain-lot"`, 1), `"commodity": {"type": "string"`, `"commodity": {"type": "boolean"`, 1)
	if err := r.Check(compile(t, clash, "grain-az", "")); !errors.Is(err, schemas.ErrRefused) || !strings.Contains(err.Error(), "/properties/commodity") {
		t.Fatalf("a clashing attribute type: %v", err)
	}
}

// Lookups by name, major and exact version, and by owner when a name is
// taken by two orgs.
func TestRegistryLookup(t *testing.T) {
	r := schemas.NewRegistry()
	for _, v := range []string{"1.0", "1.1", "2.0"} {
		r.Add(compile(t, phyto, "plant-kz", v))
	}
	for ref, want := range map[string]string{
		"phytosanitary-certificate": "2.0", "phytosanitary-certificate@1": "1.1", "phytosanitary-certificate@1.0": "1.0",
		"plant-kz/phytosanitary-certificate@2": "2.0",
	} {
		s, err := r.Lookup(ref)
		if err != nil || s.Version.String() != want {
			t.Errorf("Lookup(%s): %v %v, want %s", ref, s, err, want)
		}
	}
	if _, err := r.Lookup("phytosanitary-certificate@3"); !errors.Is(err, schemas.ErrUnknown) {
		t.Errorf("an unknown major: %v", err)
	}
	r.Add(compile(t, phyto, "plant-az", "1.0"))
	if _, err := r.Lookup("phytosanitary-certificate"); !errors.Is(err, schemas.ErrAmbiguous) || !strings.Contains(err.Error(), "plant-az/phytosanitary-certificate") {
		t.Errorf("a name two orgs took: %v", err)
	}
	if s, err := r.Lookup("plant-az/phytosanitary-certificate"); err != nil || s.Owner != "plant-az" {
		t.Errorf("by owner: %v %v", s, err)
	}
}

// The Cedar schema declares every policy attribute of the registry once,
// optional, and the template's entities and actions.
func TestCedarSchemaFollowsTheRegistry(t *testing.T) {
	reg, err := schemas.Demo()
	if err != nil {
		t.Fatal(err)
	}
	r := schemas.NewRegistry()
	for _, s := range reg.All() {
		r.Add(s)
	}
	r.Add(compile(t, phyto, "plant-kz", ""))
	text := string(r.CedarSchema())
	for _, want := range []string{"total_value_usd?: Long,", "issued_at?: datetime,", "treatments?: Set<String>,", "quarantine_pest_free?: Bool,",
		"commodity?: String,  // plant-kz/phytosanitary-certificate@1.0", "action fetch appliesTo", "entity Record in [Dataset]"} {
		if !strings.Contains(text, want) {
			t.Errorf("the Cedar schema lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, "classification?: String") != 1 {
		t.Errorf("classification, which several schemas declare, is not declared once")
	}
}

// A schema with a keyword the compiled validator does not cover goes
// through jsonschema/v6 and decides every record as the compiled validator
// of the same schema without it does.
func TestFallbackValidatorAgrees(t *testing.T) {
	reg, _ := schemas.Demo()
	r := rand.New(rand.NewPCG(7, 8))
	for _, s := range reg.All() {
		doc := strings.Replace(string(s.Canonical), `{`, `{"propertyNames":{"minLength":1},`, 1)
		fallback, err := schemas.Compile([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if fallback.Compiled() || !s.Compiled() {
			t.Fatalf("%s: compiled %v, fallback compiled %v", s.Ref(), s.Compiled(), fallback.Compiled())
		}
		var buf bytes.Buffer
		sample.Write(&buf, s.Name, 200, 11, nil)
		n := 0
		for _, rec := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			for _, m := range mutations {
				data := m(r, rec)
				var p jcs.Parser
				v, err := p.Parse([]byte(data))
				if err != nil {
					continue
				}
				want, got := s.ValidateValue(&v), fallback.ValidateValue(&v)
				if (want == nil) != (got == nil) {
					t.Fatalf("%s: compiled says %v, fallback says %v, on %s", s.Ref(), want, got, data)
				}
				n++
			}
		}
		t.Logf("%s: the fallback validator agrees on %d records", s.Ref(), n)
	}
}
