package schemas_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/schemas"
)

// registration compiles a schema document as a gateway receives it: owner,
// name, version and signing time from the registration.
func registration(t testing.TB, owner, name, version string, created time.Time, props string) *schemas.Schema {
	t.Helper()
	s, err := schemas.Compile([]byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{` + props + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Version, err = schemas.ParseVersion(version); err != nil {
		t.Fatal(err)
	}
	s.Owner, s.Name, s.Created = owner, name, created
	return s
}

// No member can poison the registry: whatever order registrations reach
// a gateway in, the same ones are in force, the first registration of a
// policy attribute fixes its type, and the owner's version rules hold.
func TestRegistryIsTheSameInAnyOrder(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	route := func(typ string) string { return `"route":{"type":"` + typ + `","x-caravan-policy-attribute":true}` }
	regs := []*schemas.Schema{
		registration(t, "customs-kz", "road-permit", "1.0", at(0), route("string")),
		// A hostile member, first in registry order, types the name otherwise later.
		registration(t, "aaa-hostile", "trap", "1.0", at(5), route("integer")),
		registration(t, "customs-kz", "road-permit", "1.1", at(10), route("string")+`,"axles":{"type":"integer"}`),
		// The owner's version rules: 1.2 narrows 1.1; 1.0 again is not higher.
		registration(t, "customs-kz", "road-permit", "1.2", at(20), route("string")+`,"axles":{"type":"string"}`),
		registration(t, "customs-kz", "road-permit", "1.0", at(30), route("string")+`,"x":{}`),
		registration(t, "customs-kz", "road-permit", "2.0", at(40), route("string")+`,"axles":{"type":"string"}`),
		registration(t, "customs-cn", "declaration", "1.0", at(1), `"route":{"type":"string","x-caravan-policy-attribute":true}`),
	}
	wantInForce := []string{"customs-cn/declaration@1.0", "customs-kz/road-permit@1.0", "customs-kz/road-permit@1.1", "customs-kz/road-permit@2.0"}
	wantAside := []string{"aaa-hostile/trap@1.0", "customs-kz/road-permit@1.2", "customs-kz/road-permit@1.0"}
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 50 {
		order := slices.Clone(regs)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		r := schemas.NewRegistry()
		for _, s := range order {
			r.Add(s)
		}
		var inForce, aside []string
		for _, s := range r.All() {
			inForce = append(inForce, s.Label())
		}
		for _, a := range r.SetAside() {
			aside = append(aside, a.Schema.Label())
			if a.Reason == "" {
				t.Errorf("%s set aside with no reason", a.Schema.Label())
			}
		}
		if !slices.Equal(inForce, wantInForce) || !slices.Equal(aside, wantAside) {
			t.Fatalf("round %d: in force %v, set aside %v; want %v and %v", round, inForce, aside, wantInForce, wantAside)
		}
		attrs, _, conflicts := r.Vocabulary()
		if len(conflicts) > 0 || !slices.ContainsFunc(attrs, func(a schemas.Attribute) bool { return a.Name == "route" && a.Type == schemas.AttrString }) {
			t.Fatalf("round %d: vocabulary %v, conflicts %v", round, attrs, conflicts)
		}
	}
}

// fanOut is a small document whose $defs entries each have `fan`
// properties referring to the next entry, `depth` deep.
func fanOut(depth, fan int) []byte {
	var defs []string
	for i := range depth {
		var ps []string
		for j := range fan {
			ps = append(ps, fmt.Sprintf(`"p%d":{"$ref":"#/$defs/d%d"}`, j, i+1))
		}
		defs = append(defs, fmt.Sprintf(`"d%d":{"type":"object","properties":{%s}}`, i, strings.Join(ps, ",")))
	}
	defs = append(defs, fmt.Sprintf(`"d%d":{"type":"string","x-caravan-sensitive":true}`, depth))
	return []byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"root":{"$ref":"#/$defs/d0"}},"$defs":{` + strings.Join(defs, ",") + `}}`)
}

// A 2.7 KB document that fans out through $defs took 8.5 s to compile on
// every member, at receipt and at every start; it is refused, for being
// beyond the work bounds, after a bounded walk.
func TestFanOutDocumentIsRefusedAtCompile(t *testing.T) {
	doc := fanOut(8, 12)
	_, err := schemas.Compile(doc)
	if !errors.Is(err, schemas.ErrInvalid) || !strings.Contains(err.Error(), schemas.ErrTooComplex.Error()) {
		t.Fatalf("%d-byte fan-out: %v", len(doc), err)
	}
	if _, err := schemas.Compile(fanOut(3, 4)); err != nil { // a small one is fine
		t.Fatal(err)
	}
	// anyOf over $refs, fanning out on one value.
	var defs []string
	for i := range 8 {
		defs = append(defs, fmt.Sprintf(`"d%d":{"anyOf":[{"$ref":"#/$defs/d%d"},{"$ref":"#/$defs/d%d"},{"$ref":"#/$defs/d%d"},{"$ref":"#/$defs/d%d"}]}`, i, i+1, i+1, i+1, i+1))
	}
	defs = append(defs, `"d8":{"type":"string"}`)
	_, err = schemas.Compile([]byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"x":{"$ref":"#/$defs/d0"}},"$defs":{` + strings.Join(defs, ",") + `}}`))
	if !errors.Is(err, schemas.ErrInvalid) || !strings.Contains(err.Error(), schemas.ErrTooComplex.Error()) {
		t.Fatalf("anyOf fan-out on one value: %v", err)
	}
}

// One 48-byte record under a recursive oneOf took 6.8 s to validate on the
// requester; validation work is bounded per record, and a record past the
// bound is refused, at once, for that reason.
func TestRecursiveOneOfRecordIsBounded(t *testing.T) {
	s, err := schemas.Compile([]byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
	"properties":{"x":{"$ref":"#/$defs/n"}},
	"$defs":{"n":{"oneOf":[{"type":"array","items":{"$ref":"#/$defs/n"}},{"type":"array","maxItems":3,"items":{"$ref":"#/$defs/n"}}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	deep := map[string]any{"x": nest(30)}
	err = s.Validate(deep)
	if err == nil || !strings.Contains(err.Error(), schemas.ErrTooComplex.Error()) {
		t.Fatalf("30 deep: %v", err)
	}
	if err := s.Validate(map[string]any{"x": nest(3)}); err == nil || strings.Contains(err.Error(), "work bounds") {
		t.Fatalf("3 deep should be checked for real (both branches match, so oneOf fails): %v", err)
	}
}

func nest(depth int) any {
	v := []any{}
	for range depth {
		v = []any{v}
	}
	return v
}
