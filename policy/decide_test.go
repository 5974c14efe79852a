package policy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/policy"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/schemas/sample"
)

func TestDemoDecisionTable(t *testing.T) {
	b := loadDemo(t)
	tbl, err := policy.LoadTable(filepath.Join(demoPolicies, "tests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tbl.Cases) < 20 {
		t.Fatalf("%d cases", len(tbl.Cases))
	}
	for _, r := range tbl.Run(b) {
		t.Run(r.Case.Name, func(t *testing.T) {
			if !r.Pass() {
				t.Error(r)
			}
		})
	}
}

func TestTableReportsMismatchAsDiff(t *testing.T) {
	b := loadDemo(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "cases.yaml")
	writeFile(t, path, `time: 2026-11-27T10:00:00Z
orgs:
  logistics-az: {name: L, country: AZ, sector: logistics, roles: [], groups: [logistics-operators]}
datasets:
  d: {owner: customs-cn, name: d, schema: customs-declaration, labels: [], purposes: [transit-planning]}
cases:
  - name: wrong on purpose
    org: logistics-az
    dataset: d
    purpose: transit-planning
    released_today: 500
    record: {declaration_type: transit, classification: public}
    expect: permit
    policies: [logistics-transit-planning]
`)
	tbl, err := policy.LoadTable(path)
	if err != nil {
		t.Fatal(err)
	}
	r := tbl.Run(b)[0]
	if r.Pass() {
		t.Fatal("a wrong expectation passed")
	}
	want := "FAIL  line 7 \"wrong on purpose\"\n" +
		"      - want: permit by [logistics-transit-planning]\n" +
		"      + got:  deny by [logistics-daily-volume]"
	if r.String() != want {
		t.Errorf("diff:\n%s\nwant:\n%s", r, want)
	}
}

func TestTableErrorsNameLineAndField(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cases.yaml")
	writeFile(t, path, "time: 2026-11-27T10:00:00Z\norgs: {}\ndatasets: {}\ncases:\n  - name: x\n    org: nobody\n    expect: permit\n")
	_, err := policy.LoadTable(path)
	if err == nil || err.Error() != path+`:5: cases[0]: org "nobody" is not in the table's orgs` {
		t.Errorf("error = %v", err)
	}
	writeFile(t, path, "cases:\n  - name: x\n    expct: permit\n")
	_, err = policy.LoadTable(path)
	if err == nil || err.Error() != path+`:3: unknown field "expct" (misspelt, or not valid here)` {
		t.Errorf("error = %v", err)
	}
}

// TestMemoAgreesWithDirect is the proof that memoization is sound: on random
// records, random requests and random released_today values, across the demo
// bundle and bundles built to stress the key analysis, the memoized decision
// equals Cedar's direct one, policies included.
func TestMemoAgreesWithDirect(t *testing.T) {
	bundles := map[string]*policy.Bundle{"demo": loadDemo(t)}
	for name, src := range stressPolicies {
		b, err := policy.Parse(map[string][]byte{name + ".cedar": []byte(src)}, demoVocabulary)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		bundles[name] = b
	}
	rng := rand.New(rand.NewPCG(1, 2))
	orgs := []policy.Org{customsCN, customsKZ, logisticsAZ}
	purposes := []string{"customs-clearance", "risk-analysis", "transit-planning", "due-diligence", "marketing"}
	n := 20000
	if testing.Short() {
		n = 4000
	}
	for name, b := range bundles {
		t.Run(name, func(t *testing.T) {
			memoized := 0
			for round := range 12 {
				req := policy.Request{
					Org: orgs[rng.IntN(len(orgs))], Dataset: declarations, Purpose: purposes[rng.IntN(len(purposes))],
					Time:          demoTime.Add(time.Duration(rng.IntN(3*365*24)-2*365*24) * time.Hour),
					ReleasedToday: int64(rng.IntN(1100)),
				}
				s := b.Fetch(req, nil)
				recs := randomRecords(rng, n/12)
				start := req.ReleasedToday
				got := s.Decide(recs, nil)
				// Replay directly, with the counter the session had before each record.
				counter := start
				for i, r := range recs {
					direct := policy.DecideDirect(b.Fetch(policy.Request{Org: req.Org, Dataset: req.Dataset, Purpose: req.Purpose,
						Time: req.Time, ReleasedToday: counter}, nil), r)
					if got[i].Permit != direct.Permit || !slices.Equal(got[i].Policies, direct.Policies) {
						t.Fatalf("round %d record %d %v (released_today %d): memo %+v, direct %+v",
							round, i, r.Attrs, counter, got[i], direct)
					}
					if direct.Permit {
						counter++
					}
				}
				memoized += len(recs)
			}
			t.Logf("%d decisions agree; memo on: %v", memoized, policy.MemoOn(b))
		})
	}
}

// stressPolicies exercise the key analysis: thresholds on several attributes
// and on released_today, raw use of a Long, identity-dependent policies.
var stressPolicies = map[string]string{
	"thresholds": `
@id("t1") permit (principal, action == Action::"fetch", resource)
when { resource has total_value_usd && resource.total_value_usd > 100 && resource.total_value_usd <= 5000 };
@id("t2") forbid (principal, action == Action::"fetch", resource)
when { resource has total_value_usd && 4000 == resource.total_value_usd };
@id("t3") forbid (principal, action == Action::"fetch", resource) when { context.released_today != 7 && context.released_today > 300 };
@id("t4") permit (principal, action == Action::"fetch", resource)
when { resource has classification && resource.classification like "re*" && context.released_today < 1000 };
`,
	"raw-long": `
@id("r1") permit (principal, action == Action::"fetch", resource)
when { resource has total_value_usd && resource.total_value_usd * 2 - 1 > 7000 && resource.total_value_usd + 5 < 1000000 };
`,
	"raw-counter": `
@id("c1") permit (principal, action == Action::"fetch", resource)
when { context.released_today + 10 < 400 };
@id("c2") forbid (principal, action == Action::"fetch", resource)
when { context has released_today && resource has origin_country && resource.origin_country == principal.country };
`,
	"identity": `
@id("i1") permit (principal, action == Action::"fetch", resource)
when { resource == Record::"rec-1" || resource in Dataset::"customs-cn/declarations-2026" };
`,
	"equality": `
@id("e1") permit (principal, action == Action::"fetch", resource)
when { resource has origin_country && resource.origin_country != principal.country && resource has classification && resource.classification == "public" };
@id("e2") forbid (principal, action == Action::"fetch", resource)
when { resource has destination_country && principal.country == resource.destination_country && context.purpose == "marketing" };
@id("e3") permit (principal, action == Action::"fetch", resource)
when { resource has declaration_type && resource.declaration_type == context.purpose || resource has destination_country && resource.destination_country == "TR" };
@id("e4") permit (principal, action == Action::"fetch", resource)
when { resource has hs_chapter && resource.hs_chapter like "8*" && resource.hs_chapter != "85" };
`,
	"dataset-attrs": `
@id("d1") permit (principal, action == Action::"fetch", resource in Dataset::"customs-cn/declarations-2026")
when { resource.dataset.purposes.contains(context.purpose) && resource is Record && !(resource has hs_chapter && resource.hs_chapter == "72") };
`,
}

// randomRecords returns n random records, built in turn by an Extractor
// (with the compact tuple the memo keys from), with only the attribute map,
// and lazily from JSON (the tuple only, the rest made on a memo miss), so
// that every key path is exercised.
func randomRecords(rng *rand.Rand, n int) []policy.Record {
	ex, err := policy.NewExtractor([]string{"classification", "origin_country", "destination_country",
		"declaration_type", "hs_chapter", "total_value_usd", "valid_until"})
	if err != nil {
		panic(err)
	}
	pick := func(ss ...string) string { return ss[rng.IntN(len(ss))] }
	out := make([]policy.Record, n)
	for i := range out {
		m := map[string]any{}
		if rng.IntN(10) > 0 {
			m["classification"] = pick("public", "internal", "restricted", "confidential")
		}
		if rng.IntN(10) > 0 {
			m["origin_country"] = pick("CN", "KZ", "AZ", "TR")
		}
		if rng.IntN(10) > 0 {
			m["destination_country"] = pick("CN", "KZ", "AZ", "TR", "DE")
		}
		if rng.IntN(10) > 0 {
			m["declaration_type"] = pick("export", "import", "transit")
		}
		if rng.IntN(10) > 0 {
			m["hs_chapter"] = pick("72", "85", "10")
		}
		if rng.IntN(10) > 0 {
			vals := []int64{0, 100, 101, 3999, 4000, 4001, 5000, 5001, 999999, 1000000, 1000001}
			m["total_value_usd"] = vals[rng.IntN(len(vals))] + int64(rng.IntN(3)-1)
		}
		if rng.IntN(4) == 0 {
			m["valid_until"] = demoTime.Add(time.Duration(rng.IntN(2000)-1000) * time.Hour).Format(time.RFC3339)
		}
		id := fmt.Sprintf("rec-%d", rng.IntN(3))
		r, err := ex.Record(id, m)
		if err != nil {
			panic(err)
		}
		switch i % 3 {
		case 1:
			r = policy.Record{ID: id, Attrs: r.Attrs}
		case 2:
			src, _ := json.Marshal(m)
			v, err := jcs.ParseValue(src)
			if err != nil {
				panic(err)
			}
			if r, err = ex.RecordLazy(cids.OfJSON(src), src, &v); err != nil {
				panic(err)
			}
		}
		out[i] = r
	}
	return out
}

func TestTupleAndMapKeysAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, b := range []*policy.Bundle{loadDemo(t)} {
		for _, r := range randomRecords(rng, 2000) {
			counter := int64(rng.IntN(1000))
			if mk, tk := policy.KeysOf(b, r, counter); tk != nil && string(mk) != string(tk) {
				t.Fatalf("%v: map key %x, tuple key %x", r.Attrs, mk, tk)
			}
		}
	}
}

