package policy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/policy"
	"github.com/caravan-consortium/caravan/schemas"
)

const phytoExample = "../configs/examples/phytosanitary"

// registryWith is the demo's registry plus the schema documents given.
func registryWith(t *testing.T, docs ...[]byte) (*schemas.Registry, []*schemas.Schema) {
	t.Helper()
	reg, err := schemas.Demo()
	if err != nil {
		t.Fatal(err)
	}
	var added []*schemas.Schema
	for _, d := range docs {
		s, err := schemas.Compile(d)
		if err != nil {
			t.Fatal(err)
		}
		s.Owner = "customs-kz"
		if err := reg.Check(s); err != nil {
			t.Fatal(err)
		}
		reg.Add(s)
		added = append(added, s)
	}
	return reg, added
}

// Records of a schema that the bundle in force does not cover are decided
// like any others, and an attribute that a record lacks is absent, never an
// error: neither for the record nor for the rest of the fetch.
func TestRecordsOfAnySchemaAreDecided(t *testing.T) {
	phyto, err := os.ReadFile(filepath.Join(phytoExample, "phytosanitary-certificate.json"))
	if err != nil {
		t.Fatal(err)
	}
	colours := []byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","x-caravan-schema":{"id":"paint-batches","version":1},
		"type":"object","properties":{"colour":{"type":"string","x-caravan-policy-attribute":true}}}`)
	reg, added := registryWith(t, phyto, colours)
	vocab, err := policy.VocabularyOf(reg)
	if err != nil {
		t.Fatal(err)
	}
	demo, err := policy.Load(demoPolicies, vocab)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"no-irradiated.cedar": []byte(`@id("no-irradiated")
forbid (principal, action == Action::"fetch", resource)
when { resource has treatments && resource.treatments.contains("irradiation") };`),
	}
	if files["plant-health.cedar"], err = os.ReadFile(filepath.Join(phytoExample, "plant-health.cedar")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(demoPolicies)
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".cedar" {
			files[e.Name()], _ = os.ReadFile(filepath.Join(demoPolicies, e.Name()))
		}
	}
	plant, err := policy.Parse(files, vocab)
	if err != nil {
		t.Fatal(err)
	}

	certs := policy.Dataset{Owner: "customs-kz", Name: "phyto", Schema: "phytosanitary-certificate", Purposes: []string{"phytosanitary-control"}}
	paint := policy.Dataset{Owner: "customs-kz", Name: "paint", Schema: "paint-batches", Purposes: []string{"customs-clearance"}}
	ex, exPaint := vocab.ExtractorFor(added[0]), vocab.ExtractorFor(added[1])
	base := `"certificate_no":"PC-KZ-000001","issued_on":"2026-10-01","exporting_country":"KZ","commodity_class":"fruit",` +
		`"exporter":{"name":"x"},"items":[{"hs_code":"080810","description":"apples","net_mass_kg":1}]`
	cases := []struct {
		name     string
		bundle   *policy.Bundle
		ds       policy.Dataset
		ex       *policy.Extractor
		purpose  string
		record   string
		permit   bool
		policies string
	}{
		{"no policy covers the schema's purpose", demo, certs, ex, "phytosanitary-control",
			`{` + base + `,"destination_country":"CN","pest_free":true,"valid_until":"2029-01-01"}`, false, ""},
		{"bound for CN, pest free, no treatments", plant, certs, ex, "phytosanitary-control",
			`{` + base + `,"destination_country":"CN","pest_free":true,"valid_until":"2029-01-01"}`, true, "plant-health-importing-country"},
		{"a record without pest_free", plant, certs, ex, "phytosanitary-control",
			`{` + base + `,"destination_country":"CN","valid_until":"2029-01-01"}`, false, ""},
		{"irradiated", plant, certs, ex, "phytosanitary-control",
			`{` + base + `,"destination_country":"CN","pest_free":true,"treatments":["heat","irradiation"],"valid_until":"2029-01-01"}`, false, "no-irradiated"},
		{"expired, by the demo's guard on valid_until", plant, certs, ex, "phytosanitary-control",
			`{` + base + `,"destination_country":"CN","pest_free":true,"valid_until":"2026-01-01"}`, false, "certificate-still-valid"},
		{"bound for another country", plant, certs, ex, "phytosanitary-control",
			`{` + base + `,"destination_country":"KZ","pest_free":true,"valid_until":"2029-01-01"}`, false, ""},
		{"a schema no policy reads", demo, paint, exPaint, "customs-clearance", `{"colour":"red"}`, false, ""},
		{"an empty record of it", plant, paint, exPaint, "customs-clearance", `{}`, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.bundle.Fetch(policy.Request{Org: customsCN, Dataset: tc.ds, Purpose: tc.purpose, Time: demoTime}, nil)
			r := lazyRecord(t, tc.ex, []byte(tc.record))
			e := s.Explain(r)
			if len(e.Errors) > 0 {
				t.Fatalf("errors: %v", e.Errors)
			}
			got := s.Decide([]policy.Record{lazyRecord(t, tc.ex, []byte(tc.record))}, nil)[0]
			if got.Permit != tc.permit || e.Permit != tc.permit || strings.Join(got.Policies, ",") != tc.policies {
				t.Fatalf("decided %+v (explained %+v), want permit %v by %q", got, e.Decision, tc.permit, tc.policies)
			}
		})
	}
}
