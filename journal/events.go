package journal

import "github.com/caravan-consortium/caravan/journal/event"

// The entry format lives in package event, which imports no log
// machinery; these are its names here, where the log's code uses them.

type (
	Event = event.Event
	Ref   = event.Ref
)

const (
	EventVersion = event.EventVersion
	MaxEventSize = event.MaxEventSize

	TypePublish  = event.TypePublish
	TypeRetract  = event.TypeRetract
	TypeDecision = event.TypeDecision
	TypeReceipt  = event.TypeReceipt
	TypePolicy   = event.TypePolicy
	TypeRoster   = event.TypeRoster
	TypeSchema   = event.TypeSchema
	TypeSealed   = event.TypeSealed
	TypeDisclose = event.TypeDisclose
)

// ErrBadEvent is wrapped by Decode's errors.
var ErrBadEvent = event.ErrBadEvent

// Decode reads an encoded event and checks it (event.Decode).
func Decode(data []byte) (*Event, error) { return event.Decode(data) }

// Hash is an entry's event hash (event.Hash).
func Hash(entry []byte) string { return event.Hash(entry) }
