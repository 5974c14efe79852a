package schemas_test

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/schemas/sample"
)

// canonicalSamples are generated records of s in RFC 8785 form.
func canonicalSamples(t testing.TB, s *schemas.Schema, n int, seed uint64) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	if err := sample.Write(&buf, s.Name, n, seed, nil); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		c, err := jcs.Canonicalize(line)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// checkCanonicalPass fails if the one pass accepts what the full check
// (parse, canonical form, the compiled validator, and jsonschema/v6)
// refuses; it returns whether the pass accepted data.
func checkCanonicalPass(t *testing.T, s *schemas.Schema, data []byte) bool {
	t.Helper()
	if !s.AcceptsCanonical(data) {
		return false
	}
	v, err := jcs.ParseValue(data)
	if err != nil {
		t.Fatalf("%s: the pass accepted what does not parse (%v): %s", s.Ref(), err, data)
	}
	canon, _ := v.AppendCanonical(nil)
	if !bytes.Equal(canon, data) {
		t.Fatalf("%s: the pass accepted a non-canonical text:\n%s\ncanonical:\n%s", s.Ref(), data, canon)
	}
	if err := s.ValidateValue(&v); err != nil {
		t.Fatalf("%s: the pass accepted an invalid record (%v): %s", s.Ref(), err, data)
	}
	if err := s.Validate(v.Any()); err != nil {
		t.Fatalf("%s: the pass accepted what jsonschema/v6 refuses (%v): %s", s.Ref(), err, data)
	}
	return true
}

// The one pass over canonical records takes every valid generated record
// of the demo schemas (else fetching would pay for the full check), never
// takes a mutated one that the full check refuses, and ValidateCanonical
// refuses what is not canonical, naming why.
func TestCanonicalPass(t *testing.T) {
	reg, _ := schemas.Demo()
	r := rand.New(rand.NewPCG(3, 4))
	var p jcs.Parser
	var buf []byte
	for _, s := range reg.All() {
		taken, refused := 0, 0
		for _, rec := range canonicalSamples(t, s, 300, 7) {
			if !checkCanonicalPass(t, s, rec) {
				t.Fatalf("%s: the pass gave up on a valid canonical record: %s", s.Ref(), rec)
			}
			var err error
			if buf, err = s.ValidateCanonical(rec, &p, buf); err != nil {
				t.Fatal(err)
			}
			for range 10 {
				m := string(rec)
				for range 1 + r.IntN(2) {
					m = mutations[r.IntN(len(mutations))](r, m)
				}
				if checkCanonicalPass(t, s, []byte(m)) {
					taken++
				} else {
					refused++
				}
			}
		}
		t.Logf("%s: of the mutated records, the pass took %d and left %d to the full check", s.Ref(), taken, refused)
	}
	s, _ := reg.Lookup("shipment-event")
	rec := canonicalSamples(t, s, 1, 1)[0]
	for name, bad := range map[string]string{
		"whitespace":      strings.Replace(string(rec), `":`, `": `, 1),
		"unsorted":        `{"z":1,` + string(rec[1:]),
		"an escape":       strings.Replace(string(rec), `":"`, `":"\u0041`, 1),
		"an exponent":     strings.Replace(string(rec), `":"`, `":1e2,"x":"`, 1),
		"a trailing zero": strings.Replace(string(rec), `":"`, `":1.50,"x":"`, 1),
	} {
		_, err := s.ValidateCanonical([]byte(bad), &p, buf)
		if err == nil || s.AcceptsCanonical([]byte(bad)) || !strings.Contains(err.Error(), "not in canonical form") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzCanonicalAgrees(f *testing.F) {
	reg, _ := schemas.Demo()
	all := reg.All()
	for i, s := range all {
		for _, rec := range canonicalSamples(f, s, 3, 1) {
			f.Add(uint8(i), rec)
		}
	}
	f.Add(uint8(0), []byte(`{"a":-0,"b":1.5,"c":"\u00e9","d":[true,false,null,{}]}`))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		checkCanonicalPass(t, all[int(which)%len(all)], data)
	})
}
