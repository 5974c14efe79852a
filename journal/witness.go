package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/transparency-dev/formats/log"

	"golang.org/x/mod/sumdb/note"

	"github.com/caravan-consortium/caravan/internal/atomicfile"
)

// Cosign adds signer's cosignature to a checkpoint note (which must already
// verify; the caller checked it).
func Cosign(raw []byte, signer note.Signer) ([]byte, error) {
	text, _, ok := splitNote(raw)
	if !ok {
		return nil, errors.New("journal: malformed note")
	}
	signed, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		return nil, err
	}
	_, lines, _ := splitNote(signed)
	return mergeSigs(raw, lines), nil
}

// splitNote splits a signed note into its text (ending in "\n") and its
// signature lines.
func splitNote(raw []byte) (string, []string, bool) {
	i := bytes.LastIndex(raw, []byte("\n\n"))
	if i < 0 {
		return "", nil, false
	}
	text := string(raw[:i+1])
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(string(raw[i+2:]), "\n"), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return text, lines, true
}

// mergeSigs returns raw with the signature lines it lacks appended.
func mergeSigs(raw []byte, lines []string) []byte {
	text, have, _ := splitNote(raw)
	for _, l := range lines {
		if !slices.Contains(have, l) {
			have = append(have, l)
		}
	}
	return []byte(text + "\n" + strings.Join(have, "\n") + "\n")
}

// ParseCheckpoint reads the checkpoint of a signed note. It does not check
// the note's signatures.
func ParseCheckpoint(raw []byte) (*log.Checkpoint, error) {
	var c log.Checkpoint
	if _, err := c.Unmarshal(cpText(raw)); err != nil {
		return nil, err
	}
	return &c, nil
}

// SameCheckpoint reports whether two notes sign the same checkpoint text.
func SameCheckpoint(a, b []byte) bool {
	ta, _, ok1 := splitNote(a)
	tb, _, ok2 := splitNote(b)
	return ok1 && ok2 && ta == tb
}

// Witnessed keeps, per log, the checkpoint notes this gateway has seen with
// every valid signature merged in, so that evidence can name the witnesses.
// Files: DIR/ORG/SIZE, one note each. Prune bounds how many it keeps.
type Witnessed struct {
	dir string
	mu  sync.Mutex
}

// OpenWitnessed opens the store in dir.
func OpenWitnessed(dir string) (*Witnessed, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &Witnessed{dir: dir}, nil
}

func (w *Witnessed) path(org string, size uint64) string {
	return filepath.Join(w.dir, org, strconv.FormatUint(size, 10))
}

// Add merges the signatures of raw (a checkpoint of org's log at size) into
// the stored note, keeping only what clean keeps (Trust.Clean: the log's
// signature and one valid cosignature per witness, the one held first). A
// note that adds nothing is not written. A different checkpoint text at
// the same size is a fork: it returns a *ForkError and keeps the stored
// note.
func (w *Witnessed) Add(org, origin string, size uint64, raw []byte, clean func([]byte) ([]byte, error)) ([]byte, error) {
	raw, err := clean(raw)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	path := w.path(org, size)
	held, err := os.ReadFile(path)
	if err == nil {
		if !SameCheckpoint(held, raw) {
			return held, &ForkError{Origin: origin, Held: held, Got: raw, Reason: fmt.Sprintf("two checkpoints of size %d", size)}
		}
		_, lines, _ := splitNote(raw)
		merged, err := clean(mergeSigs(held, lines))
		if err != nil || bytes.Equal(merged, held) {
			return held, nil // nothing new (or a held note of another roster's keys)
		}
		raw = merged
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return raw, atomicfile.Write(path, raw, 0o644)
}

// Get returns the stored note of org's log at size.
func (w *Witnessed) Get(org string, size uint64) ([]byte, error) {
	return os.ReadFile(w.path(org, size))
}

// Sizes lists the sizes stored for org, ascending.
func (w *Witnessed) Sizes(org string) []uint64 {
	entries, _ := os.ReadDir(filepath.Join(w.dir, org))
	var out []uint64
	for _, e := range entries {
		if n, err := strconv.ParseUint(e.Name(), 10, 64); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Orgs lists the orgs whose notes the store holds.
func (w *Witnessed) Orgs() []string {
	entries, _ := os.ReadDir(w.dir)
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// Prune removes org's notes but those of the newest keep sizes and, if
// none of those passes witnessed, the newest older one that does: an entry
// is proven against any witnessed checkpoint that covers it (see
// BuildProof), so the newest witnessed note covers every older entry. It
// returns how many notes it removed.
//
// A fork at a pruned size is no longer caught here, by two notes of the
// same size; a mirror still refuses a checkpoint that is not consistent
// with the one it holds.
//
// Prune does not hold the lock that Add takes: looking for a witnessed note
// among many unwitnessed ones (a store grown before pruning existed) checks
// each one's signatures, and the gossip of checkpoints must not wait on it.
// Racing with Add is harmless: an old note that Add rewrites (a late
// signature merged in) just as Prune removes it is either gone or back,
// and then the next Prune removes it.
func (w *Witnessed) Prune(org string, keep int, witnessed func(raw []byte) bool) (int, error) {
	sizes := w.Sizes(org)
	if keep < 1 || len(sizes) <= keep {
		return 0, nil
	}
	old := sizes[:len(sizes)-keep]
	// The newest witnessed note, looked for from the newest down: the
	// newest are usually witnessed already.
	spare := -1 // its index in old, if it is there
	for i := len(sizes) - 1; i >= 0; i-- {
		if w.passes(org, sizes[i], witnessed) {
			if i < len(old) {
				spare = i
			}
			break
		}
	}
	removed := 0
	for i, size := range old {
		if i == spare {
			continue
		}
		if err := os.Remove(w.path(org, size)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, err
		}
		removed++
	}
	return removed, nil
}

func (w *Witnessed) passes(org string, size uint64, witnessed func([]byte) bool) bool {
	raw, err := os.ReadFile(w.path(org, size))
	return err == nil && witnessed(raw)
}
