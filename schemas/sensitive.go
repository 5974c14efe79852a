package schemas

import (
	"regexp"
	"strings"
)

// Values of a field marked x-caravan-sensitive never appear in what
// publishing tells a person: error messages, log lines and reject files
// name the field and the line, and put Redacted in place of the value.

// Redacted stands in a reject file for a sensitive field's value.
const Redacted = "[not shown: x-caravan-sensitive]"

var indexes = regexp.MustCompile(`\[[0-9]+\]`)

// SensitiveField reports whether a field path of a record ("items[0].name",
// or a CSV column such as "directors[2].name" or "declarant") is a
// sensitive field, lies inside one, or holds one.
func (s *Schema) SensitiveField(field string) bool {
	if len(s.Sensitive) == 0 {
		return false
	}
	if field == "" { // the record as a whole holds them
		return true
	}
	f := indexes.ReplaceAllString(field, "[]")
	for _, p := range s.Sensitive {
		if f == p || within(f, p) || within(p, f) {
			return true
		}
	}
	return false
}

// within reports whether path a lies inside path b.
func within(a, b string) bool {
	return strings.HasPrefix(a, b) && (a[len(b)] == '.' || a[len(b)] == '[')
}

// Redact returns a copy of a record, as jcs.Parse or encoding/json gives
// it, with the value of every sensitive field replaced by Redacted.
func (s *Schema) Redact(rec any) any {
	if len(s.Sensitive) == 0 {
		return rec
	}
	return s.redact(rec, "")
}

func (s *Schema) redact(v any, at string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, m := range x {
			child := k
			if at != "" {
				child = at + "." + k
			}
			if s.isSensitive(child) {
				out[k] = Redacted
				continue
			}
			out[k] = s.redact(m, child)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, m := range x {
			if s.isSensitive(at + "[]") {
				out[i] = Redacted
				continue
			}
			out[i] = s.redact(m, at+"[]")
		}
		return out
	}
	return v
}

func (s *Schema) isSensitive(path string) bool {
	for _, p := range s.Sensitive {
		if p == path {
			return true
		}
	}
	return false
}

var (
	patternMsg = regexp.MustCompile(`does not match pattern (.*)$`)
	formatMsg  = regexp.MustCompile(`is not valid ([\w-]+)$`)
	boundMsg   = regexp.MustCompile(`^(\w+): got .*, want (.*)$`)
	keptMsg    = regexp.MustCompile(`^(got \w+, want [\w, ]+|value must be one of .*|(min|max)(Length|Items): got \d+, want \d+|\d+ items, want .*|missing property .*|additional property .*)$`)
)

// Shown is fe as a person may see it: for a sensitive field, a message
// that says which rule the value broke without the value.
func (s *Schema) Shown(fe *FieldError) *FieldError {
	if !s.SensitiveField(fe.Field) {
		return fe
	}
	msg := "does not match the schema"
	switch {
	case keptMsg.MatchString(fe.Msg):
		msg = fe.Msg
	case patternMsg.MatchString(fe.Msg):
		msg = "does not match pattern " + patternMsg.FindStringSubmatch(fe.Msg)[1]
	case formatMsg.MatchString(fe.Msg):
		msg = "is not valid " + formatMsg.FindStringSubmatch(fe.Msg)[1]
	case boundMsg.MatchString(fe.Msg):
		m := boundMsg.FindStringSubmatch(fe.Msg)
		msg = m[1] + ": want " + m[2]
	}
	return &FieldError{Field: fe.Field, Msg: msg + " (a sensitive field: its value is not shown)"}
}
