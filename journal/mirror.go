package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"

	"github.com/caravan-consortium/caravan/internal/atomicfile"
)

// ErrFork is wrapped by a *ForkError: a log showed two checkpoints that
// cannot both be true.
var ErrFork = errors.New("log fork: inconsistent checkpoints")

// ForkError carries the two signed checkpoints that contradict each other.
type ForkError struct {
	Origin string
	Held   []byte // the checkpoint note this mirror had verified
	Got    []byte // the checkpoint note that contradicts it
	Reason string
}

func (e *ForkError) Error() string {
	return fmt.Sprintf("%v: %s: %s", ErrFork, e.Origin, e.Reason)
}

func (e *ForkError) Unwrap() error { return ErrFork }

// historyMax bounds the verified (size, root) pairs a mirror remembers.
const historyMax = 1024

var rangeFactory = compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// Mirror is this gateway's verified copy of another org's log: every entry
// bundle and tile up to the newest checkpoint it accepted, in the tlog-tiles
// layout, and the compact range of all leaf hashes. A checkpoint is accepted
// only if the entries fetched for it, appended to the verified range, give
// its root: so the new tree extends the old one (consistency) and every
// entry is the one the log committed to.
type Mirror struct {
	dir      string
	origin   string
	verifier note.Verifier

	mu    sync.Mutex
	state mirrorState
}

type mirrorState struct {
	Checkpoint []byte   `json:"checkpoint"` // the newest accepted checkpoint note
	Begin      uint64   `json:"begin"`
	End        uint64   `json:"end"`
	Hashes     [][]byte `json:"hashes"` // the compact range [0, End)
	History    []seen   `json:"history"`
}

type seen struct {
	Size uint64 `json:"size"`
	Root []byte `json:"root"`
}

func mirrorStatePath(dir string) string { return filepath.Join(dir, ".state", "mirror.json") }

// OpenMirror opens (or starts) the mirror of origin in dir; v verifies the
// log's checkpoint signatures.
func OpenMirror(dir, origin string, v note.Verifier) (*Mirror, error) {
	m := &Mirror{dir: dir, origin: origin, verifier: v}
	data, err := os.ReadFile(mirrorStatePath(dir))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(data, &m.state); err != nil {
			return nil, fmt.Errorf("mirror %s: %w", mirrorStatePath(dir), err)
		}
	}
	return m, nil
}

// UseVerifier verifies the next checkpoints with v: the log's key in the
// roster version in force (an org key given or rotated since the mirror
// opened).
func (m *Mirror) UseVerifier(v note.Verifier) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.verifier = v
}

// Origin is the mirrored log's origin.
func (m *Mirror) Origin() string { return m.origin }

// Dir is the mirror's tlog-tiles directory.
func (m *Mirror) Dir() string { return m.dir }

// Latest returns the newest accepted checkpoint note (nil if none) and its size.
func (m *Mirror) Latest() ([]byte, uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.Checkpoint, m.state.End
}

// Update moves the mirror to the checkpoint note raw (signed by the log),
// fetching what it lacks from src. It returns the parsed checkpoint and
// whether the mirror advanced. A checkpoint that contradicts what the
// mirror verified is a *ForkError (the mirror keeps its state); any other
// error (a network failure, a bad signature) leaves the mirror unchanged.
func (m *Mirror) Update(ctx context.Context, src Source, raw []byte) (*log.Checkpoint, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp, _, _, err := log.ParseCheckpoint(raw, m.origin, m.verifier)
	if err != nil {
		return nil, false, fmt.Errorf("checkpoint of %s: %w", m.origin, err)
	}
	st := &m.state
	switch {
	case cp.Size < st.End:
		return cp, false, m.checkOlder(ctx, cp, raw)
	case cp.Size == st.End:
		if st.End > 0 || len(st.Checkpoint) > 0 {
			root, err := m.root()
			if err != nil {
				return nil, false, err
			}
			if !bytes.Equal(root, cp.Hash) {
				return cp, false, &ForkError{Origin: m.origin, Held: st.Checkpoint, Got: raw,
					Reason: fmt.Sprintf("two roots for size %d: verified %x, now signed %x", cp.Size, root, cp.Hash)}
			}
		}
		if len(st.Checkpoint) == 0 {
			st.Checkpoint = raw
			return cp, true, m.save()
		}
		return cp, false, nil
	}
	return cp, true, m.extend(ctx, src, cp, raw)
}

func (m *Mirror) root() ([]byte, error) {
	r, err := rangeFactory.NewRange(m.state.Begin, m.state.End, m.state.Hashes)
	if err != nil {
		return nil, err
	}
	if m.state.End == 0 {
		return rfc6962.DefaultHasher.EmptyRoot(), nil
	}
	return r.GetRootHash(nil)
}

