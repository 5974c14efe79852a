// Package event is the journal's entry format (schemas/journal.md): the
// event a journal entry encodes, its canonical encoding and its checks. It
// imports no log machinery, so that the API's wire types and offline
// verifiers can use it; package journal names the same types.
package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/caravan-consortium/caravan/internal/jcs"
)

// EventVersion is the version of the event format (schemas/journal.md).
const EventVersion = 1

// Event types.
const (
	TypePublish  = "publish"  // this org published a dataset version
	TypeRetract  = "retract"  // this org retracted a dataset
	TypeDecision = "decision" // this org decided a partner's fetch request
	TypeReceipt  = "receipt"  // this org received records from a partner
	TypePolicy   = "policy"   // a policy bundle was put in force
	TypeRoster   = "roster"   // a roster version was put in force
	TypeSchema   = "schema"   // this org registered a dataset schema
	TypeSealed   = "sealed"   // this org published or retracted a sealed dataset's version (announced sealed)
	TypeDisclose = "disclose" // this org revealed a sealed statement to a member its discover policy permits
)

// MaxEventSize bounds one encoded event.
const MaxEventSize = 16 << 10

// ErrBadEvent is wrapped by Decode's errors.
var ErrBadEvent = errors.New("bad journal event")

// Event is one journal entry. It holds no personal data: identifiers,
// CIDs, counts, hashes and salted commitments only. Its encoding is the
// RFC 8785 form of the JSON object below, which is exactly the log entry.
type Event struct {
	V    int       `json:"v"`
	Type string    `json:"type"`
	Time time.Time `json:"time"` // UTC, millisecond precision
	Org  string    `json:"org"`  // the org whose journal this is

	Dataset  string `json:"dataset,omitempty"`  // dataset name (publish, retract, decision, receipt)
	Manifest string `json:"manifest,omitempty"` // manifest CID (publish, decision, receipt); retraction statement CID (retract); registration statement CID (schema); the hidden statement's CID (sealed, disclose)
	Version  uint64 `json:"version,omitempty"`  // dataset version (publish)
	Records  uint64 `json:"records,omitempty"`  // record count (publish)
	Root     string `json:"root,omitempty"`     // record-tree root (publish)
	Schema   string `json:"schema,omitempty"`   // NAME@MAJOR (publish); NAME@MAJOR.MINOR (schema)
	Document string `json:"document,omitempty"` // CID of the schema document (schema)
	Sealed   string `json:"sealed,omitempty"`   // CID of the sealed statement that announces it (sealed)

	Requester  string `json:"requester,omitempty"`  // org that asked (decision, disclose)
	Provider   string `json:"provider,omitempty"`   // org that answered (receipt)
	Purpose    string `json:"purpose,omitempty"`    // (decision, receipt)
	Permitted  uint64 `json:"permitted,omitempty"`  // records released (decision, receipt)
	Denied     uint64 `json:"denied,omitempty"`     // records withheld (decision, receipt)
	Commitment string `json:"commitment,omitempty"` // hex SHA-256(salt || permitted record CIDs) (decision, receipt)
	Request    string `json:"request,omitempty"`    // hex SHA-256 of the signed request (decision, receipt)
	Decision   *Ref   `json:"decision,omitempty"`   // the provider's decision entry (receipt)

	Bundle   string `json:"bundle,omitempty"`   // policy bundle CID (decision, policy)
	Previous string `json:"previous,omitempty"` // previous bundle CID (policy)

	RosterVersion uint64 `json:"roster_version,omitempty"` // (roster)
	RosterDigest  string `json:"roster_digest,omitempty"`  // hex SHA-256 of the roster's canonical body (roster)
}

// Ref points at an entry of some org's journal.
type Ref struct {
	Origin string `json:"origin"`
	Index  uint64 `json:"index"`
}

// Encode returns the event's canonical bytes, after checking it.
func (e *Event) Encode() ([]byte, error) {
	e.V = EventVersion
	e.Time = e.Time.UTC().Truncate(time.Millisecond)
	if err := e.check(); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	out, err := jcs.Canonicalize(raw)
	if err == nil && len(out) > MaxEventSize { // Decode would refuse it for ever
		return nil, fmt.Errorf("%w: %s event of %d bytes, more than %d", ErrBadEvent, e.Type, len(out), MaxEventSize)
	}
	return out, err
}