func TestMemoAnalysis(t *testing.T) {
	want := map[string]bool{"thresholds": true, "raw-long": true, "raw-counter": true, "identity": false, "dataset-attrs": true, "equality": true}
	for name, src := range stressPolicies {
		b, err := policy.Parse(map[string][]byte{"p.cedar": []byte(src)}, demoVocabulary)
		if err != nil {
			t.Fatal(err)
		}
		if policy.MemoOn(b) != want[name] {
			t.Errorf("%s: memo %v, want %v", name, policy.MemoOn(b), want[name])
		}
	}
	// The demo bundle: keyed by interval on the two thresholds it has, and
	// by the comparands they equal on the attributes compared with literals
	// and with the principal's country.
	plan := policy.PlanString(loadDemo(t))
	for _, w := range []string{"name:total_value_usd kind:1 thresholds:[1000000 1000001]", "counter:{read:true thresholds:[500 501]}",
		"name:origin_country kind:2", "name:destination_country kind:2", "name:classification kind:2"} {
		if !strings.Contains(plan, w) {
			t.Errorf("plan %s lacks %s", plan, w)
		}
	}
	// An attribute also matched with `like` is keyed by its value.
	eq, err := policy.Parse(map[string][]byte{"p.cedar": []byte(stressPolicies["equality"])}, demoVocabulary)
	if err != nil {
		t.Fatal(err)
	}
	if p := policy.PlanString(eq); !strings.Contains(p, "name:hs_chapter kind:3") || !strings.Contains(p, "name:declaration_type kind:2") {
		t.Errorf("equality plan %s", p)
	}
}

