package schemas_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/schemas"
)

func TestRegistry(t *testing.T) {
	reg, err := schemas.Demo()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"certificate-of-origin@1.0", "company-registry-extract@1.0", "customs-declaration@1.0", "shipment-event@1.0"}
	var got []string
	for _, s := range reg.All() {
		got = append(got, s.Ref())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("schemas %v, want %v", got, want)
	}
	s, err := reg.Lookup("customs-declaration")
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"customs-declaration@1", "customs-declaration@1.0"} {
		if s2, _ := reg.Lookup(ref); s2 != s {
			t.Fatalf("%s and customs-declaration give different schemas", ref)
		}
	}
	if _, err := reg.Lookup("nope"); !errors.Is(err, schemas.ErrUnknown) {
		t.Fatalf("Lookup(nope): %v", err)
	}
	if !slices.Equal(s.PolicyAttributes, []string{"classification", "declaration_type", "destination_country", "hs_chapter", "origin_country", "total_value_usd"}) {
		t.Fatalf("policy attributes %v", s.PolicyAttributes)
	}
	if !slices.Equal(s.Sensitive, []string{"consignee.tax_id", "declarant.tax_id"}) {
		t.Fatalf("sensitive %v", s.Sensitive)
	}
	if s.CID.Prefix().Codec != 0x0200 || s.CID.Version() != 1 {
		t.Fatalf("schema CID %s is not a CIDv1 json", s.CID)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	reg, _ := schemas.Demo()
	s, _ := reg.Lookup("shipment-event")
	good := `{"event_id":"6f1c9a5e-3b2d-4c1a-8e7f-0a1b2c3d4e5f","shipment_id":"SHP-KZ-000001","event_type":"departed","occurred_at":"2026-03-01T10:00:00Z","location":{"unlocode":"KZALT","name":"Altynkol"},"country":"KZ","mode":"rail","carrier":"KTZ Express","classification":"internal"}`
	cases := []struct{ name, old, new, field string }{
		{"enum", `"mode":"rail"`, `"mode":"camel"`, "mode"},
		{"nested pattern", `"unlocode":"KZALT"`, `"unlocode":"kz-alt"`, "location.unlocode"},
		{"format", `"occurred_at":"2026-03-01T10:00:00Z"`, `"occurred_at":"yesterday"`, "occurred_at"},
		{"extra property", `"carrier":"KTZ Express"`, `"carrier":"KTZ Express","colour":"red"`, ""},
	}
	v, _ := jcs.Parse([]byte(good))
	if err := s.Validate(v); err != nil {
		t.Fatalf("good record: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := jcs.Parse([]byte(strings.Replace(good, c.old, c.new, 1)))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Validate(v)
			var fe *schemas.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("Validate: %v, want a FieldError on %q", err, c.field)
			}
		})
	}
}
