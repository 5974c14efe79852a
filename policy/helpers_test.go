package policy_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/policy"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/schemas/sample"
)

// The demo consortium's orgs, as in configs/policies/tests.yaml.
var (
	customsCN   = policy.Org{ID: "customs-cn", Name: "Khorgos Customs Office", Country: "CN", Sector: "customs", Roles: []string{"publisher"}, Groups: []string{"customs-authorities", "belt-and-road"}}
	customsKZ   = policy.Org{ID: "customs-kz", Name: "Kazakhstan State Revenue Committee", Country: "KZ", Sector: "customs", Roles: []string{"requester"}, Groups: []string{"customs-authorities", "eaeu", "belt-and-road"}}
	logisticsAZ = policy.Org{ID: "logistics-az", Name: "Caspian Freight Forwarding", Country: "AZ", Sector: "logistics", Roles: []string{"requester"}, Groups: []string{"logistics-operators", "belt-and-road"}}

	declarations = policy.Dataset{Owner: "customs-cn", Name: "declarations-2026", Schema: "customs-declaration",
		Labels: []string{"customs"}, Purposes: []string{"customs-clearance", "risk-analysis", "transit-planning"}}

	demoTime = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
)

// sampleRecords generates n records of a dataset schema, as the policy sees
// them: CID and policy attributes.
func sampleRecords(t testing.TB, schemaID string, seed uint64, n int) []policy.Record {
	t.Helper()
	reg, err := schemas.Demo()
	if err != nil {
		t.Fatal(err)
	}
	s, err := reg.Lookup(schemaID)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := policy.NewExtractor(s.PolicyAttributes)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]policy.Record, n)
	for i := range out {
		rec, err := sample.Record(schemaID, seed, i)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		canon, err := jcs.Canonicalize(raw)
		if err != nil {
			t.Fatal(err)
		}
		v, err := jcs.Parse(canon)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ex.Record(cids.OfJSON(canon).String(), v.(map[string]any))
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		out[i] = r
	}
	return out
}

// demoVocabulary is what the tests check bundles against: the demo's
// schemas.
var demoVocabulary = func() *policy.Vocabulary {
	v, err := policy.DemoVocabulary()
	if err != nil {
		panic(err)
	}
	return v
}()