// TestGeneratedRecordsDecisions decides generated customs declarations for
// each org and purpose and checks the counts against a golden file, so that a
// change in Cedar, the schema or the entity mapping that changes outcomes is
// seen.
func TestGeneratedRecordsDecisions(t *testing.T) {
	b := loadDemo(t)
	recs := sampleRecords(t, "customs-declaration", 7, 3000)
	var out []string
	for _, org := range []policy.Org{customsCN, customsKZ, logisticsAZ} {
		for _, purpose := range []string{"customs-clearance", "transit-planning"} {
			s := b.Fetch(policy.Request{Org: org, Dataset: declarations, Purpose: purpose, Time: demoTime}, nil)
			byPolicy := map[string]int{}
			for _, d := range s.Decide(recs, nil) {
				for _, p := range d.Policies {
					byPolicy[p]++
				}
			}
			p, d := s.Counts()
			out = append(out, fmt.Sprintf("%s %s: permitted %d, denied %d, by policy %v", org.ID, purpose, p, d, byPolicy))
		}
	}
	golden(t, "generated-decisions.golden", out)
}

// TestSchemaDeclaresEveryPolicyAttribute ties the dataset schemas to the
// Cedar schema: each policy attribute must be declared on Record, and the
// generated records must convert.
func TestSchemaDeclaresEveryPolicyAttribute(t *testing.T) {
	reg, err := schemas.Demo()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range reg.All() {
		if _, err := policy.NewExtractor(s.PolicyAttributes); err != nil {
			t.Errorf("%s: %v", s.Ref(), err)
		}
		recs := sampleRecords(t, s.Name, 1, 50)
		for _, r := range recs {
			if len(r.Attrs) == 0 {
				t.Errorf("%s: no attributes extracted", s.Name)
				break
			}
		}
	}
}

