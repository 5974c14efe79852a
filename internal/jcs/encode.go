package jcs

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	gowebpki "github.com/gowebpki/jcs"
)

// Canonicalize parses data strictly and returns its RFC 8785 form.
func Canonicalize(data []byte) ([]byte, error) {
	v, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return Append(nil, v)
}

// Append appends the RFC 8785 canonical form of v to dst. v is a value as
// Parse returns it; float64, int and int64 numbers are accepted too.
func Append(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if v {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case string:
		return appendString(dst, v)
	case json.Number:
		return appendNumber(dst, string(v))
	case float64:
		return appendFloat(dst, v)
	case int:
		return appendFloat(dst, float64(v))
	case int64:
		return appendFloat(dst, float64(v))
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = Append(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareUTF16)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendString(dst, k); err != nil {
				return nil, err
			}
			dst = append(dst, ':')
			if dst, err = Append(dst, v[k]); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	}
	return nil, fmt.Errorf("jcs: cannot encode %T", v)
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785
// section 3.2.3 requires. UTF-8 byte order is code point order, which agrees
// with UTF-16 order except between U+E000..U+FFFF and supplementary
// characters (surrogates sort first in UTF-16), so only the first differing
// characters need decoding.
func compareUTF16(a, b string) int {
	// Fast path, small enough to inline: keys often differ in their first byte.
	if len(a) != 0 && len(b) != 0 {
		if x, y := a[0], b[0]; x != y && max(x, y) < 0xEE {
			return int(x) - int(y)
		}
	}
	return compareUTF16Slow(a, b)
}

func compareUTF16Slow(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return cmp.Compare(len(a), len(b))
	}
	if a[i] < 0xEE && b[i] < 0xEE {
		return cmp.Compare(a[i], b[i]) // neither is at or above U+E000
	}
	for i > 0 && !utf8.RuneStart(a[i]) {
		i-- // back to the start of the differing character
	}
	ra, _ := utf8.DecodeRuneInString(a[i:])
	rb, _ := utf8.DecodeRuneInString(b[i:])
	if c := cmp.Compare(utf16Unit(ra), utf16Unit(rb)); c != 0 {
		return c
	}
	return cmp.Compare(ra, rb) // same high surrogate: low surrogates follow code points
}

// utf16Unit returns the first UTF-16 code unit of r.
func utf16Unit(r rune) rune {
	if r >= 0x10000 {
		hi, _ := utf16.EncodeRune(r)
		return hi
	}
	return r
}

const hexDigits = "0123456789abcdef"

// needsEscape marks the bytes RFC 8785 escapes: '"', '\\' and controls.
var needsEscape = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// appendString escapes as RFC 8785 section 3.2.2.2: only '"', '\\' and
// control characters, with the short escapes where JSON has them.
func appendString(dst []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("jcs: invalid UTF-8 in string")
	}
	return appendValidString(dst, s), nil
}

// appendValidString is appendString for strings known to be valid UTF-8.
func appendValidString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !needsEscape[c] {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendNumber writes a number in the ECMAScript form RFC 8785 requires.
// Plain integers of up to 15 digits are already in that form, and so are
// most plain decimals (see isShortDecimal).
func appendNumber(dst []byte, s string) ([]byte, error) {
	if _, ok := ShortInteger(s); ok {
		if s == "-0" {
			return append(dst, '0'), nil
		}
		return append(dst, s...), nil
	}
	if isShortDecimal(s) {
		return append(dst, s...), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("jcs: number %s is out of the IEEE 754 double range", s)
	}
	return appendFloat(dst, f)
}

// isShortDecimal reports whether s is a plain decimal (no exponent) that is
// its own ECMAScript form: at most 15 significant digits, no leading zero in
// its integer part, no trailing zero in its fraction, and at least 1e-6 in
// magnitude. Any decimal of at most 15 significant digits survives a round
// trip through a double (DBL_DIG), so no shorter digit string names the same
// double, and ECMAScript's Number::toString prints exactly these digits, in
// this notation for magnitudes from 1e-6 to below 1e21.
func isShortDecimal(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	dot := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' && dot < 0 {
			dot = i
			continue
		}
		if c < '0' || c > '9' {
			return false
		}
	}
	if dot <= 0 || dot == len(s)-1 || s[len(s)-1] == '0' {
		return false
	}
	intPart, frac := s[:dot], s[dot+1:]
	if intPart == "0" {
		zeros := 0
		for zeros < len(frac) && frac[zeros] == '0' {
			zeros++
		}
		return zeros <= 5 && len(frac)-zeros <= 15
	}
	return intPart[0] != '0' && len(intPart)+len(frac) <= 15
}

// IsShortDecimal reports whether s is a plain decimal with a fraction that
// is its own RFC 8785 form (see isShortDecimal); it is never an integer.
func IsShortDecimal(s string) bool { return isShortDecimal(s) }

// ShortInteger parses a plain integer literal of at most 15 digits (no
// leading zero, no fraction or exponent): the common case of a JSON number,
// exact as a double, and already in canonical form. ok is false for
// anything else.
func ShortInteger(s string) (n int64, ok bool) {
	digits := s
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 15 || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if len(s) != len(digits) {
		n = -n
	}
	return n, true
}

func appendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("jcs: %v is not a JSON number", f)
	}
	s, err := gowebpki.NumberToJSON(f)
	if err != nil {
		return nil, err
	}
	return append(dst, s...), nil
}

// AppendString appends s as an RFC 8785 JSON string. s must be valid UTF-8
// (keys decoded from valid JSON are).
func AppendString(dst []byte, s string) []byte { return appendValidString(dst, s) }
