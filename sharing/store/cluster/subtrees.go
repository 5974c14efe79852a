package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// groupLevels is the level of a full group's root: 2^10 = groupSize.
const groupLevels = 10

// storedLevel is the lowest level of the nodes a pair object keeps: a
// fetch's chunks are 256 records wide (fetch.ChunkWidth), so a proof of
// whole chunks needs nodes of levels 8 and 9 inside a group, and of 10 and
// above.
const storedLevel = 8

// A dataset's record tree is kept in parts. Level 10 and above (one node
// per full group, and their parents) are one small object,
// data/<session>/tree, written at commit: levels 10, 11... each as
// uvarint(count) and the hashes back to back (about 64 bytes per 1,024
// records), compressed as the group objects are. Levels 8 and 9 of a
// group (six hashes) are in its pair object. Below that, and in datasets
// of the split layout below level 10, a group's nodes are rebuilt from
// the records' CIDs in its attributes: only a proof with gaps (records
// withheld, or a selection) reads them.
type groupTrees struct {
	h     *manifest.TreeHasher
	group *manifest.Subtrees // the current group's tree
	top   *manifest.Subtrees // over full groups' roots: top level k is level 10+k
	done  []byte             // the stored nodes of the group last completed
}

func newGroupTrees() *groupTrees {
	return &groupTrees{h: manifest.NewTreeHasher(), group: manifest.NewSubtrees(groupSize), top: manifest.NewSubtrees(0)}
}

func (t *groupTrees) addCID(c cid.Cid) {
	t.group.AddCID(c)
	if t.group.Size() == groupSize {
		t.top.Add(t.group.Node(groupLevels, 0))
		t.done = storedNodes(t.group)
		t.group = manifest.NewSubtrees(groupSize)
	}
}

// flushed returns the stored nodes of the group being flushed: the one
// just completed, or the last one, partial, at commit.
func (t *groupTrees) flushed() []byte {
	if t.group.Size() == 0 {
		return t.done
	}
	return storedNodes(t.group)
}

// storedNodes are a group's complete nodes of levels storedLevel to
// groupLevels-1, level by level.
func storedNodes(g *manifest.Subtrees) []byte {
	var out []byte
	for l := storedLevel; l < min(groupLevels, g.Levels()); l++ {
		out = append(out, g.Level(l)...)
	}
	return out
}

func (t *groupTrees) marshalTop() []byte {
	var out []byte
	for l := range t.top.Levels() {
		lv := t.top.Level(l)
		out = binary.AppendUvarint(out, uint64(len(lv)/sha256.Size))
		out = append(out, lv...)
	}
	return out
}

func parseTop(data []byte) ([][]byte, error) {
	var levels [][]byte
	for len(data) > 0 {
		n, k := binary.Uvarint(data)
		if k <= 0 || n > uint64(len(data)-k)/sha256.Size {
			return nil, errors.New("record tree object: malformed")
		}
		end := k + int(n)*sha256.Size
		levels = append(levels, data[k:end:end])
		data = data[end:]
	}
	return levels, nil
}

// Subtrees returns the record tree of a manifest of size records.
func (s *Store) Subtrees(m cid.Cid, size uint64) (store.Subtrees, error) {
	d, err := s.dataset(m)
	if err != nil {
		return nil, err
	}
	if d.records != size {
		return nil, fmt.Errorf("the store holds %d records of %s, the manifest says %d", d.records, m, size)
	}
	data, err := s.bucket.getCompressed(context.Background(), treeKey(d.session))
	if err != nil {
		return nil, err
	}
	top, err := parseTop(data)
	if err != nil {
		return nil, err
	}
	return &storedTree{s: s, d: d, top: top, groups: map[uint64]*manifest.Subtrees{}}, nil
}

// storedTree answers Node from the top object and from groups rebuilt on
// demand.
type storedTree struct {
	s   *Store
	d   dataset
	top [][]byte

	mu     sync.Mutex
	groups map[uint64]*manifest.Subtrees
	err    error
}

func (t *storedTree) Size() uint64 { return t.d.records }

func (t *storedTree) Node(l int, i uint64) []byte {
	if l >= groupLevels {
		k := l - groupLevels
		if k < len(t.top) && (i+1)*sha256.Size <= uint64(len(t.top[k])) {
			return t.top[k][i*sha256.Size : (i+1)*sha256.Size]
		}
		return t.fail(fmt.Errorf("record tree, level %d: no node %d", l, i))
	}
	shift := uint(groupLevels - l)
	g := i >> shift
	if l >= storedLevel && t.d.layout != layoutSplit {
		return t.stored(l, i, g)
	}
	gt, err := t.group(g)
	if err != nil {
		return t.fail(err)
	}
	j := i - g<<shift
	if l >= gt.Levels() || (j+1)*sha256.Size > uint64(len(gt.Level(l))) {
		return t.fail(fmt.Errorf("record tree, level %d: no node %d", l, i))
	}
	return gt.Node(l, j)
}

// stored is node i of level l (storedLevel <= l < groupLevels) from group
// g's pair object.
func (t *storedTree) stored(l int, i, g uint64) []byte {
	key := t.d.key(records, g)
	data, err := t.s.bucket.cachedObject(context.Background(), key)
	if err != nil {
		return t.fail(err)
	}
	nodes, _, _, err := pairSplit(key, data)
	if err != nil {
		return t.fail(err)
	}
	n := min(groupSize, t.d.records-g*groupSize) // the group's records
	j := i - g<<uint(groupLevels-l)              // index within the group's level l
	at := j
	for k := storedLevel; k < l; k++ {
		at += n >> k // the complete nodes of the levels below l
	}
	if j >= n>>l || (at+1)*sha256.Size > uint64(len(nodes)) {
		return t.fail(fmt.Errorf("record tree, level %d: no node %d in %s", l, i, key))
	}
	return nodes[at*sha256.Size : (at+1)*sha256.Size]
}

// group rebuilds group g's tree from its CIDs.
func (t *storedTree) group(g uint64) (*manifest.Subtrees, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if gt, ok := t.groups[g]; ok {
		return gt, nil
	}
	es, err := t.s.bucket.cachedPart(context.Background(), t.d, attributes, g)
	if err != nil {
		return nil, err
	}
	if span := t.d.span(attributes); span > 1 { // the group's entries of its block
		from := min(uint64(len(es)), g%span*groupSize)
		es = es[from:min(uint64(len(es)), from+groupSize)]
	}
	gt := manifest.NewSubtrees(uint64(len(es)))
	for _, e := range es {
		if err := store.Projected(e.index, e.value, func(_ uint64, c cid.Cid, _ []byte) error {
			gt.AddCID(c)
			return nil
		}); err != nil {
			return nil, err
		}
	}
	if len(t.groups) >= cachedGroups {
		clear(t.groups)
	}
	t.groups[g] = gt
	return gt, nil
}

func (t *storedTree) fail(err error) []byte {
	t.mu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.mu.Unlock()
	return make([]byte, sha256.Size)
}

func (t *storedTree) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}
