package policy

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go/types"
	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/cedar-policy/cedar-go/x/exp/schema/resolved"
)

// Extractor turns a record's JSON fields into its policy attributes: the
// fields that the dataset's schema marks "x-caravan-policy-attribute", as the
// Cedar types that the Record entity declares for them.
type Extractor struct {
	fields []field // sorted by name
}

type field struct {
	name types.String
	typ  resolved.IsType
}

// Record returns the policy view of a record: its id (CID) and attributes,
// plus a compact copy of the attributes that sessions build memo keys from
// without chasing pointers.
func (e *Extractor) Record(id string, rec map[string]any) (Record, error) {
	attrs, err := e.Extract(rec)
	if err != nil {
		return Record{}, err
	}
	r := Record{ID: id, Attrs: attrs, layout: e}
	for _, f := range e.fields {
		if v, ok := attrs[f.name]; ok {
			r.tuple = appendRaw(r.tuple, v)
		} else {
			r.tuple = append(r.tuple, 0)
		}
	}
	return r, nil
}

// RecordValue is Record for a record parsed by a jcs.Parser (the hot path:
// only the policy attributes are converted, straight from the parsed
// values). Strings are copied, so v's memory may be reused afterwards.
func (e *Extractor) RecordValue(id string, v *jcs.Value) (Record, error) {
	attrs := make(types.RecordMap, len(e.fields))
	r := Record{ID: id, Attrs: attrs, layout: e}
	err := e.eachField(v, func(f field, mv *jcs.Value) error {
		if mv == nil {
			r.tuple = append(r.tuple, 0)
			return nil
		}
		cv, err := convertValue(f.typ, mv)
		if err != nil {
			return err
		}
		attrs[f.name] = cv
		r.tuple = appendRaw(r.tuple, cv)
		return nil
	})
	if err != nil {
		return Record{}, err
	}
	return r, nil
}

// RecordLazy is RecordValue for records that a session will mostly decide
// from its memo: it builds only the compact copy of the attributes that memo
// keys are made from, and leaves ID and Attrs to be made from c and src (a
// JSON object; v is src parsed) if a session evaluates the record with
// Cedar. src must not change while the record is in use. Errors are those
// of RecordValue.
func (e *Extractor) RecordLazy(c cid.Cid, src []byte, v *jcs.Value) (Record, error) {
	r := Record{layout: e, cid: c, src: src}
	err := e.eachField(v, func(f field, mv *jcs.Value) (err error) {
		if mv == nil {
			r.tuple = append(r.tuple, 0)
			return nil
		}
		r.tuple, err = appendParsed(r.tuple, f.typ, mv)
		return err
	})
	if err != nil {
		return Record{}, err
	}
	return r, nil
}

// eachField calls fn for each of e's fields in order with its value in the
// object v, or nil if v lacks it or it is null. fn's error is returned
// naming the field.
func (e *Extractor) eachField(v *jcs.Value, fn func(f field, mv *jcs.Value) error) error {
	if v.Kind != jcs.Object {
		return fmt.Errorf("record is not a JSON object")
	}
	members := v.Members()
	for _, f := range e.fields {
		var mv *jcs.Value
		for i := range members {
			if members[i].Key == string(f.name) {
				if members[i].Value.Kind != jcs.Null {
					mv = &members[i].Value
				}
				break
			}
		}
		if err := fn(f, mv); err != nil {
			return fmt.Errorf("field %q: %w", f.name, err)
		}
	}
	return nil
}

// appendParsed appends appendRaw(convertValue(t, v)), without making the
// Cedar value for strings, integers and booleans.
func appendParsed(tuple []byte, t resolved.IsType, v *jcs.Value) ([]byte, error) {
	switch t.(type) {
	case resolved.StringType:
		if v.Kind == jcs.String {
			return appendRawString(tuple, v.Str), nil
		}
	case resolved.LongType:
		if v.Kind == jcs.Number {
			if i, err := strconv.ParseInt(v.Str, 10, 64); err == nil { // as json.Number.Int64
				return appendRawLong(tuple, i), nil
			}
		}
	case resolved.BoolType:
		if v.Kind == jcs.Bool {
			return appendRawBool(tuple, v.Bool), nil
		}
	}
	cv, err := convertValue(t, v)
	if err != nil {
		return nil, err
	}
	return appendRaw(tuple, cv), nil
}

// convertValue is convert for a parsed value: strings, integers and
// booleans directly, anything else through its map form.
func convertValue(t resolved.IsType, v *jcs.Value) (types.Value, error) {
	switch t.(type) {
	case resolved.StringType:
		if v.Kind == jcs.String {
			return types.String(strings.Clone(v.Str)), nil
		}
	case resolved.LongType:
		if v.Kind == jcs.Number {
			return toLong(json.Number(v.Str))
		}
	case resolved.BoolType:
		if v.Kind == jcs.Bool {
			return types.Boolean(v.Bool), nil
		}
	}
	return convert(t, cloneStrings(v.Any()))
}

func cloneStrings(x any) any {
	switch x := x.(type) {
	case string:
		return strings.Clone(x)
	case []any:
		for i := range x {
			x[i] = cloneStrings(x[i])
		}
	}
	return x
}

// Extract returns rec's policy attributes. A field that rec lacks is absent
// (policies test it with `has`); a field of the wrong type is an error that
// names it.
func (e *Extractor) Extract(rec map[string]any) (types.RecordMap, error) {
	m := make(types.RecordMap, len(e.fields))
	for _, f := range e.fields {
		raw, ok := rec[string(f.name)]
		if !ok || raw == nil {
			continue
		}
		v, err := convert(f.typ, raw)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", f.name, err)
		}
		m[f.name] = v
	}
	return m, nil
}

func convert(t resolved.IsType, raw any) (types.Value, error) {
	switch t := t.(type) {
	case resolved.StringType:
		if s, ok := raw.(string); ok {
			return types.String(s), nil
		}
	case resolved.BoolType:
		if b, ok := raw.(bool); ok {
			return types.Boolean(b), nil
		}
	case resolved.LongType:
		return toLong(raw)
	case resolved.ExtensionType:
		if t == "datetime" {
			if tm, ok := raw.(time.Time); ok { // a YAML timestamp
				return types.NewDatetime(tm), nil
			}
			if s, ok := raw.(string); ok {
				tm, err := schemas.ParseInstant(s) // any RFC 3339 spelling, as the schema accepts
				if err != nil {
					return nil, err
				}
				return types.NewDatetime(tm), nil
			}
		}
	case resolved.SetType:
		if list, ok := raw.([]any); ok {
			vs := make([]types.Value, len(list))
			for i, x := range list {
				v, err := convert(t.Element, x)
				if err != nil {
					return nil, fmt.Errorf("item %d: %w", i, err)
				}
				vs[i] = v
			}
			return types.NewSet(vs...), nil
		}
	}
	return nil, fmt.Errorf("%v does not fit the Cedar type %T", raw, t)
}

func toLong(raw any) (types.Value, error) {
	switch n := raw.(type) {
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			return nil, fmt.Errorf("%s is not a 64-bit integer", n)
		}
		return types.Long(i), nil
	case int64:
		return types.Long(n), nil
	case int:
		return types.Long(n), nil
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return types.Long(int64(n)), nil
		}
	}
	return nil, fmt.Errorf("%v is not an integer", raw)
}
