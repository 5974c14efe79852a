package manifest

import (
	"fmt"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/internal/jcs"
)

// TypeSealed is the body type of a sealed statement.
const TypeSealed = "caravan.sealed/v1"

// Sealed announces that its publisher made a statement (a manifest or a
// retraction) of a dataset that not every member may discover, without
// saying what: only the owner, the sealed statement's CID and the time
// (catalog-protocol.md). It is gossiped and caught up like any statement,
// so every catalog converges; the members that the owner's discover
// policy permits ask the owner for the statement itself (Reveal).
type Sealed struct {
	Type      string    `json:"type"`
	Publisher string    `json:"publisher"`
	Created   time.Time `json:"created"`
	Statement string    `json:"statement"` // CID of the sealed statement
}

// Validate checks a sealed statement's fields.
func (s *Sealed) Validate() error {
	switch {
	case s.Type != TypeSealed:
		return fmt.Errorf("%w: type %q", ErrMalformed, s.Type)
	case !namePattern.MatchString(s.Publisher):
		return fmt.Errorf("%w: publisher %q", ErrMalformed, s.Publisher)
	case s.Created.IsZero():
		return fmt.Errorf("%w: no creation time", ErrMalformed)
	}
	if _, err := cid.Decode(s.Statement); err != nil {
		return fmt.Errorf("%w: statement %q is not a CID", ErrMalformed, s.Statement)
	}
	return nil
}

// Sealed decodes the statement's body as a sealed statement and validates
// it. Like Manifest, the result is shared.
func (s *Statement) Sealed() (*Sealed, error) {
	d := s.decode()
	if d.sealed == nil {
		return nil, d.errFor(TypeSealed)
	}
	return d.sealed, nil
}

func decodeSealed(v *jcs.Value) (*Sealed, error) {
	var s Sealed
	err := members(v, "sealed", func(key string, f *jcs.Value) (err error) {
		switch key {
		case "type":
			s.Type, err = str(f)
		case "publisher":
			s.Publisher, err = str(f)
		case "created":
			s.Created, err = timeValue(f)
		case "statement":
			s.Statement, err = str(f)
		default:
			return errUnknown
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &s, nil
}
