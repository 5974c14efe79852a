package api

import (
	"time"

	"github.com/caravan-consortium/caravan/journal/event"
)

// The journal's wire types: the gateway's view of the transparency
// journals (schemas/journal.md), as the API answers it.

// JournalStatus is a gateway's view of its journal: its own log, how far
// its newest checkpoint is witnessed, and the mirrors it keeps of the
// others'.
type JournalStatus struct {
	Origin  string         `json:"origin"`
	Size    uint64         `json:"size"`
	Cosigs  []Cosig        `json:"cosigs"` // on the newest checkpoint of its log
	Witness bool           `json:"witnessed"`
	Mirrors []MirrorStatus `json:"mirrors"`
	Alerts  uint64         `json:"alerts"`
}

// MirrorStatus is one mirrored log.
type MirrorStatus struct {
	Org  string `json:"org"`
	Size uint64 `json:"size"`
	// Heard is the newest size of the member's checkpoints heard since the
	// gateway started (0: none yet); Heard - Size is how far the mirror lags.
	Heard uint64 `json:"heard"`
}

// Cosig is a member's cosignature on a checkpoint.
type Cosig struct {
	Org  string    `json:"org"`
	Name string    `json:"name"`
	Time time.Time `json:"time"`
}

// EvidenceReport is what a verified evidence file proves.
type EvidenceReport struct {
	Org        string       `json:"org"`        // whose journal
	Origin     string       `json:"origin"`     // the log
	Index      uint64       `json:"index"`      // the entry's index
	Size       uint64       `json:"size"`       // the checkpoint's tree size
	Root       []byte       `json:"root"`       // the checkpoint's root (base64 in JSON, as in the checkpoint)
	Event      *event.Event `json:"event"`      // the entry
	EventHash  string       `json:"event_hash"` // hex SHA-256 of the entry
	Cosigs     []Cosig      `json:"cosigs"`     // witnesses that cosigned the checkpoint
	Threshold  int          `json:"threshold"`  // cosignatures required
	Witnessed  bool         `json:"witnessed"`
	LeafHash   []byte       `json:"leaf_hash"`
	ProofDepth int          `json:"proof_depth"`
}

// ForkAlert is one saved fork alert: a member's checkpoint that
// contradicted a verified one.
type ForkAlert struct {
	File   string `json:"file"` // the evidence: both signed checkpoints
	Origin string `json:"origin"`
	Reason string `json:"reason"`
	At     string `json:"at"`
	// Size is the tree size the checkpoints contradict each other at, and
	// Conflicts the distinct contradicting checkpoints received for it.
	Size      string `json:"size,omitempty"`
	Conflicts int    `json:"conflicts,omitempty"`
}
