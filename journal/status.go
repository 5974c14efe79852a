package journal

// Status is a gateway's view of its journal: its own log, how far its
// newest checkpoint is witnessed, and the mirrors it keeps of the others'.
type Status struct {
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
