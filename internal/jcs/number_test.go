package jcs

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// slowNumber is the general path: parse as a double, print as ECMAScript.
func slowNumber(t testing.TB, s string) string {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	out, err := appendFloat(nil, f)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return string(out)
}

// The fast path for plain decimals prints exactly what the general path
// prints, for every decimal it accepts; and it refuses those it must.
func TestShortDecimalAgreesWithFloat(t *testing.T) {
	for _, s := range []string{"0.5", "-0.5", "59178.2", "0.000001", "-0.000001", "0.1", "0.3",
		"123456789012345.6", "12345678901234.5", "0.123456789012345", "0.000001234567890123",
		"999999999999999.9", "99999999999999.99", "1.5", "9007199254740993.1"} {
		if isShortDecimal(s) {
			if got := slowNumber(t, s); got != s {
				t.Errorf("%s: accepted, but its ECMAScript form is %s", s, got)
			}
		}
	}
	for _, s := range []string{"0.0000001", "1.50", "-0.0", "0.0", "01.5", "1.", ".5", "1e5",
		"1234567890123456.5", "0.1234567890123456", "1.2.3", "", "-", "1-2"} {
		if isShortDecimal(s) {
			t.Errorf("%s: accepted", s)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	accepted := 0
	for range 200000 {
		var b strings.Builder
		if r.IntN(4) == 0 {
			b.WriteByte('-')
		}
		if r.IntN(3) == 0 {
			b.WriteString("0")
		} else {
			b.WriteString(digits(r, 1+r.IntN(16), true))
		}
		b.WriteByte('.')
		for range r.IntN(4) {
			b.WriteByte('0')
		}
		b.WriteString(digits(r, 1+r.IntN(16), false))
		s := b.String()
		if !isShortDecimal(s) {
			continue
		}
		accepted++
		if got := slowNumber(t, s); got != s {
			t.Fatalf("%s: accepted, but its ECMAScript form is %s", s, got)
		}
	}
	if accepted < 50000 {
		t.Fatalf("only %d random decimals took the fast path", accepted)
	}
}

// digits returns n random decimal digits, the first not 0 if lead.
func digits(r *rand.Rand, n int, lead bool) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	if lead && b[0] == '0' {
		b[0] = '1'
	}
	return string(b)
}

// FuzzShortDecimal: whatever the fast path accepts, the general path prints
// the same way.
func FuzzShortDecimal(f *testing.F) {
	for _, s := range []string{"0.5", "59178.2", "0.000001", "123456789012345.6", "1.50"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if isShortDecimal(s) {
			if got := slowNumber(t, s); got != s {
				t.Fatalf("%s: accepted, but its ECMAScript form is %s", s, got)
			}
		}
	})
}
