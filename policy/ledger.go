package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/caravan-consortium/caravan/internal/atomicfile"
)

// ledgerDays is how many UTC days a ledger keeps: today and yesterday (a
// request may carry a time just before midnight).
const ledgerDays = 2

// Volume is the durable count behind released_today: per UTC day and org,
// the records an owner has released. Ledger keeps it in a file for one
// node; an organization of several nodes shares one in its cluster
// database (sharing/store/cluster), so the count is exact across nodes.
type Volume interface {
	// Released is how many records were released to org on day
	// (YYYY-MM-DD).
	Released(day, org string) (int64, error)
	// Update runs fn with org's count for day and keeps what fn returns,
	// as one step: no other update of that count, on any node, runs
	// between. fn may run more than once if the step is retried.
	Update(day, org string, fn func(released int64) int64) error
	// Commit makes the counts durable (Update may already have).
	Commit() error
}

// Ledger counts, per UTC day and org, the records an owner has released,
// in a file: the Volume of a single node. Commit writes it atomically, so
// after a crash or restart the count is at least what was committed.
type Ledger struct {
	path string

	mu     sync.Mutex
	counts map[string]map[string]int64 // day -> org -> released
	dirty  bool
}

type ledgerFile struct {
	Version  int                         `json:"version"`
	Released map[string]map[string]int64 `json:"released"`
}

// OpenLedger reads the ledger at path; a missing file is an empty ledger.
func OpenLedger(path string) (*Ledger, error) {
	l := &Ledger{path: path, counts: map[string]map[string]int64{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("policy ledger: %w", err)
	}
	var f ledgerFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("policy ledger %s: %w", path, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("policy ledger %s: version %d, want 1", path, f.Version)
	}
	for day, orgs := range f.Released {
		if _, err := time.Parse(time.DateOnly, day); err != nil {
			return nil, fmt.Errorf("policy ledger %s: day %q: %w", path, day, err)
		}
		l.counts[day] = orgs
	}
	return l, nil
}

var _ Volume = (*Ledger)(nil)

// Released is how many records were released to org on day (YYYY-MM-DD).
func (l *Ledger) Released(day, org string) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.get(day, org), nil
}

// Update runs fn on org's count for day under the ledger's lock.
func (l *Ledger) Update(day, org string, fn func(released int64) int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.set(day, org, fn(l.get(day, org)))
	return nil
}

func (l *Ledger) get(day, org string) int64 { return l.counts[day][org] }

func (l *Ledger) set(day, org string, n int64) {
	m := l.counts[day]
	if m == nil {
		m = map[string]int64{}
		l.counts[day] = m
		l.prune()
	}
	if m[org] != n {
		m[org] = n
		l.dirty = true
	}
}

// prune keeps the newest ledgerDays days.
func (l *Ledger) prune() {
	days := make([]string, 0, len(l.counts))
	for d := range l.counts {
		days = append(days, d)
	}
	sort.Strings(days)
	for len(days) > ledgerDays {
		delete(l.counts, days[0])
		days = days[1:]
		l.dirty = true
	}
}

// Commit writes the ledger if it changed since the last Commit.
func (l *Ledger) Commit() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.dirty {
		return nil
	}
	data, err := json.MarshalIndent(ledgerFile{Version: 1, Released: l.counts}, "", "  ")
	if err != nil {
		return fmt.Errorf("policy ledger: %w", err)
	}
	if err := atomicfile.Write(l.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("policy ledger: %w", err)
	}
	l.dirty = false
	return nil
}
