package fetch

import (
	"bytes"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// subtrees gives the perfect-subtree hashes of a record tree: built while
// deciding (manifest.Subtrees), or read from the store where the publisher
// kept them (store.StoredSubtrees), so that a small selection reads only
// the nodes its proofs need.
type subtrees interface {
	Node(l int, i uint64) []byte
	Size() uint64
}

// rangeHashes returns the hashes of the compact range [begin, end): the
// perfect subtrees that cover it, left to right.
func rangeHashes(t subtrees, begin, end uint64) [][]byte {
	if begin >= end {
		return nil
	}
	ids := compact.RangeNodes(begin, end, nil)
	out := make([][]byte, len(ids))
	for i, id := range ids {
		out[i] = t.Node(int(id.Level), id.Index)
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
		return fmt.Errorf("%w: records [%d, %d) give root %x, the manifest's is %x", ErrProof, c.Begin, c.End, root, head.Root)
	}
	return nil
}

// gapsOf returns the runs of a chunk's range that hold no sent record.
func gapsOf(c *chunk, tree subtrees) []chunkGap {
	var gaps []chunkGap
	pos := c.Begin
	for _, r := range c.Records {
		if r.Index > pos {
			gaps = append(gaps, chunkGap{Begin: pos, End: r.Index, Hashes: rangeHashes(tree, pos, r.Index)})
		}
		pos = r.Index + 1
	}
	if pos < c.End {
		gaps = append(gaps, chunkGap{Begin: pos, End: c.End, Hashes: rangeHashes(tree, pos, c.End)})
	}
	return gaps
}
