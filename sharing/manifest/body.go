package manifest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/caravan-consortium/caravan/internal/jcs"
)

// Statement bodies are decoded from their parsed JSON value, field by
// field, rather than with encoding/json: every gateway decodes every
// gossiped and caught-up statement, and encoding/json (a type probe, then a
// strict decode) was about a third of a catch-up's CPU. The rules are
// encoding/json's with DisallowUnknownFields, except that keys must match
// exactly (encoding/json also takes "Dataset" for "dataset"); a canonical
// statement never has such keys. TestBodyDecoderMatchesEncodingJSON checks
// the two against each other.

// bodyType returns the "type" member of a body, or "".
func bodyType(v *jcs.Value) string {
	for _, m := range v.Members() {
		if m.Key == "type" && m.Value.Kind == jcs.String {
			return m.Value.Str
		}
	}
	return ""
}

func decodeManifest(v *jcs.Value) (*Manifest, error) {
	var m Manifest
	err := members(v, "manifest", func(key string, f *jcs.Value) (err error) {
		switch key {
		case "type":
			m.Type, err = str(f)
		case "dataset":
			m.Dataset, err = str(f)
		case "version":
			m.Version, err = uintValue(f)
		case "previous":
			m.Previous, err = str(f)
		case "schema":
			m.Schema, err = decodeSchemaRef(f)
		case "publisher":
			m.Publisher, err = str(f)
		case "created":
			m.Created, err = timeValue(f)
		case "records":
			m.Records, err = uintValue(f)
		case "tree":
			m.Tree, err = decodeTreeHead(f)
		case "labels":
			m.Labels, err = strs(f)
		case "description":
			m.Description, err = str(f)
		case "purposes":
			m.Purposes, err = strs(f)
		default:
			return errUnknown
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

func decodeSchemaRef(v *jcs.Value) (SchemaRef, error) {
	var r SchemaRef
	err := members(v, "manifest.schema", func(key string, f *jcs.Value) (err error) {
		switch key {
		case "id":
			r.ID, err = str(f)
		case "version":
			r.Version, err = intValue(f)
		case "cid":
			r.CID, err = str(f)
		default:
			return errUnknown
		}
		return err
	})
	return r, err
}

func decodeTreeHead(v *jcs.Value) (TreeHead, error) {
	var t TreeHead
	err := members(v, "manifest.tree", func(key string, f *jcs.Value) (err error) {
		switch key {
		case "size":
			t.Size, err = uintValue(f)
		case "root":
			t.Root, err = bytesValue(f)
		default:
			return errUnknown
		}
		return err
	})
	return t, err
}

func decodeRetraction(v *jcs.Value) (*Retraction, error) {
	var r Retraction
	err := members(v, "retraction", func(key string, f *jcs.Value) (err error) {
		switch key {
		case "type":
			r.Type, err = str(f)
		case "dataset":
			r.Dataset, err = str(f)
		case "publisher":
			r.Publisher, err = str(f)
		case "created":
			r.Created, err = timeValue(f)
		case "last":
			r.Last, err = str(f)
		case "reason":
			r.Reason, err = str(f)
		default:
			return errUnknown
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// errUnknown is what a member function returns for a key it does not know.
var errUnknown = errors.New("unknown field")

// members calls f with each member of an object (a null is an empty one,
// as encoding/json has it); what names the object in errors.
func members(v *jcs.Value, what string, f func(key string, v *jcs.Value) error) error {
	switch v.Kind {
	case jcs.Null:
		return nil
	case jcs.Object:
	default:
		return fmt.Errorf("%w: %s is not an object", ErrMalformed, what)
	}
	ms := v.Members()
	for i := range ms {
		switch err := f(ms[i].Key, &ms[i].Value); {
		case err == errUnknown:
			return fmt.Errorf("%w: %s: unknown field %q", ErrMalformed, what, ms[i].Key)
		case errors.Is(err, ErrMalformed): // from a nested object, already named
			return err
		case err != nil:
			return fmt.Errorf("%w: %s.%s: %v", ErrMalformed, what, ms[i].Key, err)
		}
	}
	return nil
}

// The field decoders leave the zero value for a null, as encoding/json does.

func str(v *jcs.Value) (string, error) {
	switch v.Kind {
	case jcs.Null:
		return "", nil
	case jcs.String:
		return v.Str, nil
	}
	return "", fmt.Errorf("want a string")
}

func strs(v *jcs.Value) ([]string, error) {
	switch v.Kind {
	case jcs.Null:
		return nil, nil
	case jcs.Array:
	default:
		return nil, fmt.Errorf("want an array of strings")
	}
	items := v.Items()
	out := make([]string, len(items))
	for i := range items {
		s, err := str(&items[i])
		if err != nil {
			return nil, fmt.Errorf("item %d: %v", i, err)
		}
		out[i] = s
	}
	return out, nil
}

// uintValue takes an integer literal only, as encoding/json does for an
// unsigned field (no fraction, no exponent, no sign).
func uintValue(v *jcs.Value) (uint64, error) {
	switch v.Kind {
	case jcs.Null:
		return 0, nil
	case jcs.Number:
		n, err := strconv.ParseUint(v.Str, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s is not an unsigned integer", v.Str)
		}
		return n, nil
	}
	return 0, fmt.Errorf("want a number")
}

func intValue(v *jcs.Value) (int, error) {
	switch v.Kind {
	case jcs.Null:
		return 0, nil
	case jcs.Number:
		n, err := strconv.ParseInt(v.Str, 10, strconv.IntSize)
		if err != nil {
			return 0, fmt.Errorf("%s is not an integer", v.Str)
		}
		return int(n), nil
	}
	return 0, fmt.Errorf("want a number")
}

// timeValue takes an RFC 3339 string, as time.Time's UnmarshalJSON does.
func timeValue(v *jcs.Value) (time.Time, error) {
	var t time.Time
	switch v.Kind {
	case jcs.Null:
		return t, nil
	case jcs.String:
		err := t.UnmarshalText([]byte(v.Str))
		return t, err
	}
	return t, fmt.Errorf("want an RFC 3339 time string")
}

// bytesValue takes standard base64, as encoding/json does for []byte.
func bytesValue(v *jcs.Value) ([]byte, error) {
	switch v.Kind {
	case jcs.Null:
		return nil, nil
	case jcs.String:
		b, err := base64.StdEncoding.DecodeString(v.Str)
		if err != nil {
			return nil, fmt.Errorf("not base64: %v", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("want a base64 string")
}
