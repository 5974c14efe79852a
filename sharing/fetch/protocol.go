package fetch

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ID is the fetch protocol: a member streams a dataset's permitted records
// from their owner (spec: schemas/fetch-protocol.md).
const ID = "/caravan/fetch/1.0.0"

// Body types of fetch statements.
const (
	TypeRequest = "caravan.fetch-request/v1"
	TypeReceipt = "caravan.fetch-receipt/v1"
)

// Limits of the fetch protocol.
const (
	MaxRequest = 64 << 10 // a signed request
	MaxFrame   = 16 << 20 // one response frame
	ChunkWidth = 256      // leaves per chunk
	Skew       = 5 * time.Minute
)

// Frame kinds of a fetch response: a header, chunks, then a receipt (or an
// error at any point).
const (
	frameHeader  = 'H'
	frameChunk   = 'C'
	frameReceipt = 'R'
	frameError   = 'E'
)

// Errors callers check with errors.Is. A refusal reaches the requester as a
// *RefusedError in the provider's words; ErrReplay, ErrStale, ErrNotMember,
// ErrBusy and ErrNotProvider are the provider's side of them.
var (
	// ErrFrame is wrapped by the frame decoder's errors, and when frames
	// come out of order.
	ErrFrame = errors.New("malformed fetch frame")
	// ErrTampered is wrapped by a *TamperError.
	ErrTampered = errors.New("fetched data failed verification")
	// ErrProof is wrapped when a chunk does not prove against the
	// manifest's record-tree root.
	ErrProof       = errors.New("records do not prove against the manifest's root")
	ErrReplay      = errors.New("request replayed: its nonce was already used")
	ErrStale       = errors.New("request time outside the accepted window")
	ErrBudget      = errors.New("over the fetch budget")
	ErrNotMember   = errors.New("requester is not a member node of the org it claims")
	ErrBusy        = errors.New("too many concurrent fetches from this peer")
	ErrNotProvider = errors.New("this gateway does not publish that manifest")
	// ErrNoCheckpoint: a receipt came without a signed checkpoint of the
	// provider's journal covering its decision entry.
	ErrNoCheckpoint = errors.New("the receipt carries no checkpoint of the provider's journal")
)

// TamperError: a chunk did not verify against the signed manifest. Nothing
// of the response was kept; Frame is the offending frame, as evidence.
type TamperError struct {
	Begin, End uint64
	Frame      []byte
	Err        error
}

func (e *TamperError) Error() string {
	return fmt.Sprintf("%v: records [%d, %d): %v", ErrTampered, e.Begin, e.End, e.Err)
}

func (e *TamperError) Unwrap() error { return ErrTampered }

// RefusedError is the provider's refusal, as it worded it.
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return "the provider refused: " + e.Msg }

// Request is the body of a signed fetch request.
type Request struct {
	Type     string    `json:"type"`
	Manifest string    `json:"manifest"`
	Purpose  string    `json:"purpose"`
	Org      string    `json:"org"`  // the requesting org
	Node     string    `json:"node"` // the requesting node's PeerID
	Nonce    string    `json:"nonce"`
	Time     time.Time `json:"time"`
	// Select, if set, lists the record indices wanted, ascending;
	// SelectCIDs the records wanted by CID (either list, or both: their
	// union). From skips every index below it (a resumed fetch).
	// Unselected records are not decided and not counted.
	Select     []uint64 `json:"select,omitempty"`
	SelectCIDs []string `json:"select_cids,omitempty"`
	From       uint64   `json:"from,omitempty"`
}

// header opens a response.
type header struct {
	Permitted uint64 `json:"permitted"`
	Denied    uint64 `json:"denied"`
	Size      uint64 `json:"size"`     // the record tree's size
	Decision  string `json:"decision"` // the provider's journal origin
	Index     uint64 `json:"index"`    // the decision entry
	Bundle    string `json:"bundle"`   // policy bundle CID
	// NotOffered: the manifest does not offer the purpose; every selected
	// record was denied without consulting the policies.
	NotOffered bool     `json:"not_offered,omitempty"`
	Offered    []string `json:"offered,omitempty"`
}

// Receipt is the body of the provider's signed receipt, the last frame.
type Receipt struct {
	Type       string `json:"type"`
	Request    string `json:"request"` // hex SHA-256 of the signed request
	Manifest   string `json:"manifest"`
	Provider   string `json:"provider"`
	Requester  string `json:"requester"`
	Purpose    string `json:"purpose"`
	Permitted  uint64 `json:"permitted"`
	Denied     uint64 `json:"denied"`
	Commitment string `json:"commitment"` // hex SHA-256(salt || permitted CIDs), as journaled
	Origin     string `json:"origin"`     // the provider's journal
	Index      uint64 `json:"index"`      // its decision entry
	Checkpoint string `json:"checkpoint"` // a signed checkpoint of that journal covering the entry ("" if none yet)
}

// receiptFrame is the body of the last frame: the signed receipt, and the
// salt that opens the journaled commitment.
type receiptFrame struct {
	Receipt json.RawMessage `json:"receipt"`
	Salt    string          `json:"salt"`
}
