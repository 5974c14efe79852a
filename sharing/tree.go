package sharing

import (
	"crypto/sha256"

	"github.com/ipfs/go-cid"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

var hasher = rfc6962.DefaultHasher

// LeafHash is the RFC 6962 leaf hash of a record: SHA-256(0x00 || cid bytes).
func LeafHash(c cid.Cid) []byte { return appendLeafHash(nil, c) }

// appendLeafHash appends c's leaf hash to dst. It is rfc6962's HashLeaf
// without a hasher and a copy of the CID allocated per call, which a fetch
// of a million records felt.
func appendLeafHash(dst []byte, c cid.Cid) []byte {
	var buf [1 + 64]byte
	b := append(append(buf[:0], rfc6962.RFC6962LeafHashPrefix), c.KeyString()...)
	sum := sha256.Sum256(b)
	return append(dst, sum[:]...)
}

// hashChildren is rfc6962's HashChildren (SHA-256(0x01 || l || r)) without
// a hasher allocated per call.
func hashChildren(l, r []byte) []byte {
	sum := sumChildren(l, r)
	return sum[:]
}

// sumChildren is hashChildren's hash, by value: nothing allocated.
func sumChildren(l, r []byte) [sha256.Size]byte {
	var buf [1 + 2*sha256.Size]byte
	b := append(append(append(buf[:0], rfc6962.RFC6962NodeHashPrefix), l...), r...)
	return sha256.Sum256(b)
}

// treeBuilder computes an RFC 6962 root over leaves appended in order, in
// O(log n) memory.
type treeBuilder struct {
	rng  *compact.Range
	size uint64
}

func newTreeBuilder() *treeBuilder {
	f := &compact.RangeFactory{Hash: hashChildren}
	return &treeBuilder{rng: f.NewEmptyRange(0)}
}

func (t *treeBuilder) append(leafHash []byte) error {
	t.size++
	return t.rng.Append(leafHash, nil)
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
		if err := t.append(LeafHash(c)); err != nil {
			return TreeHead{}, err
		}
	}
	return t.head()
}