func TestRecordValueMatchesRecord(t *testing.T) {
	reg, err := schemas.Demo()
	if err != nil {
		t.Fatal(err)
	}
	var p jcs.Parser
	for _, s := range reg.All() {
		ex, err := policy.NewExtractor(s.PolicyAttributes)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			rec, _ := sample.Record(s.Name, 5, i)
			raw, _ := json.Marshal(rec)
			var m map[string]any
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if err := d.Decode(&m); err != nil {
				t.Fatal(err)
			}
			want, err := ex.Record("r", m)
			if err != nil {
				t.Fatal(err)
			}
			v, err := p.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ex.RecordValue("r", &v)
			if err != nil {
				t.Fatal(err)
			}
			src := bytes.Clone(raw)
			lazy := lazyRecord(t, ex, src)
			for j := range raw { // RecordValue must have copied what it keeps
				raw[j] = 'x'
			}
			if got := policy.TupleOf(lazy); !bytes.Equal(got, policy.TupleOf(want)) {
				t.Fatalf("%s %d: lazy tuple %q, want %q", s.Name, i, got, policy.TupleOf(want))
			}
			if m := policy.Materialized(lazy); m.ID != cids.OfJSON(src).String() || !types.NewRecord(m.Attrs).Equal(types.NewRecord(want.Attrs)) {
				t.Fatalf("%s %d: materialized %s %v, want %v", s.Name, i, m.ID, m.Attrs, want.Attrs)
			}
			if !types.NewRecord(got.Attrs).Equal(types.NewRecord(want.Attrs)) {
				t.Fatalf("%s %d: %v != %v", s.Name, i, got.Attrs, want.Attrs)
			}
			mk, tk := policy.KeysOf(loadDemo(t), got, 0)
			if string(mk) != string(tk) {
				t.Fatalf("keys differ")
			}
			if _, wk := policy.KeysOf(loadDemo(t), want, 0); string(wk) != string(tk) {
				t.Fatalf("%s %d: tuple keys differ from Record's", s.Name, i)
			}
		}
	}
}

// A lazy record whose source no longer parses (its owner broke the rule
// that it must not change) is denied, and the denial is not memoized for
// the records that share its attributes.
func TestLazyRecordFailsClosed(t *testing.T) {
	b, err := policy.Parse(map[string][]byte{"all.cedar": []byte(`@id("all") permit (principal, action == Action::"fetch", resource);`)}, demoVocabulary)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := policy.NewExtractor([]string{"classification"})
	if err != nil {
		t.Fatal(err)
	}
	broken := []byte(`{"classification":"public"}`)
	recs := []policy.Record{lazyRecord(t, ex, broken), lazyRecord(t, ex, []byte(`{"classification":"public"}`))}
	copy(broken, "{{{{")
	got := b.Fetch(policy.Request{Org: customsKZ, Dataset: declarations, Purpose: "customs-clearance", Time: demoTime}, nil).Decide(recs, nil)
	if got[0].Permit || !got[1].Permit {
		t.Fatalf("decisions %+v, want deny for the broken record and permit for the other", got)
	}
}

// lazyRecord makes a lazy record of the JSON object src.
func lazyRecord(t testing.TB, ex *policy.Extractor, src []byte) policy.Record {
	t.Helper()
	v, err := jcs.ParseValue(src)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ex.RecordLazy(cids.OfJSON(src), src, &v)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
