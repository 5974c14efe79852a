package fetch

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// leafTree holds every perfect-subtree hash of a record tree (about 2n
// hashes), so that the provider can cut any range's compact nodes. It grows
// as leaves are added in order: a pair completed on one level is hashed
// into the next at once, so the tree is whole with its last leaf, and the
// provider grows it while it decides rather than after (50k records: about
// 12 ms of hashing).
type leafTree struct {
	levels [][]byte // each level's hashes back to back; levels[0] are the leaves'
	h      *manifest.TreeHasher
}

// newLeafTree returns an empty tree with room for n leaves.
func newLeafTree(n uint64) *leafTree {
	t := &leafTree{h: manifest.NewTreeHasher()}
	for w := n; w > 0; w /= 2 {
		t.levels = append(t.levels, make([]byte, 0, w*sha256.Size))
	}
	return t
}

// size is the number of leaves.
func (t *leafTree) size() uint64 {
	if len(t.levels) == 0 {
		return 0
	}
	return uint64(len(t.levels[0]) / sha256.Size)
}

// node is hash i of level l.
func (t *leafTree) node(l int, i uint64) []byte {
	return t.levels[l][i*sha256.Size : (i+1)*sha256.Size : (i+1)*sha256.Size]
}

// addLeaf adds the leaf of the record with CID c.
func (t *leafTree) addLeaf(c cid.Cid) {
	l := t.h.LeafOfCID(c)
	t.add(l[:])
}

// add adds a leaf hash, and hashes each pair it completes into the level
// above.
func (t *leafTree) add(h []byte) {
	for l := 0; ; l++ {
		if l == len(t.levels) {
			t.levels = append(t.levels, nil)
		}
		t.levels[l] = append(t.levels[l], h...)
		n := uint64(len(t.levels[l]) / sha256.Size)
		if n%2 == 1 {
			return
		}
		sum := t.h.Children(t.node(l, n-2), t.node(l, n-1))
		h = sum[:]
	}
}

// rangeHashes returns the hashes of the compact range [begin, end): the
// perfect subtrees that cover it, left to right.
func (t *leafTree) rangeHashes(begin, end uint64) [][]byte {
	if begin >= end {
		return nil
	}
	ids := compact.RangeNodes(begin, end, nil)
	out := make([][]byte, len(ids))
	for i, id := range ids {
		out[i] = t.node(int(id.Level), id.Index)
	}
	return out
}

// verify rebuilds the tree root from the chunk, hashing with h, and checks
// it against the manifest's tree head. Records and gaps must tile
// [Begin, End) in order. The records' binary CIDs are appended to *cids,
// if it is not nil.
func (c *chunk) verify(head manifest.TreeHead, h *manifest.TreeHasher, cids *[]byte) error {
	if c.End > head.Size || c.Begin > c.End {
		return fmt.Errorf("%w: range [%d, %d) of a tree of %d", ErrProof, c.Begin, c.End, head.Size)
	}
	rangeFactory := h.RangeFactory()
	rng, err := rangeFactory.NewRange(0, c.Begin, c.Left)
	if err != nil {
		return fmt.Errorf("%w: left: %v", ErrProof, err)
	}
	pos := c.Begin
	ri, gi := 0, 0
	for pos < c.End {
		switch {
		case ri < len(c.Records) && c.Records[ri].Index == pos:
			var l [32]byte
			if cids != nil {
				l, *cids = h.LeafOfRecordCID(c.Records[ri].Data, *cids)
			} else {
				l = h.LeafOfRecord(c.Records[ri].Data)
			}
			if err := rng.Append(l[:], nil); err != nil {
				return fmt.Errorf("%w: %v", ErrProof, err)
			}
			pos++
			ri++
		case gi < len(c.Gaps) && c.Gaps[gi].Begin == pos && c.Gaps[gi].End > pos && c.Gaps[gi].End <= c.End:
			g := c.Gaps[gi]
			gr, err := rangeFactory.NewRange(g.Begin, g.End, g.Hashes)
			if err != nil {
				return fmt.Errorf("%w: gap [%d, %d): %v", ErrProof, g.Begin, g.End, err)
			}
			if err := rng.AppendRange(gr, nil); err != nil {
				return fmt.Errorf("%w: %v", ErrProof, err)
			}
			pos = g.End
			gi++
		default:
			return fmt.Errorf("%w: nothing covers leaf %d", ErrProof, pos)
		}
	}
	if ri != len(c.Records) || gi != len(c.Gaps) {
		return fmt.Errorf("%w: records or gaps out of order", ErrProof)
	}
	right, err := rangeFactory.NewRange(c.End, head.Size, c.Right)
	if err != nil {
		return fmt.Errorf("%w: right: %v", ErrProof, err)
	}
	if err := rng.AppendRange(right, nil); err != nil {
		return fmt.Errorf("%w: %v", ErrProof, err)
	}
	var root []byte
	if head.Size == 0 {
		root = rfc6962.DefaultHasher.EmptyRoot()
	} else if root, err = rng.GetRootHash(nil); err != nil {
		return fmt.Errorf("%w: %v", ErrProof, err)
	}
	if !bytes.Equal(root, head.Root) {
		return fmt.Errorf("%w: records [%d, %d) give another root", ErrProof, c.Begin, c.End)
	}
	return nil
}

// gapsOf returns the runs of a chunk's range that hold no sent record.
func gapsOf(c *chunk, tree *leafTree) []chunkGap {
	var gaps []chunkGap
	pos := c.Begin
	for _, r := range c.Records {
		if r.Index > pos {
			gaps = append(gaps, chunkGap{Begin: pos, End: r.Index, Hashes: tree.rangeHashes(pos, r.Index)})
		}
		pos = r.Index + 1
	}
	if pos < c.End {
		gaps = append(gaps, chunkGap{Begin: pos, End: c.End, Hashes: tree.rangeHashes(pos, c.End)})
	}
	return gaps
}
