package store

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"

	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// treeWriter writes a publish's record tree (every perfect-subtree hash,
// about 2n of them) to staging sstables as the records are put, one sstable
// per level: a level's blocks are completed in key order, so each level's
// file is written front to back, and the files' key ranges never overlap.
// Only one block per level is held in memory (32 KiB; 30 levels at most
// for any publish), so a publish's memory stays flat whatever its size:
// holding the whole tree cost 64 bytes a record, about 130 MB at peak for
// a million records.
type treeWriter struct {
	s      *Embedded
	prefix []byte
	path   string // level l's file is path.l
	h      *manifest.TreeHasher
	levels []*treeLevel
	size   uint64 // leaves
}

type treeLevel struct {
	w     *sstable.Writer
	path  string
	block []byte // the nodes of the current block, back to back
	n     uint64 // nodes written to this level so far
}

func newTreeWriter(s *Embedded, prefix []byte, path string) *treeWriter {
	return &treeWriter{s: s, prefix: prefix, path: path, h: manifest.NewTreeHasher()}
}

// Size is the number of leaves.
func (t *treeWriter) Size() uint64 { return t.size }

// AddCID adds the leaf of the record with CID c, and each subtree it
// completes.
func (t *treeWriter) AddCID(c cid.Cid) error {
	leaf := t.h.LeafOfCID(c)
	t.size++
	h := leaf[:]
	for l := 0; ; l++ {
		if l == len(t.levels) {
			t.levels = append(t.levels, &treeLevel{path: fmt.Sprintf("%s.%d", t.path, l),
				block: make([]byte, 0, treeBlock*sha256.Size)})
		}
		lv := t.levels[l]
		lv.block = append(lv.block, h...)
		lv.n++
		// treeBlock is even, so a pair never straddles two blocks.
		var parent [sha256.Size]byte
		odd := lv.n%2 == 1
		if !odd {
			k := len(lv.block)
			parent = t.h.Children(lv.block[k-2*sha256.Size:k-sha256.Size], lv.block[k-sha256.Size:])
		}
		if len(lv.block) == cap(lv.block) {
			if err := t.flush(l); err != nil {
				return err
			}
		}
		if odd {
			return nil
		}
		h = parent[:]
	}
}

// flush writes level l's current block.
func (t *treeWriter) flush(l int) error {
	lv := t.levels[l]
	if len(lv.block) == 0 {
		return nil
	}
	if lv.w == nil {
		var err error
		if lv.w, err = t.s.stagingWriter(lv.path); err != nil {
			return err
		}
	}
	blockIndex := (lv.n - uint64(len(lv.block)/sha256.Size)) / treeBlock
	if err := lv.w.Set(treeKey(t.prefix, l, blockIndex), lv.block); err != nil {
		return err
	}
	lv.block = lv.block[:0]
	return nil
}

// Close writes what is left of every level and closes the files, and
// returns their paths, for ingestion.
func (t *treeWriter) Close() ([]string, error) {
	var paths []string
	var errs []error
	for l, lv := range t.levels {
		errs = append(errs, t.flush(l))
		if lv.w != nil {
			errs = append(errs, lv.w.Close())
			lv.w = nil
			paths = append(paths, lv.path)
		}
	}
	return paths, errors.Join(errs...)
}

// Remove closes and removes the files (an aborted publish).
func (t *treeWriter) Remove() {
	for _, lv := range t.levels {
		if lv.w != nil {
			lv.w.Close()
			lv.w = nil
		}
		os.Remove(lv.path)
	}
}
