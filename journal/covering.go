package journal

import (
	"context"
	"fmt"
	"time"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// CheckpointCovering returns a checkpoint note, signed by the log, of a tree
// that includes entry index (which must have been appended).
//
// It is the published checkpoint when that covers the entry. Otherwise the
// checkpoint of the integrated tree is signed here: tessera publishes at
// most once per checkpoint interval, and after a skipped publication it
// waits a whole interval more, so an entry appended shortly after a
// publication waited up to two intervals (about 100 ms in practice) for
// its checkpoint, and every fetch receipt with it. The note is the C2SP
// tlog-checkpoint tessera itself would sign at that size, byte for byte
// (Ed25519 signatures are deterministic), and it commits to the same tiles;
// it is only not written to the checkpoint file or gossiped.
func (l *Log) CheckpointCovering(ctx context.Context, index uint64) ([]byte, error) {
	if raw, err := l.Checkpoint(ctx); err == nil {
		var c log.Checkpoint
		if _, err := c.Unmarshal(cpText(raw)); err == nil && c.Size > index {
			return raw, nil
		}
	}
	size, err := l.integrated(ctx, index)
	if err != nil {
		return nil, err
	}
	// A prover of its own: a long-lived one would keep every partial tile
	// it ever expanded, one per width, as the log grows.
	root, err := NewProver(l.Source()).Root(ctx, size)
	if err != nil {
		return nil, fmt.Errorf("journal: root of tree size %d: %w", size, err)
	}
	text := log.Checkpoint{Origin: l.cfg.Origin, Size: size, Hash: root}.Marshal()
	return note.Sign(&note.Note{Text: string(text)}, l.cfg.Signer)
}

// Root returns the RFC 6962 root hash of the log's tree of the given size.
func (p *Prover) Root(ctx context.Context, size uint64) ([]byte, error) {
	if size == 0 {
		return rfc6962.DefaultHasher.EmptyRoot(), nil
	}
	ids := compact.RangeNodes(0, size, nil) // at least one for size > 0
	// The perfect subtrees of [0, size), largest first: fold from the right.
	root, err := p.node(ctx, ids[len(ids)-1], size)
	if err != nil {
		return nil, err
	}
	for i := len(ids) - 2; i >= 0; i-- {
		h, err := p.node(ctx, ids[i], size)
		if err != nil {
			return nil, err
		}
		root = rfc6962.DefaultHasher.HashChildren(h, root)
	}
	return root, nil
}

// integrated returns the size of the integrated tree once it covers index.
// On disk an acknowledged entry is integrated already; on cluster storage
// it is integrated on tessera's one-second timer, so this waits for it
// (at most integrationWait).
func (l *Log) integrated(ctx context.Context, index uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, integrationWait)
	defer cancel()
	for {
		size, err := l.reader.IntegratedSize(ctx)
		if err != nil {
			return 0, fmt.Errorf("journal: integrated size: %w", err)
		}
		if size > index {
			return size, nil
		}
		if l.cfg.Cluster == nil {
			return 0, fmt.Errorf("journal: entry %d is not integrated (tree size %d)", index, size)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("journal: entry %d is not integrated (tree size %d): %w", index, size, ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// integrationWait bounds how long CheckpointCovering waits for an entry
// to be integrated on cluster storage.
const integrationWait = 15 * time.Second