// Hash is the event hash that `caravan journal proof --hash` finds an entry
// by: hex SHA-256 of the encoded event.
func Hash(entry []byte) string {
	h := sha256.Sum256(entry)
	return hex.EncodeToString(h[:])
}

// Decode parses an encoded event strictly: I-JSON, known fields only, the
// fields its type requires, and canonical form (so one event has one
// encoding, and one hash).
func Decode(data []byte) (*Event, error) {
	if len(data) > MaxEventSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBadEvent, len(data), MaxEventSize)
	}
	if _, err := jcs.Parse(data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	var e Event
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	if e.V != EventVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadEvent, e.V, EventVersion)
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	again, err := e.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, data) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrBadEvent)
	}
	return &e, nil
}

func (e *Event) check() error {
	bad := func(field string) error {
		return fmt.Errorf("%w: %s event: %s is missing", ErrBadEvent, e.Type, field)
	}
	if e.Org == "" {
		return bad("org")
	}
	if e.Time.IsZero() {
		return bad("time")
	}
	switch e.Type {
	case TypePublish:
		switch {
		case e.Dataset == "":
			return bad("dataset")
		case e.Manifest == "":
			return bad("manifest")
		case e.Version == 0:
			return bad("version")
		}
	case TypeRetract:
		if e.Dataset == "" {
			return bad("dataset")
		}
		if e.Manifest == "" {
			return bad("manifest")
		}
	case TypeDecision:
		switch {
		case e.Requester == "":
			return bad("requester")
		case e.Manifest == "":
			return bad("manifest")
		case e.Bundle == "":
			return bad("bundle")
		case e.Request == "":
			return bad("request")
		}
	case TypeReceipt:
		switch {
		case e.Provider == "":
			return bad("provider")
		case e.Manifest == "":
			return bad("manifest")
		case e.Decision == nil:
			return bad("decision")
		}
	case TypePolicy:
		if e.Bundle == "" {
			return bad("bundle")
		}
	case TypeSchema:
		switch {
		case e.Schema == "":
			return bad("schema")
		case e.Manifest == "":
			return bad("manifest")
		case e.Document == "":
			return bad("document")
		}
	case TypeSealed:
		switch {
		case e.Manifest == "":
			return bad("manifest")
		case e.Sealed == "":
			return bad("sealed")
		}
	case TypeDisclose:
		switch {
		case e.Requester == "":
			return bad("requester")
		case e.Manifest == "":
			return bad("manifest")
		}
	case TypeRoster:
		if e.RosterVersion == 0 {
			return bad("roster_version")
		}
		if e.RosterDigest == "" {
			return bad("roster_digest")
		}
	default:
		return fmt.Errorf("%w: unknown type %q", ErrBadEvent, e.Type)
	}
	return nil
}

// Summary is a one-line description of the event, for `caravan journal log`.
func (e *Event) Summary() string {
	switch e.Type {
	case TypePublish:
		return fmt.Sprintf("publish %s v%d: %d records, manifest %s", e.Dataset, e.Version, e.Records, e.Manifest)
	case TypeRetract:
		return fmt.Sprintf("retract %s (%s)", e.Dataset, e.Manifest)
	case TypeDecision:
		return fmt.Sprintf("decision for %s on %s, purpose %s: %d permitted, %d denied (bundle %s)",
			e.Requester, e.Manifest, e.Purpose, e.Permitted, e.Denied, e.Bundle)
	case TypeReceipt:
		return fmt.Sprintf("receipt from %s of %s, purpose %s: %d received, %d withheld (decision %s #%d)",
			e.Provider, e.Manifest, e.Purpose, e.Permitted, e.Denied, e.Decision.Origin, e.Decision.Index)
	case TypePolicy:
		return fmt.Sprintf("policy bundle %s in force (was %s)", e.Bundle, orNone(e.Previous))
	case TypeRoster:
		return fmt.Sprintf("roster version %d in force (digest %.16s)", e.RosterVersion, e.RosterDigest)
	case TypeSchema:
		return fmt.Sprintf("schema %s registered: document %s, statement %s", e.Schema, e.Document, e.Manifest)
	case TypeSealed:
		return fmt.Sprintf("sealed statement %s announced as %s", e.Manifest, e.Sealed)
	case TypeDisclose:
		return fmt.Sprintf("sealed statement %s revealed to %s", e.Manifest, e.Requester)
	}
	return e.Type
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
