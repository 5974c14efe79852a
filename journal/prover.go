package journal

import (
	"context"
	"fmt"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
)

// proverCacheMax bounds the full tiles a Prover keeps expanded (about
// 16 KiB each).
const proverCacheMax = 4096

// Prover builds inclusion proofs from a log's tiles. A tile holds only the
// bottom hashes of its 8-level stratum, so a node inside it must be hashed up
// from up to 256 of them: tessera's ProofBuilder does that on every proof
// (about 700 SHA-256 per proof). A full tile never changes, so the Prover
// expands each full tile it reads into all 511 of its nodes once and keeps
// them; so does a partial tile of a given width (it is a prefix of the full
// one, and never changes either). Proofs then look nodes up. Safe for
// concurrent use.
type Prover struct {
	src Source

	mu    sync.Mutex
	tiles map[tileKey]*tileTree
}

type tileKey struct {
	level, index uint64
	width        uint8
}

// tileTree holds every node of a tile: row h has width>>h hashes.
type tileTree struct {
	rows [layout.TileHeight + 1][][]byte
}

// NewProver returns a prover reading tiles from src.
func NewProver(src Source) *Prover { return &Prover{src: src, tiles: map[tileKey]*tileTree{}} }

// InclusionProof returns the RFC 6962 inclusion proof of entry index in the
// tree of the given size.
func (p *Prover) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		if hashes[i], err = p.node(ctx, id, size); err != nil {
			return nil, err
		}
	}
	return nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}

// node returns the hash of a perfect subtree node of a tree of size.
func (p *Prover) node(ctx context.Context, id compact.NodeID, size uint64) ([]byte, error) {
	level := uint64(id.Level) / layout.TileHeight
	h := uint(id.Level) % layout.TileHeight
	first := id.Index << h // first stratum position under the node
	tileIdx := first / layout.TileWidth
	t, err := p.tile(ctx, level, tileIdx, layout.PartialTileSize(level, tileIdx, size))
	if err != nil {
		return nil, err
	}
	i := (first % layout.TileWidth) >> h
	if i >= uint64(len(t.rows[h])) {
		return nil, fmt.Errorf("tile %d/%d has no node %d at height %d", level, tileIdx, i, h)
	}
	return t.rows[h][i], nil
}

// tile returns the expanded tile (level, index) of width w (0: full). A
// tile of a given width never changes, so it is expanded once and kept.
func (p *Prover) tile(ctx context.Context, level, index uint64, w uint8) (*tileTree, error) {
	k := tileKey{level, index, w}
	p.mu.Lock()
	t, ok := p.tiles[k]
	p.mu.Unlock()
	if ok {
		return t, nil
	}
	data, err := p.src.ReadTile(ctx, level, index, w)
	if err != nil {
		return nil, fmt.Errorf("tile %d/%d.p/%d: %w", level, index, w, err)
	}
	n := int(w)
	if w == 0 {
		n = layout.TileWidth
	}
	if len(data) != n*32 {
		return nil, fmt.Errorf("tile %d/%d.p/%d: %d bytes, want %d", level, index, w, len(data), n*32)
	}
	t = &tileTree{}
	t.rows[0] = make([][]byte, n)
	for i := range t.rows[0] {
		t.rows[0][i] = data[i*32 : (i+1)*32]
	}
	for h := 1; h <= layout.TileHeight; h++ {
		prev := t.rows[h-1]
		row := make([][]byte, len(prev)/2)
		for i := range row {
			row[i] = rfc6962.DefaultHasher.HashChildren(prev[2*i], prev[2*i+1])
		}
		t.rows[h] = row
	}
	p.mu.Lock()
	if len(p.tiles) >= proverCacheMax {
		for old := range p.tiles { // drop an arbitrary one
			delete(p.tiles, old)
			break
		}
	}
	p.tiles[k] = t
	p.mu.Unlock()
	return t, nil
}
