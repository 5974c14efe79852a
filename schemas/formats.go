package schemas

import "github.com/santhosh-tekuri/jsonschema/v6"

// The compiled validator's "format" checks: a fast acceptance of the common,
// strict forms of the formats the dataset schemas use, then jsonschema/v6's
// own check. Each quick function only ever accepts strings that jsonschema/v6's
// checker accepts too (a strict subset: RFC 3339 with 'T' and 'Z', two-digit
// fields in range, no leap second); anything else, and every rejection, is
// left to that checker. The validators' agreement is tested by
// FuzzCompiledAgrees.

// formatChecker returns the check for a format: a quick acceptance of the
// common strict forms (below), then jsonschema/v6's own check, so both
// validators accept exactly the same strings.
func formatChecker(name string) (func(string) error, error) {
	ref, err := jsonschemaFormat(name)
	if err != nil {
		return nil, err
	}
	quick := quickFormats[name]
	return func(v string) error {
		if quick != nil && quick(v) {
			return nil
		}
		return ref(v)
	}, nil
}

// jsonschemaFormat returns jsonschema/v6's check for a format.
func jsonschemaFormat(name string) (func(string) error, error) {
	switch name {
	case "date-time", "date", "uuid", "time", "email", "uri", "hostname", "ipv4", "ipv6", "duration":
	default:
		return nil, errUnsupported("format " + name)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	url := "urn:caravan:format:" + name
	if err := c.AddResource(url, map[string]any{"format": name}); err != nil {
		return nil, err
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, err
	}
	return func(v string) error { return s.Validate(v) }, nil
}

func digitsAt(s string, i, n int) (int, bool) {
	v := 0
	for j := i; j < i+n; j++ {
		c := s[j]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// quickDate accepts YYYY-MM-DD with a day that exists.
func quickDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	y, ok1 := digitsAt(s, 0, 4)
	m, ok2 := digitsAt(s, 5, 2)
	d, ok3 := digitsAt(s, 8, 2)
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m]
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return d <= days
}

// quickDateTime accepts YYYY-MM-DDThh:mm:ssZ with seconds up to 59.
func quickDateTime(s string) bool {
	if len(s) != 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z' || !quickDate(s[:10]) {
		return false
	}
	h, ok1 := digitsAt(s, 11, 2)
	m, ok2 := digitsAt(s, 14, 2)
	sec, ok3 := digitsAt(s, 17, 2)
	return ok1 && ok2 && ok3 && h <= 23 && m <= 59 && sec <= 59
}

// quickUUID accepts 8-4-4-4-12 hexadecimal digits.
func quickUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

var quickFormats = map[string]func(string) bool{"date": quickDate, "date-time": quickDateTime, "uuid": quickUUID}