// checkOlder checks a checkpoint smaller than the newest accepted one.
func (m *Mirror) checkOlder(ctx context.Context, cp *log.Checkpoint, raw []byte) error {
	for _, s := range m.state.History {
		if s.Size == cp.Size {
			if !bytes.Equal(s.Root, cp.Hash) {
				return &ForkError{Origin: m.origin, Held: m.state.Checkpoint, Got: raw,
					Reason: fmt.Sprintf("two roots for size %d: verified %x, now signed %x", cp.Size, s.Root, cp.Hash)}
			}
			return nil
		}
	}
	if cp.Size == 0 {
		return nil
	}
	pb, err := client.NewProofBuilder(ctx, m.state.End, DirSource(m.dir).ReadTile)
	if err != nil {
		return err
	}
	p, err := pb.ConsistencyProof(ctx, cp.Size, m.state.End)
	if err != nil {
		return err
	}
	root, err := m.root()
	if err != nil {
		return err
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, cp.Size, m.state.End, p, cp.Hash, root); err != nil {
		return &ForkError{Origin: m.origin, Held: m.state.Checkpoint, Got: raw,
			Reason: fmt.Sprintf("size %d is not a prefix of the verified size %d: %v", cp.Size, m.state.End, err)}
	}
	return nil
}

// extend fetches entries [End, cp.Size) and the tiles for cp.Size, checks
// that they give cp's root, and stores them.
func (m *Mirror) extend(ctx context.Context, src Source, cp *log.Checkpoint, raw []byte) error {
	st := &m.state
	// A copy: the range merges into its hashes as it grows, and a failed
	// extension must leave the verified state as it was.
	r, err := rangeFactory.NewRange(st.Begin, st.End, slices.Clone(st.Hashes))
	if err != nil {
		return err
	}
	type file struct {
		path string
		data []byte
	}
	var files []file
	for idx := st.End / layout.EntryBundleWidth; idx*layout.EntryBundleWidth < cp.Size; idx++ {
		p := layout.PartialTileSize(0, idx, cp.Size)
		data, err := src.ReadEntryBundle(ctx, idx, p)
		if err != nil {
			return fmt.Errorf("mirror %s: entry bundle %d: %w", m.origin, idx, err)
		}
		var b api.EntryBundle
		if err := b.UnmarshalText(data); err != nil {
			return fmt.Errorf("mirror %s: entry bundle %d: %w", m.origin, idx, err)
		}
		first := idx * layout.EntryBundleWidth
		for i, e := range b.Entries {
			n := first + uint64(i)
			if n < st.End || n >= cp.Size {
				continue
			}
			if err := r.Append(rfc6962.DefaultHasher.HashLeaf(e), nil); err != nil {
				return err
			}
		}
		files = append(files, file{layout.EntriesPath(idx, p), data})
	}
	if r.End() != cp.Size {
		return fmt.Errorf("mirror %s: the entry bundles hold %d entries, the checkpoint says %d", m.origin, r.End(), cp.Size)
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		return err
	}
	if !bytes.Equal(root, cp.Hash) {
		return &ForkError{Origin: m.origin, Held: st.Checkpoint, Got: raw,
			Reason: fmt.Sprintf("the entries up to size %d do not extend the verified size %d to the signed root: they give %x, the checkpoint says %x", cp.Size, st.End, root, cp.Hash)}
	}
	for level := uint64(0); ; level++ {
		nodes := cp.Size >> (8 * level)
		if nodes == 0 {
			break
		}
		for idx := (st.End >> (8 * level)) / layout.TileWidth; idx <= (nodes-1)/layout.TileWidth; idx++ {
			p := layout.PartialTileSize(level, idx, cp.Size)
			data, err := src.ReadTile(ctx, level, idx, p)
			if err != nil {
				return fmt.Errorf("mirror %s: tile %d/%d: %w", m.origin, level, idx, err)
			}
			files = append(files, file{layout.TilePath(level, idx, p), data})
		}
	}
	for _, f := range files {
		path := filepath.Join(m.dir, f.path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := atomicfile.Write(path, f.data, 0o644); err != nil {
			return err
		}
	}
	if err := atomicfile.Write(CheckpointPath(m.dir), raw, 0o644); err != nil {
		return err
	}
	st.Begin, st.End, st.Hashes, st.Checkpoint = r.Begin(), r.End(), r.Hashes(), raw
	st.History = append(st.History, seen{Size: cp.Size, Root: cp.Hash})
	if len(st.History) > historyMax {
		st.History = st.History[len(st.History)-historyMax:]
	}
	return m.save()
}

func (m *Mirror) save() error {
	data, err := json.Marshal(m.state)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(mirrorStatePath(m.dir)), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(mirrorStatePath(m.dir), data, 0o644)
}
