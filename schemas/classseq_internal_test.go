package schemas

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// classSeq agrees with regexp on the dataset schemas' patterns and others,
// over random strings drawn from characters the patterns care about.
func TestClassSeqAgreesWithRegexp(t *testing.T) {
	patterns := []string{
		`^[A-Z]{2}$`, `^[0-9]{2}$`, `^[A-Z]{3}$`, `^[A-Z]{2}[A-Z0-9]{3}[0-9]{3}$`, `^[A-Z]{2}[A-Z0-9]{3}$`,
		`^[A-Z]{2}-[A-Z0-9]{3,8}-[0-9]{4}-[0-9]{6,10}$`, `^[A-Z]{2}[0-9A-Z-]{6,24}$`, `^[A-Z0-9-]{6,32}$`,
		`^[A-Z]{4}[0-9]{7}$`, `^[0-9A-Z]{6,20}$`, `^[A-U][0-9]{2}$`, `^a+b*c?$`, `^x[0-9]*$`, `^[a-c]{0,3}[b-d]{1,2}$`,
		`^[0-9]{6}([0-9]{2}){0,2}$`, `^([0-9]{3})*$`, `^A([0-9]{2}){1,3}-?$`, `^(a)+b([b-d])?$`, `^([0-9]{2}){2,}$`, `^(x{2})$`,
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, p := range patterns {
		q, ok := compileClassSeq(p)
		if !ok {
			t.Fatalf("%s: not compiled", p)
		}
		re := regexp.MustCompile(p)
		matched := 0
		alphabet := []byte("AZKX019-abcdxé\n ")
		for range 40000 {
			// A string the pattern should match, built from its items, then
			// perhaps mutated: so both sides of every boundary are tried.
			b := sample(r, q)
			if r.IntN(2) == 0 && len(b) > 0 {
				switch i := r.IntN(len(b)); r.IntN(3) {
				case 0:
					b[i] = alphabet[r.IntN(len(alphabet))]
				case 1:
					b = append(b[:i], b[i+1:]...)
				default:
					b = append(b[:i], append([]byte{b[r.IntN(len(b))]}, b[i:]...)...)
				}
			}
			s := string(b)
			m, ok := q.match(s)
			if ok && m != re.MatchString(s) {
				t.Fatalf("%s on %q: classSeq %v, regexp %v", p, s, m, !m)
			}
			if m {
				matched++
			}
		}
		if matched == 0 {
			t.Errorf("%s: no random string matched; the test shows little", p)
		}
	}
	for _, p := range []string{`[A-Z]{2}`, `^(?i)[a-z]$`, `^[^a]$`, `^é$`, `^(ab)+$`, `^([0-9]{2}[a-z])+$`, `^([0-9]{1,2})+$`} {
		if _, ok := compileClassSeq(p); ok {
			t.Errorf("%s compiled, but its shape is not supported", p)
		}
	}
}

// sample returns a random string that q should match.
func sample(r *rand.Rand, q *classSeq) []byte {
	var b []byte
	for _, it := range q.items {
		hi := it.max
		if hi < 0 {
			hi = it.min + 3*it.step
		}
		n := it.min + it.step*r.IntN((hi-it.min)/it.step+1)
		var set []byte
		for c := range 128 {
			if it.has(byte(c)) {
				set = append(set, byte(c))
			}
		}
		for range n {
			b = append(b, set[r.IntN(len(set))])
		}
	}
	return b
}

// The quick format checks accept only what jsonschema/v6 accepts, over
// random mutations of valid values.
func TestQuickFormatsAreSound(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	seeds := map[string][]string{
		"date-time": {"2026-02-28T23:59:59Z", "2024-02-29T00:00:00Z", "2026-12-31T12:30:45Z"},
		"date":      {"2026-02-28", "2024-02-29", "2000-02-29", "1900-03-01"},
		"uuid":      {"6f1c9a5e-3b2d-4c1a-8e7f-0a1b2c3d4e5f", "ABCDEF01-2345-6789-abcd-ef0123456789"},
	}
	chars := []byte("0123456789-:TZtzaAfFgG.+ ")
	for name, vals := range seeds {
		ref, err := jsonschemaFormat(name)
		if err != nil {
			t.Fatal(err)
		}
		quick := quickFormats[name]
		accepted := 0
		for range 100000 {
			b := []byte(vals[r.IntN(len(vals))])
			for range 1 + r.IntN(2) {
				b[r.IntN(len(b))] = chars[r.IntN(len(chars))]
			}
			s := string(b)
			if quick(s) {
				accepted++
				if err := ref(s); err != nil {
					t.Fatalf("%s: quick accepts %q, jsonschema says %v", name, s, err)
				}
			}
		}
		if accepted == 0 {
			t.Fatalf("%s: the quick path accepted nothing", name)
		}
	}
}
