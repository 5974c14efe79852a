package manifest

import (
	"github.com/ipfs/go-cid"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// TreeBuilder computes an RFC 6962 root over leaves appended in order, in
// O(log n) memory.
type TreeBuilder struct {
	h    *TreeHasher
	rng  *compact.Range
	size uint64
}

// NewTreeBuilder returns an empty tree.
func NewTreeBuilder() *TreeBuilder {
	h := NewTreeHasher()
	return &TreeBuilder{h: h, rng: h.RangeFactory().NewEmptyRange(0)}
}

// Append adds the leaf of the record with CID c.
func (t *TreeBuilder) Append(c cid.Cid) error {
	t.size++
	l := t.h.LeafOfCID(c)
	return t.rng.Append(l[:], nil)
}

// Head is the tree head over the leaves appended so far.
func (t *TreeBuilder) Head() (TreeHead, error) {
	if t.size == 0 {
		return TreeHead{Size: 0, Root: rfc6962.DefaultHasher.EmptyRoot()}, nil
	}
	root, err := t.rng.GetRootHash(nil)
	return TreeHead{Size: t.size, Root: root}, err
}

// TreeHeadOf computes the tree head over record CIDs, in order.
func TreeHeadOf(records []cid.Cid) (TreeHead, error) {
	t := NewTreeBuilder()
	for _, c := range records {
		if err := t.Append(c); err != nil {
			return TreeHead{}, err
		}
	}
	return t.Head()
}
