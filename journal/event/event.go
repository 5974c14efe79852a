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
	fields, ok := required[e.Type]
	if !ok && e.Org != "" && !e.Time.IsZero() {
		return fmt.Errorf("%w: unknown type %q", ErrBadEvent, e.Type)
	}
	for _, f := range append([]field{fOrg, fTime}, fields...) {
		if !f.set(e) {
			return fmt.Errorf("%w: %s event: %s is missing", ErrBadEvent, e.Type, f.name)
		}
	}
	return nil
}

// field is a member an event must carry, by its JSON name.
type field struct {
	name string
	set  func(*Event) bool
}

var (
	fOrg           = field{"org", func(e *Event) bool { return e.Org != "" }}
	fTime          = field{"time", func(e *Event) bool { return !e.Time.IsZero() }}
	fDataset       = field{"dataset", func(e *Event) bool { return e.Dataset != "" }}
	fManifest      = field{"manifest", func(e *Event) bool { return e.Manifest != "" }}
	fVersion       = field{"version", func(e *Event) bool { return e.Version != 0 }}
	fRequester     = field{"requester", func(e *Event) bool { return e.Requester != "" }}
	fProvider      = field{"provider", func(e *Event) bool { return e.Provider != "" }}
	fBundle        = field{"bundle", func(e *Event) bool { return e.Bundle != "" }}
	fRequest       = field{"request", func(e *Event) bool { return e.Request != "" }}
	fDecision      = field{"decision", func(e *Event) bool { return e.Decision != nil }}
	fSchema        = field{"schema", func(e *Event) bool { return e.Schema != "" }}
	fDocument      = field{"document", func(e *Event) bool { return e.Document != "" }}
	fSealed        = field{"sealed", func(e *Event) bool { return e.Sealed != "" }}
	fRosterVersion = field{"roster_version", func(e *Event) bool { return e.RosterVersion != 0 }}
	fRosterDigest  = field{"roster_digest", func(e *Event) bool { return e.RosterDigest != "" }}
)

// required lists, for each event type, the members it must carry beside
// org and time, in the order they are checked (schemas/journal.md).
var required = map[string][]field{
	TypePublish:  {fDataset, fManifest, fVersion},
	TypeRetract:  {fDataset, fManifest},
	TypeDecision: {fRequester, fManifest, fBundle, fRequest},
	TypeReceipt:  {fProvider, fManifest, fDecision},
	TypePolicy:   {fBundle},
	TypeSchema:   {fSchema, fManifest, fDocument},
	TypeSealed:   {fManifest, fSealed},
	TypeDisclose: {fRequester, fManifest},
	TypeRoster:   {fRosterVersion, fRosterDigest},
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
