package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/internal/jcs"
)

// Statement body types.
const (
	TypeManifest   = "caravan.manifest/v1"
	TypeRetraction = "caravan.retraction/v1"
)

// Manifest publishes one version of a dataset.
type Manifest struct {
	Type        string    `json:"type"`
	Dataset     string    `json:"dataset"`
	Version     uint64    `json:"version"`
	Previous    string    `json:"previous"` // CID of the previous version's manifest, or ""
	Schema      SchemaRef `json:"schema"`
	Publisher   string    `json:"publisher"` // org id
	Created     time.Time `json:"created"`
	Records     uint64    `json:"records"`
	Tree        TreeHead  `json:"tree"`
	Labels      []string  `json:"labels"`
	Description string    `json:"description"`
	Purposes    []string  `json:"purposes"`
}

// SchemaRef pins the schema the records were validated with.
type SchemaRef struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	CID     string `json:"cid"`
}

// TreeHead is the size and root of the record tree.
type TreeHead struct {
	Size uint64 `json:"size"`
	Root []byte `json:"root"` // 32-byte RFC 6962 root, base64 in JSON
}

// Retraction withdraws a dataset: every catalog hides it from then on.
type Retraction struct {
	Type      string    `json:"type"`
	Dataset   string    `json:"dataset"`
	Publisher string    `json:"publisher"`
	Created   time.Time `json:"created"`
	// Last is the CID of the newest manifest of the dataset the publisher
	// knew of.
	Last   string `json:"last"`
	Reason string `json:"reason"`
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)

// ValidName reports whether s may name a dataset or a publisher: lower-case
// letters, digits, '.', '_' and '-', at most 128, starting with a letter or
// digit.
func ValidName(s string) bool { return namePattern.MatchString(s) }

var purposePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidPurpose reports whether s may name a purpose (customs-clearance):
// lower-case letters, digits and '-', at most 63, starting with a letter or
// digit. Purposes go into policies' context, journal entries and file
// names, so they are short identifiers.
func ValidPurpose(s string) bool { return purposePattern.MatchString(s) }

// PurposeRule says what ValidPurpose accepts, for error messages.
const PurposeRule = "a purpose is lower-case letters, digits and '-', at most 63, e.g. customs-clearance"

// Validate checks a manifest's fields.
func (m *Manifest) Validate() error {
	switch {
	case m.Type != TypeManifest:
		return fmt.Errorf("%w: type %q", ErrMalformed, m.Type)
	case !namePattern.MatchString(m.Dataset):
		return fmt.Errorf("%w: dataset %q is not a valid name (lower-case letters, digits, '.', '_', '-')", ErrMalformed, m.Dataset)
	case m.Version < 1:
		return fmt.Errorf("%w: version must be at least 1", ErrMalformed)
	case (m.Version == 1) != (m.Previous == ""):
		return fmt.Errorf("%w: version %d with previous %q (only version 1 has no previous)", ErrMalformed, m.Version, m.Previous)
	case !namePattern.MatchString(m.Publisher):
		return fmt.Errorf("%w: publisher %q", ErrMalformed, m.Publisher)
	case m.Schema.ID == "" || m.Schema.Version < 1:
		return fmt.Errorf("%w: schema", ErrMalformed)
	case m.Records != m.Tree.Size:
		return fmt.Errorf("%w: %d records but a tree of %d", ErrMalformed, m.Records, m.Tree.Size)
	case len(m.Tree.Root) != 32:
		return fmt.Errorf("%w: tree root is %d bytes, want 32", ErrMalformed, len(m.Tree.Root))
	case m.Created.IsZero():
		return fmt.Errorf("%w: no creation time", ErrMalformed)
	}
	for _, p := range m.Purposes {
		if !ValidPurpose(p) {
			return fmt.Errorf("%w: purpose %.80q: %s", ErrMalformed, p, PurposeRule)
		}
	}
	for _, c := range []string{m.Previous, m.Schema.CID} {
		if c == "" {
			continue
		}
		if _, err := cid.Decode(c); err != nil {
			return fmt.Errorf("%w: %q is not a CID", ErrMalformed, c)
		}
	}
	return nil
}

