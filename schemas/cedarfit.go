package schemas

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"

	"github.com/caravan-consortium/caravan/internal/jcs"
)

// A record that matches its schema may still hold a policy attribute that
// Cedar cannot take: JSON Schema's "integer" has no bound and Cedar's Long
// has, and the JSON Schema "date-time" format accepts a few strings (a sign
// inside a field, for one) that name no instant. Such a record is refused
// when it is published, at its field, rather than withheld from every
// partner at the first fetch.

// checkCedar checks that the Long and datetime policy attributes of a record
// can be Cedar values.
func (s *Schema) checkCedar(v *jcs.Value) *FieldError {
	if s.typed == nil || v.Kind != jcs.Object {
		return nil
	}
	for _, m := range v.Members() {
		for _, a := range s.typed {
			if a.Name != m.Key {
				continue
			}
			switch {
			case a.Type == AttrLong && m.Value.Kind == jcs.Number:
				if !fitsLong(m.Value.Str) {
					return longError(m.Key, m.Value.Str)
				}
			case a.Type == AttrDatetime && m.Value.Kind == jcs.String:
				if _, err := ParseInstant(m.Value.Str); err != nil {
					return instantError(m.Key, err)
				}
			}
		}
	}
	return nil
}

// checkCedarAny is checkCedar's test of one attribute for a value as
// jcs.Parse returns it.
func checkCedarAny(a Attribute, v any) *FieldError {
	switch x := v.(type) {
	case json.Number:
		if a.Type == AttrLong && !fitsLong(string(x)) {
			return longError(a.Name, string(x))
		}
	case string:
		if a.Type == AttrDatetime {
			if _, err := ParseInstant(x); err != nil {
				return instantError(a.Name, err)
			}
		}
	}
	return nil
}

// fitsLong reports whether a JSON number is an integer within Cedar's Long
// (an integer may be written 1e3 or 10.0).
func fitsLong(literal string) bool {
	if _, err := strconv.ParseInt(literal, 10, 64); err == nil {
		return true
	}
	f, ok := new(big.Float).SetString(literal)
	if !ok || !f.IsInt() {
		return false
	}
	_, acc := f.Int64()
	return acc == big.Exact
}

func longError(field, literal string) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf("%s does not fit a policy attribute (Cedar Long, -2^63 .. 2^63-1)", literal)}
}

// instantError names the field but not its value: a policy attribute is
// never sensitive, but a message has no need of it.
func instantError(field string, err error) *FieldError {
	return &FieldError{Field: field, Msg: "a policy attribute of type datetime: " + err.Error()}
}
