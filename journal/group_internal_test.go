package journal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/internal/poll"

	"github.com/transparency-dev/tessera"
)

// fakeTessera assigns indices in order and resolves futures only when
// released, recording the groups it was handed: an add after a future was
// awaited starts a new group.
type fakeTessera struct {
	mu       sync.Mutex
	next     uint64
	groups   [][]string
	awaiting bool
	release  chan struct{}
}

func (f *fakeTessera) add(data []byte) tessera.IndexFuture {
	f.mu.Lock()
	defer f.mu.Unlock()
	idx := f.next
	f.next++
	if len(f.groups) == 0 || f.awaiting {
		f.groups = append(f.groups, nil)
		f.awaiting = false
	}
	f.groups[len(f.groups)-1] = append(f.groups[len(f.groups)-1], string(data))
	return func() (tessera.Index, error) {
		f.mu.Lock()
		f.awaiting = true
		f.mu.Unlock()
		<-f.release
		return tessera.Index{Index: idx}, nil
	}
}

// An append goes to tessera at once when nothing is in flight; those that
// arrive while a group is in flight go together as the next group; each
// caller gets its own entry's index; close writes what is pending and
// refuses the rest.
func TestGroupCommit(t *testing.T) {
	f := &fakeTessera{release: make(chan struct{})}
	g := newGroupCommit(func(b []byte) tessera.IndexFuture { return f.add(b) }, 4)
	type result struct {
		data string
		idx  uint64
		err  error
	}
	results := make(chan result, 16)
	appendAsync := func(data string) {
		go func() {
			idx, err := g.append(context.Background(), []byte(data))
			results <- result{data, idx, err}
		}()
	}
	appendAsync("first")
	poll.Until(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.next == 1 }, "the first append to reach tessera")
	for i := range 6 { // while "first" is in flight
		appendAsync(fmt.Sprint("later-", i))
	}
	poll.Until(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.pending) == 6 }, "6 appends to wait")
	got := map[string]uint64{}
	for range 7 {
		f.release <- struct{}{} // resolve one future at a time
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		got[r.data] = r.idx
	}
	f.mu.Lock()
	groups := f.groups
	f.mu.Unlock()
	sizes := []int{}
	for _, gr := range groups {
		sizes = append(sizes, len(gr))
	}
	if fmt.Sprint(sizes) != "[1 4 2]" {
		t.Fatalf("groups %q, want sizes [1 4 2] (one alone, then the 6 waiting in groups of at most 4)", groups)
	}
	seen := map[uint64]bool{}
	for data, idx := range got {
		if seen[idx] {
			t.Fatalf("index %d given twice (%s)", idx, data)
		}
		seen[idx] = true
	}
	if got["first"] != 0 {
		t.Fatalf("first got index %d", got["first"])
	}

	// Close waits for what is pending, then refuses.
	appendAsync("pending-at-close")
	poll.Until(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.next == 8 }, "the last append to reach tessera")
	closed := make(chan struct{})
	go func() { g.close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("close returned with an append in flight")
	case <-time.After(50 * time.Millisecond):
	}
	f.release <- struct{}{}
	<-closed
	if r := <-results; r.err != nil || r.idx != 7 {
		t.Fatalf("the append pending at close: %d, %v", r.idx, r.err)
	}
	if _, err := g.append(context.Background(), []byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
}
