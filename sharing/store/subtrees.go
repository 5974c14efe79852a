package store

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ipfs/go-cid"
)

// ErrNoSubtrees: the store does not hold a dataset's record tree (it was
// published before trees were stored).
var ErrNoSubtrees = errors.New("no record tree stored for this dataset")

// treeBlock is how many node hashes one t/ value holds (32 KiB).
const treeBlock = 1024

// treeKey is t/<session>/<level><block BE64>.
func treeKey(prefix []byte, level int, block uint64) []byte {
	k := append(prefix[:len(prefix):len(prefix)], byte(level))
	return binary.BigEndian.AppendUint64(k, block)
}

// storedSubtrees reads a dataset's record tree from the store, a block of
// nodes at a time, as a proof needs them: a selection of a few records
// reads a few blocks, not every record's CID.
type storedSubtrees struct {
	s      *Embedded
	prefix []byte
	size   uint64
	blocks map[[2]uint64][]byte
	err    error
}

// Subtrees returns the record tree of a manifest of size records whose
// records the store holds, or ErrNoSubtrees.
func (s *Embedded) Subtrees(manifest cid.Cid, size uint64) (Subtrees, error) {
	id, err := s.get(key(prefixManifest, manifest.Bytes()))
	if err != nil {
		return nil, err
	}
	t := &storedSubtrees{s: s, prefix: key(prefixTree, id), size: size, blocks: map[[2]uint64][]byte{}}
	if size > 0 {
		v, err := s.get(treeKey(t.prefix, 0, 0))
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, ErrNoSubtrees
		}
		if err != nil {
			return nil, err
		}
		t.blocks[[2]uint64{0, 0}] = v
	}
	return t, nil
}

// Size is the number of leaves.
func (t *storedSubtrees) Size() uint64 { return t.size }

// Node is hash i of level l. A node that cannot be read is returned as
// zeros, and Err says why: check it before using what was built.
func (t *storedSubtrees) Node(l int, i uint64) []byte {
	b := [2]uint64{uint64(l), i / treeBlock}
	v, ok := t.blocks[b]
	if !ok {
		var err error
		if v, err = t.s.get(treeKey(t.prefix, l, b[1])); err != nil {
			t.fail(fmt.Errorf("record tree, level %d, node %d: %w", l, i, err))
			return make([]byte, sha256.Size)
		}
		t.blocks[b] = v
	}
	off := (i % treeBlock) * sha256.Size
	if off+sha256.Size > uint64(len(v)) {
		t.fail(fmt.Errorf("record tree, level %d: no node %d", l, i))
		return make([]byte, sha256.Size)
	}
	return v[off : off+sha256.Size : off+sha256.Size]
}

func (t *storedSubtrees) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}

// Err is the first node that could not be read.
func (t *storedSubtrees) Err() error { return t.err }
