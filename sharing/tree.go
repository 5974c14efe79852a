package sharing

import (
	"github.com/ipfs/go-cid"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

var hasher = rfc6962.DefaultHasher

// treeBuilder computes an RFC 6962 root over leaves appended in order, in
// O(log n) memory.
type treeBuilder struct {
	h    *treeHasher
	rng  *compact.Range
	size uint64
}

func newTreeBuilder() *treeBuilder {
	h := newTreeHasher()
	return &treeBuilder{h: h, rng: h.rangeFactory().NewEmptyRange(0)}
}

// append adds the leaf of the record with CID c.
func (t *treeBuilder) append(c cid.Cid) error {
	t.size++
	l := t.h.leafOfCID(c)
	return t.rng.Append(l[:], nil)
}

func (t *treeBuilder) head() (TreeHead, error) {
	if t.size == 0 {
		return TreeHead{Size: 0, Root: hasher.EmptyRoot()}, nil
	}
	root, err := t.rng.GetRootHash(nil)
	return TreeHead{Size: t.size, Root: root}, err
}

// TreeHeadOf computes the tree head over record CIDs, in order.
func TreeHeadOf(records []cid.Cid) (TreeHead, error) {
	t := newTreeBuilder()
	for _, c := range records {
		if err := t.append(c); err != nil {
			return TreeHead{}, err
		}
	}
	return t.head()
}
