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
	}
	alphabet := []byte("AZKX019-abcdxé\n ")
	r := rand.New(rand.NewPCG(3, 4))
	for _, p := range patterns {
		q, ok := compileClassSeq(p)
		if !ok {
			t.Fatalf("%s: not compiled", p)
		}
		re := regexp.MustCompile(p)
		for range 20000 {
			b := make([]byte, r.IntN(40))
			for i := range b {
				b[i] = alphabet[r.IntN(len(alphabet))]
			}
			s := string(b)
			if m, ok := q.match(s); ok && m != re.MatchString(s) {
				t.Fatalf("%s on %q: classSeq %v, regexp %v", p, s, m, !m)
			}
		}
	}
	for _, p := range []string{`^[0-9]{6}([0-9]{2}){0,2}$`, `[A-Z]{2}`, `^(?i)[a-z]$`, `^[^a]$`, `^é$`, `^(ab)+$`} {
		if _, ok := compileClassSeq(p); ok {
			t.Errorf("%s compiled, but its shape is not supported", p)
		}
	}
}
