package manifest

import (
	"crypto/sha256"

	"github.com/ipfs/go-cid"
)

// Subtrees holds every perfect-subtree hash of a record tree (about 2n
// hashes), so that any range's compact nodes can be cut from it. It grows
// as leaves are added in order: a pair completed on one level is hashed
// into the next at once, so the tree is whole with its last leaf. The
// publisher stores it beside the records (store's t/ keys), and a provider
// builds one while it decides a dataset stored before that.
type Subtrees struct {
	levels [][]byte // each level's hashes back to back; levels[0] are the leaves'
	h      *TreeHasher
}

// NewSubtrees returns an empty tree with room for n leaves (it grows past
// them if need be).
func NewSubtrees(n uint64) *Subtrees {
	t := &Subtrees{h: NewTreeHasher()}
	for w := n; w > 0; w /= 2 {
		t.levels = append(t.levels, make([]byte, 0, w*sha256.Size))
	}
	return t
}

// Size is the number of leaves.
func (t *Subtrees) Size() uint64 {
	if len(t.levels) == 0 {
		return 0
	}
	return uint64(len(t.levels[0]) / sha256.Size)
}

// Node is hash i of level l (level 0: the leaves).
func (t *Subtrees) Node(l int, i uint64) []byte {
	return t.levels[l][i*sha256.Size : (i+1)*sha256.Size : (i+1)*sha256.Size]
}

// Levels is the number of levels that hold a hash.
func (t *Subtrees) Levels() int {
	n := 0
	for n < len(t.levels) && len(t.levels[n]) > 0 {
		n++
	}
	return n
}

// Level is level l's hashes, back to back (shared: do not modify).
func (t *Subtrees) Level(l int) []byte { return t.levels[l] }

// AddCID adds the leaf of the record with CID c.
func (t *Subtrees) AddCID(c cid.Cid) {
	l := t.h.LeafOfCID(c)
	t.Add(l[:])
}

// Add adds a leaf hash, and hashes each pair it completes into the level
// above.
func (t *Subtrees) Add(h []byte) {
	for l := 0; ; l++ {
		if l == len(t.levels) {
			t.levels = append(t.levels, nil)
		}
		t.levels[l] = append(t.levels[l], h...)
		n := uint64(len(t.levels[l]) / sha256.Size)
		if n%2 == 1 {
			return
		}
		sum := t.h.Children(t.Node(l, n-2), t.Node(l, n-1))
		h = sum[:]
	}
}
