package devnet_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/devnet"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/schemas/sample"
)

// An organization with two nodes keeps serving fetches when one is killed:
// customs-cn runs node A and, on the same data directory, node B as a hot
// standby (both listed under it in the roster). customs-kz fetches a large
// dataset from A; A is killed with SIGKILL mid-fetch; B takes the data
// directory over, customs-kz's fetch resumes through B and ends with
// exactly the records a fetch through B alone returns, every one verified;
// and what A acknowledged before the kill (the publish, journaled) is all
// there, in the org's one journal.
func TestOrgWithTwoNodesKeepsServingWhenOneIsKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes and fetches 150,000 records across a kill (make test runs it; -short skips it)")
	}
	nt, err := devnet.Create(filepath.Join(t.TempDir(), "net"), 2)
	if err != nil {
		t.Fatal(err)
	}
	a, kz := nt.Orgs[0], nt.Orgs[1]
	b, err := nt.AddStandby(a)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := nt.Start(binary); err != nil {
		t.Fatal(err)
	}
	defer nt.Stop(5 * time.Second)
	if err := nt.WaitReady(ctx); err != nil { // A holds the data directory
		t.Fatal(err)
	}
	if err := nt.StartOrg(binary, b); err != nil {
		t.Fatal(err)
	}
	defer b.Stop(5 * time.Second)
	poll.UntilLogged(t, b.Log(), "standby: another node of the org holds the data directory")
	cl, _ := api.NewClient(a.Dir) // A's socket; B's once it takes over
	if err := devnet.RegisterDemoSchemas(ctx, cl); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(sample.Write(pw, "customs-declaration", 150000, 5, nil)) }()
	pub, err := cl.Publish(ctx, api.PublishRequest{Dataset: "large", Schema: "customs-declaration", Format: "jsonl",
		Purposes: []string{"customs-clearance"}}, pr, nil)
	if err != nil {
		t.Fatal(err)
	}
	kzc, _ := api.NewClient(kz.Dir)
	if _, err := kzc.AwaitCatalogItem(ctx, pub.CID, time.Minute); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "across-the-kill.jsonl")
	var once sync.Once
	killedAt := time.Time{}
	sum, err := kzc.Fetch(ctx, api.FetchRequest{Manifest: pub.CID, Purpose: "customs-clearance", Out: out}, func(ev api.FetchEvent) {
		if ev.Received > 0 {
			once.Do(func() {
				a.Kill() // SIGKILL, mid-fetch
				killedAt = time.Now()
			})
		}
	})
	if killedAt.IsZero() {
		t.Fatalf("the fetch ended before the kill: %+v %v", sum, err)
	}
	if err != nil {
		t.Fatalf("the fetch failed across the kill: %v\nB's log:\n%s", err, tail(b.Log()))
	}
	if sum.Resumed == 0 {
		t.Fatalf("the fetch did not resume through B: %+v", sum)
	}
	t.Logf("resumed through B at record %d; the fetch ended %v after the kill", sum.Resumed, time.Since(killedAt).Round(time.Millisecond))

	again := filepath.Join(t.TempDir(), "through-b.jsonl")
	if _, err := kzc.Fetch(ctx, api.FetchRequest{Manifest: pub.CID, Purpose: "customs-clearance", Out: again}, nil); err != nil {
		t.Fatal(err)
	}
	got, want := lines(t, out), lines(t, again)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("across the kill: %d records; through B alone: %d", len(got), len(want))
	}

	// What A acknowledged is in the org's one journal, which B goes on.
	page, err := cl.JournalEntries(ctx, "", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(page.Entries, func(e api.JournalEntry) bool { return e.Event != nil && e.Event.Manifest == pub.CID }) {
		t.Fatal("the publish A acknowledged is not in the journal B serves")
	}
	if st, err := b.Status(ctx); err != nil || st.PeerID != b.PeerID {
		t.Fatalf("the data directory's gateway is not B: %+v %v", st, err)
	}
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		out = append(out, s.Text())
	}
	slices.Sort(out)
	return out
}

func tail(path string) string {
	data, _ := os.ReadFile(path)
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}