// Validate checks a retraction's fields.
func (r *Retraction) Validate() error {
	switch {
	case r.Type != TypeRetraction:
		return fmt.Errorf("%w: type %q", ErrMalformed, r.Type)
	case !namePattern.MatchString(r.Dataset) || !namePattern.MatchString(r.Publisher):
		return fmt.Errorf("%w: dataset or publisher", ErrMalformed)
	case r.Created.IsZero():
		return fmt.Errorf("%w: no creation time", ErrMalformed)
	}
	if _, err := cid.Decode(r.Last); err != nil {
		return fmt.Errorf("%w: last %q is not a CID", ErrMalformed, r.Last)
	}
	return nil
}

// BodyType returns the "type" of a statement's body.
func (s *Statement) BodyType() string { return s.decode().typ }

// Manifest decodes the statement's body as a manifest and validates it.
// The body is decoded once per statement: the result is shared, and
// callers must not modify it.
func (s *Statement) Manifest() (*Manifest, error) {
	d := s.decode()
	if d.manifest == nil {
		return nil, d.errFor(TypeManifest)
	}
	return d.manifest, nil
}

// Retraction decodes the statement's body as a retraction and validates it.
// Like Manifest, the result is shared.
func (s *Statement) Retraction() (*Retraction, error) {
	d := s.decode()
	if d.retraction == nil {
		return nil, d.errFor(TypeRetraction)
	}
	return d.retraction, nil
}

// decodedBody is a statement's body decoded by its type.
type decodedBody struct {
	typ          string
	manifest     *Manifest
	retraction   *Retraction
	registration *Registration
	sealed       *Sealed
	err          error // decoding or validating the body as typ
}

func (d *decodedBody) errFor(typ string) error {
	if d.typ != typ {
		return fmt.Errorf("%w: type %q, want %q", ErrMalformed, d.typ, typ)
	}
	return d.err
}

// decode decodes the body once: a gossiped statement is asked for its org,
// type and manifest several times between the validator and the catalog.
// A decoded statement brings its parsed body along (DecodeStatement); a
// signed one is parsed here.
func (s *Statement) decode() *decodedBody {
	s.once.Do(func() {
		v := s.parsed
		s.parsed = nil // not needed again
		if v == nil {
			pv, err := jcs.ParseValue(s.Body)
			if err != nil {
				s.decoded = &decodedBody{err: fmt.Errorf("%w: %v", ErrMalformed, err)}
				return
			}
			v = &pv
		}
		d := &decodedBody{typ: bodyType(v)}
		switch d.typ {
		case TypeManifest:
			var m *Manifest
			if m, d.err = decodeManifest(v); d.err == nil {
				if d.err = m.Validate(); d.err == nil {
					d.manifest = m
				}
			}
		case TypeRetraction:
			var r *Retraction
			if r, d.err = decodeRetraction(v); d.err == nil {
				if d.err = r.Validate(); d.err == nil {
					d.retraction = r
				}
			}
		case TypeRegistration:
			var r *Registration
			if r, d.err = decodeRegistration(v); d.err == nil {
				if d.err = r.Validate(); d.err == nil {
					d.registration = r
				}
			}
		case TypeSealed:
			var sl *Sealed
			if sl, d.err = decodeSealed(v); d.err == nil {
				if d.err = sl.Validate(); d.err == nil {
					d.sealed = sl
				}
			}
		}
		s.decoded = d
	})
	return s.decoded
}

// Org returns the publisher org named in the statement's body.
func (s *Statement) Org() (string, error) {
	switch s.BodyType() {
	case TypeManifest:
		m, err := s.Manifest()
		if err != nil {
			return "", err
		}
		return m.Publisher, nil
	case TypeRetraction:
		r, err := s.Retraction()
		if err != nil {
			return "", err
		}
		return r.Publisher, nil
	case TypeRegistration:
		r, err := s.Registration()
		if err != nil {
			return "", err
		}
		return r.Publisher, nil
	case TypeSealed:
		sl, err := s.Sealed()
		if err != nil {
			return "", err
		}
		return sl.Publisher, nil
	}
	return "", fmt.Errorf("%w: unknown type %q", ErrMalformed, s.BodyType())
}

func jsonMarshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
