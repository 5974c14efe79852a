//go:build cluster

package journal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/tessera/client"

	"github.com/caravan-consortium/caravan/internal/clusterconn"
	"github.com/caravan-consortium/caravan/internal/clusterenv"
	"github.com/caravan-consortium/caravan/journal"
)

func openClusterLog(t testing.TB, m member, conn clusterconn.Conn) *journal.Log {
	t.Helper()
	s, err := journal.NewLogSigner(m.origin, m.priv)
	if err != nil {
		t.Fatal(err)
	}
	l, err := journal.Open(context.Background(), journal.LogConfig{Cluster: &conn, Origin: m.origin, Signer: s})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestClusterTwoNodesAppendToOneLog: two nodes of one org append side by
// side to the log on MariaDB and S3. Every index is given once, they cover
// the log without a gap, the checkpoint commits to all of them, and a
// member's mirror, fed over HTTP by either node, verifies every entry.
func TestClusterTwoNodesAppendToOneLog(t *testing.T) {
	ctx := context.Background()
	conn := clusterenv.NewSpace(t).Conn()
	m := newMember(t, "customs-cn")
	nodes := []*journal.Log{openClusterLog(t, m, conn), openClusterLog(t, m, conn)}

	const perNode = 300
	var mu sync.Mutex
	byIndex := map[uint64]string{}
	var wg sync.WaitGroup
	for n, l := range nodes {
		for w := range 4 { // a few writers per node, as concurrent publishes are
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < perNode; i += 4 {
					e := event(m.org, i)
					e.Dataset = fmt.Sprintf("node%d-%d", n, i)
					idx, err := l.Append(ctx, e)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if prev, dup := byIndex[idx]; dup {
						t.Errorf("index %d given to %s and %s", idx, prev, e.Dataset)
					}
					byIndex[idx] = e.Dataset
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	const total = 2 * perNode
	idxs := slices.Sorted(func(yield func(uint64) bool) {
		for i := range byIndex {
			if !yield(i) {
				return
			}
		}
	})
	if len(idxs) != total || idxs[0] != 0 || idxs[total-1] != total-1 {
		t.Fatalf("indices: %d given, from %d to %d; want 0..%d", len(idxs), idxs[0], idxs[len(idxs)-1], total-1)
	}

	raw := waitCheckpoint(t, nodes[1], m.logVerifier(t), total)
	for n, l := range nodes {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			journal.ServeSource(w, r, l.Source(), r.URL.Path[1:])
		}))
		u, _ := url.Parse(srv.URL + "/")
		f, err := client.NewHTTPFetcher(u, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		mirror, err := journal.OpenMirror(t.TempDir(), m.origin, m.logVerifier(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := mirror.Update(ctx, f, raw); err != nil {
			t.Fatalf("mirror through node %d: %v", n, err)
		}
		seen := 0
		err = journal.Entries(ctx, journal.DirSource(mirror.Dir()), 0, total, total, func(i uint64, data []byte) error {
			ev, err := journal.Decode(data)
			if err != nil {
				return err
			}
			if ev.Dataset != byIndex[i] {
				return fmt.Errorf("entry %d is %s, appended as %s", i, ev.Dataset, byIndex[i])
			}
			seen++
			return nil
		})
		srv.Close()
		if err != nil || seen != total {
			t.Fatalf("node %d: %d entries read: %v", n, seen, err)
		}
	}
}

// TestClusterLogReopensWhereItWas: a node that closes and opens the log
// again appends after what both nodes appended; the sequence is one.
func TestClusterLogReopensWhereItWas(t *testing.T) {
	ctx := context.Background()
	conn := clusterenv.NewSpace(t).Conn()
	m := newMember(t, "customs-kz")
	a := openClusterLog(t, m, conn)
	b := openClusterLog(t, m, conn)
	for i := range 5 {
		if _, err := a.Append(ctx, event(m.org, i)); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	if idx, err := b.Append(ctx, event(m.org, 5)); err != nil || idx != 5 {
		t.Fatalf("append on the other node: index %d, %v; want 5", idx, err)
	}
	a = openClusterLog(t, m, conn)
	if idx, err := a.Append(ctx, event(m.org, 6)); err != nil || idx != 6 {
		t.Fatalf("append after reopening: index %d, %v; want 6", idx, err)
	}
	waitCheckpoint(t, a, m.logVerifier(t), 7)
}

// TestClusterPushbackSlowsAppendsWithoutDroppingAny: with room for only 16
// entries waiting for integration (which runs once a second), 120
// concurrent appends within 240 ms are pushed back again and again; each is retried
// until it is sequenced, none fails and none is lost.
func TestClusterPushbackSlowsAppendsWithoutDroppingAny(t *testing.T) {
	ctx := context.Background()
	conn := clusterenv.NewSpace(t).Conn()
	m := newMember(t, "customs-az")
	s, err := journal.NewLogSigner(m.origin, m.priv)
	if err != nil {
		t.Fatal(err)
	}
	l, err := journal.Open(ctx, journal.LogConfig{Cluster: &conn, Origin: m.origin, Signer: s, Pushback: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n = 120
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[uint64]bool{}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			actx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			// Spread over 240 ms: arriving at once, all were one of
			// tessera's 20 ms batches, sequenced with nothing waiting, so
			// nothing was pushed back. Spread, each batch after the first
			// finds more than 16 waiting until integration (once a second).
			time.Sleep(time.Duration(2*i) * time.Millisecond)
			idx, err := l.Append(actx, event(m.org, i))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			seen[idx] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d distinct indices for %d appends", len(seen), n)
	}
	if l.Pushbacks() == 0 {
		t.Fatal("no append was pushed back: the test did not test pushback")
	}
	t.Logf("%d pushbacks retried", l.Pushbacks())
	waitCheckpoint(t, l, m.logVerifier(t), n)
}
