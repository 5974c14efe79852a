package manifest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/internal/jcs"
)

// TypeRegistration is the body type of a schema registration.
const TypeRegistration = "caravan.schema/v1"

// Registration registers a dataset schema in the consortium's registry:
// its owner org, a name, a version (MAJOR.MINOR) and the JSON Schema
// 2020-12 document itself (schemas/registry.md). Manifests pin a schema by
// the CID of its document (DocumentCID).
type Registration struct {
	Type      string          `json:"type"`
	Publisher string          `json:"publisher"` // the owner org
	Name      string          `json:"name"`
	Version   string          `json:"version"` // MAJOR.MINOR
	Created   time.Time       `json:"created"`
	Document  json.RawMessage `json:"document"` // a JSON object, in RFC 8785 form once signed
}

var registrationVersion = regexp.MustCompile(`^(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$`)

// Validate checks a registration's fields; whether its document is a good
// schema is the registry's to say (schemas.Compile).
func (r *Registration) Validate() error {
	switch {
	case r.Type != TypeRegistration:
		return fmt.Errorf("%w: type %q", ErrMalformed, r.Type)
	case !namePattern.MatchString(r.Publisher):
		return fmt.Errorf("%w: publisher %q", ErrMalformed, r.Publisher)
	case !namePattern.MatchString(r.Name):
		return fmt.Errorf("%w: schema name %q is not a valid name (lower-case letters, digits, '.', '_', '-')", ErrMalformed, r.Name)
	case !registrationVersion.MatchString(r.Version) || r.Version == "0.0":
		return fmt.Errorf("%w: schema version %q is not MAJOR.MINOR", ErrMalformed, r.Version)
	case r.Created.IsZero():
		return fmt.Errorf("%w: no creation time", ErrMalformed)
	case len(r.Document) == 0 || r.Document[0] != '{':
		return fmt.Errorf("%w: the document is not a JSON object", ErrMalformed)
	}
	return nil
}

// DocumentCID is the CID of the schema document: the CID a manifest's
// schema.cid names.
func (r *Registration) DocumentCID() cid.Cid { return cids.OfJSON(r.Document) }

// Registration decodes the statement's body as a registration and
// validates it. Like Manifest, the result is shared.
func (s *Statement) Registration() (*Registration, error) {
	d := s.decode()
	if d.registration == nil {
		return nil, d.errFor(TypeRegistration)
	}
	return d.registration, nil
}

func decodeRegistration(v *jcs.Value) (*Registration, error) {
	var r Registration
	err := members(v, "registration", func(key string, f *jcs.Value) (err error) {
		switch key {
		case "type":
			r.Type, err = str(f)
		case "publisher":
			r.Publisher, err = str(f)
		case "name":
			r.Name, err = str(f)
		case "version":
			r.Version, err = str(f)
		case "created":
			r.Created, err = timeValue(f)
		case "document":
			if f.Kind != jcs.Object {
				return fmt.Errorf("%w: registration.document is not an object", ErrMalformed)
			}
			r.Document, err = f.AppendCanonical(nil)
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
