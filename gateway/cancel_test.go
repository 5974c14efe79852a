package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/gateway/roster"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/internal/testnet"
	"github.com/caravan-consortium/caravan/journal"
)

// receipts counts the receipt entries in the journal of the gateway in dir.
func receipts(t *testing.T, dir string) int {
	n := 0
	_, _ = datadir.FindEntry(context.Background(), dir, "receipt entry", func(e []byte) bool {
		if ev, err := journal.Decode(e); err == nil && ev.Type == journal.TypeReceipt {
			n++
		}
		return false
	})
	return n
}

// TestLargeFetch runs the tests that need a fetch long enough to stop, or
// a dataset large enough to measure, on one net of 60,000 records:
// publishing them took most of each test's time under -race (about 45 s).
// Each subtest starts with no fetch in progress and no resume point.
func TestLargeFetch(t *testing.T) {
	fn := testnet.NewFetchNet(t, 60000)
	t.Run("the same fetch runs once at a time", func(t *testing.T) { sameFetchRunsOnceAtATime(t, fn) })
	t.Run("a cancelled fetch stops on the gateway", func(t *testing.T) { cancelledFetchStopsOnTheGateway(t, fn) })
	t.Run("DELETE stops a fetch", func(t *testing.T) { deleteStopsAFetch(t, fn) })
	t.Run("a one-record selection reads only what it needs", func(t *testing.T) { oneRecordSelectionReadsOnlyWhatItNeeds(t, fn) })
}

// Closing a fetch's connection to the gateway (Ctrl-C in caravan fetch)
// stops the fetch on the gateway too: nothing more is received, no output
// is written and no receipt journaled, and the fetch asked again runs
// alone and completes.
func cancelledFetchStopsOnTheGateway(t *testing.T, fn *testnet.FetchNet) {
	dir := fn.C.Dir(1)
	before := receipts(t, dir)
	cl, err := api.NewClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	_, err = cl.Fetch(ctx, api.FetchRequest{Manifest: fn.CID, Purpose: "customs-clearance", Out: out}, func(ev api.FetchEvent) {
		if ev.Received > 0 {
			cancel() // the first progress event: the fetch is under way
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Skipf("the fetch ended before it could be cancelled: %v", err)
	}
	time.Sleep(3 * time.Second) // long enough for 60,000 records, had it gone on
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the cancelled fetch wrote %s: %v", out, err)
	}
	if n := receipts(t, dir) - before; n != 0 {
		t.Fatalf("the cancelled fetch was completed and journaled on the gateway (%d receipts)", n)
	}
	sum, err := cl.Fetch(context.Background(), api.FetchRequest{Manifest: fn.CID, Purpose: "customs-clearance", Out: out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// It resumes where the cancelled one stopped, and the output holds
	// exactly what the policy permits.
	org := roster.OrgEntity(fn.Nodes[1].Roster().Member(fn.C.Net.Orgs[1].Org))
	want := fn.Expected(t, org, "customs-clearance")
	if got := testnet.Received(t, out); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("the fetch asked again wrote %d records, the policy permits %d", len(got), len(want))
	}
	t.Logf("cancelled, then asked again: resumed at record %d, %d records written", sum.Resumed, sum.Written)
}

// A publish whose upload is cancelled part-way publishes nothing: no
// statement in the catalog, nothing in the journal.
func TestCancelledUploadPublishesNothing(t *testing.T) {
	c := testnet.NewCluster(t, 1)
	n := c.Start(0)
	cl, err := api.NewClient(c.Dir(0))
	if err != nil {
		t.Fatal(err)
	}
	testnet.RegisterDemoSchemas(t, []*gateway.Gateway{n}, cl)
	time.Sleep(time.Second) // the registrations checkpointed (every 100 ms)
	before := n.Services().Admin.Status()
	data := testkit.JSONL(t, "customs-declaration", 2000, 1)
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = pw.Write(data[:len(data)/2]) // half the records, then the upload stops
		time.Sleep(500 * time.Millisecond)
		cancel()
		pw.CloseWithError(context.Canceled) // as a killed caravan publish's upload ends
	}()
	_, err = cl.Publish(ctx, api.PublishRequest{Dataset: "half", Schema: "customs-declaration", Format: "jsonl",
		Purposes: []string{"customs-clearance"}}, pr, nil)
	if err == nil {
		t.Fatal("a cancelled upload was published")
	}
	time.Sleep(time.Second)
	after := n.Services().Admin.Status()
	if after.Catalog.Statements != before.Catalog.Statements || after.Journal.Size != before.Journal.Size {
		t.Fatalf("a cancelled upload left statements %d -> %d, journal %d -> %d", before.Catalog.Statements,
			after.Catalog.Statements, before.Journal.Size, after.Journal.Size)
	}
	// And the same records, sent whole, publish.
	if _, err := cl.Publish(context.Background(), api.PublishRequest{Dataset: "half", Schema: "customs-declaration", Format: "jsonl",
		Purposes: []string{"customs-clearance"}}, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
}

// DELETE /v1/fetch/{id} stops a fetch in progress as closing its
// connection does: the client's fetch ends with an error, nothing is
// journaled, and an id no fetch has is 404.
func deleteStopsAFetch(t *testing.T, fn *testnet.FetchNet) {
	dir := fn.C.Dir(1)
	before := receipts(t, dir)
	cl, err := api.NewClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		_, err := cl.Fetch(context.Background(), api.FetchRequest{Manifest: fn.CID, Purpose: "customs-clearance"}, func(ev api.FetchEvent) {
			if ev.ID != "" {
				ids <- ev.ID
			}
		})
		done <- err
	}()
	var id string
	select {
	case id = <-ids:
	case err := <-done:
		t.Fatalf("the fetch ended before it was named: %v", err)
	}
	if err := cl.CancelFetch(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "cancel") {
		t.Fatalf("the deleted fetch: %v", err)
	}
	time.Sleep(2 * time.Second) // long enough for 60,000 records, had it gone on
	if n := receipts(t, dir) - before; n != 0 {
		t.Fatalf("the deleted fetch was completed and journaled (%d receipts)", n)
	}
	var se *api.StatusError
	if err := cl.CancelFetch(context.Background(), id); !errors.As(err, &se) || se.Code != 404 {
		t.Fatalf("deleting a fetch that ended: %v", err)
	}
}

// The same fetch asked twice at once runs once: the second is refused
// while the first is in progress (409), and asked again after it, runs.
func sameFetchRunsOnceAtATime(t *testing.T, fn *testnet.FetchNet) {
	cl, err := api.NewClient(fn.C.Dir(1))
	if err != nil {
		t.Fatal(err)
	}
	req := api.FetchRequest{Manifest: fn.CID, Purpose: "customs-clearance"}
	started, done := make(chan struct{}), make(chan error, 1)
	var once sync.Once
	go func() {
		_, err := cl.Fetch(context.Background(), req, func(ev api.FetchEvent) { once.Do(func() { close(started) }) })
		done <- err
	}()
	<-started
	var se *api.StatusError
	if _, err := cl.Fetch(context.Background(), req, nil); !errors.As(err, &se) || se.Code != 409 {
		t.Fatalf("the same fetch while one runs: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Fetch(context.Background(), req, nil); err != nil {
		t.Fatalf("the same fetch after the first ended: %v", err)
	}
}
