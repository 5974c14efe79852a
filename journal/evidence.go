package journal

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/formats/proof"
	mproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
)

// ErrBadProof is wrapped by VerifyProof's errors.
var ErrBadProof = errors.New("evidence does not verify")

// ReadEntry returns entry index of a log whose size is at least size.
func ReadEntry(ctx context.Context, src Source, index, size uint64) ([]byte, error) {
	if index >= size {
		return nil, fmt.Errorf("entry %d: the log has %d entries", index, size)
	}
	b, err := client.GetEntryBundle(ctx, src.ReadEntryBundle, index/layout.EntryBundleWidth, size)
	if err != nil {
		return nil, err
	}
	i := index % layout.EntryBundleWidth
	if i >= uint64(len(b.Entries)) {
		return nil, fmt.Errorf("entry %d: bundle too short", index)
	}
	return b.Entries[i], nil
}

// Entries calls fn for each entry in [from, to) of a log of size size.
func Entries(ctx context.Context, src Source, from, to, size uint64, fn func(index uint64, entry []byte) error) error {
	for idx := from / layout.EntryBundleWidth; idx*layout.EntryBundleWidth < to; idx++ {
		data, err := src.ReadEntryBundle(ctx, idx, layout.PartialTileSize(0, idx, size))
		if err != nil {
			return err
		}
		var b api.EntryBundle
		if err := b.UnmarshalText(data); err != nil {
			return err
		}
		for i, e := range b.Entries {
			n := idx*layout.EntryBundleWidth + uint64(i)
			if n < from || n >= to {
				continue
			}
			if err := fn(n, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// BuildProof writes the C2SP tlog-proof of entry index of the log in src,
// under the checkpoint note cp (which should carry the witnesses'
// cosignatures). The entry itself travels as the proof's extra data, so the
// file is self-contained.
func BuildProof(ctx context.Context, src Source, index uint64, cp []byte) ([]byte, error) {
	var c log.Checkpoint
	if _, err := c.Unmarshal(cpText(cp)); err != nil {
		return nil, err
	}
	entry, err := ReadEntry(ctx, src, index, c.Size)
	if err != nil {
		return nil, err
	}
	hashes, err := NewProver(src).InclusionProof(ctx, index, c.Size)
	if err != nil {
		return nil, err
	}
	p := proof.TLogProof{Index: index, Checkpoint: cp, ExtraData: entry}
	for _, h := range hashes {
		p.Hashes = append(p.Hashes, [sha256.Size]byte(h))
	}
	return p.Marshal(), nil
}

func cpText(note []byte) []byte {
	text, _, ok := splitNote(note)
	if !ok {
		return note
	}
	return []byte(text)
}

// Report is what a verified evidence file proves.
type Report struct {
	Org        string  `json:"org"`        // whose journal
	Origin     string  `json:"origin"`     // the log
	Index      uint64  `json:"index"`      // the entry's index
	Size       uint64  `json:"size"`       // the checkpoint's tree size
	Root       []byte  `json:"root"`       // the checkpoint's root (base64 in JSON, as in the checkpoint)
	Event      *Event  `json:"event"`      // the entry
	EventHash  string  `json:"event_hash"` // hex SHA-256 of the entry
	Cosigs     []Cosig `json:"cosigs"`     // witnesses that cosigned the checkpoint
	Threshold  int     `json:"threshold"`  // cosignatures required (Trust.Required)
	Witnessed  bool    `json:"witnessed"`
	LeafHash   []byte  `json:"leaf_hash"`
	ProofDepth int     `json:"proof_depth"`
}

// VerifyProof checks an evidence file offline against the consortium's
// keys: the log's signature on the checkpoint, the entry's inclusion under
// its root, the entry's format, and the witnesses' cosignatures. It fails
// unless the checkpoint is witnessed by the trust's threshold.
func VerifyProof(data []byte, t *Trust) (*Report, error) {
	var p proof.TLogProof
	if err := p.Unmarshal(data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadProof, err)
	}
	origin, cosigs, witnessed, err := t.Check(p.Checkpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadProof, err)
	}
	lk, _ := t.Log(origin)
	c, _, _, err := log.ParseCheckpoint(p.Checkpoint, origin, lk.Verifier)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadProof, err)
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(p.ExtraData)
	hashes := make([][]byte, len(p.Hashes))
	for i := range p.Hashes {
		hashes[i] = p.Hashes[i][:]
	}
	if err := mproof.VerifyInclusion(rfc6962.DefaultHasher, p.Index, c.Size, leaf, hashes, c.Hash); err != nil {
		return nil, fmt.Errorf("%w: entry %d is not in %s at size %d: %v", ErrBadProof, p.Index, origin, c.Size, err)
	}
	ev, err := Decode(p.ExtraData)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadProof, err)
	}
	if ev.Org != lk.Org {
		return nil, fmt.Errorf("%w: the entry names org %q, but the log is %s's", ErrBadProof, ev.Org, lk.Org)
	}
	r := &Report{Org: lk.Org, Origin: origin, Index: p.Index, Size: c.Size, Root: c.Hash, Event: ev,
		EventHash: Hash(p.ExtraData), Cosigs: cosigs, Threshold: t.Required(lk.Org), Witnessed: witnessed,
		LeafHash: leaf, ProofDepth: len(hashes)}
	if !witnessed {
		return r, fmt.Errorf("%w: %w: %d of %d cosignatures", ErrBadProof, ErrUnwitnessed, len(cosigs), r.Threshold)
	}
	return r, nil
}
