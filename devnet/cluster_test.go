//go:build cluster

package devnet_test

import (
	"context"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/devnet"
	"github.com/caravan-consortium/caravan/internal/clusterenv"
	"github.com/caravan-consortium/caravan/schemas/sample"
)

// TestClusterOrgRunsTwoActiveNodes: customs-cn runs two nodes, A and B,
// each with a data directory of its own, on one MariaDB database and one
// S3 bucket. B accepts a publish; customs-kz fetches it twice, spread over
// both nodes; A is killed with SIGKILL in the middle of the fetch it
// serves, which resumes through B and ends with exactly the records a
// fetch through B alone returns. Both publishes (one through each node)
// are in the org's one journal, which either node serves.
func TestClusterOrgRunsTwoActiveNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	nt, a, b, _ := twoNodeNet(ctx, t)
	kz := nt.Orgs[1]
	acl, _ := api.NewClient(a.Dir)
	bcl := awaitClient(ctx, t, b)
	if err := devnet.RegisterDemoSchemas(ctx, acl); err != nil {
		t.Fatal(err)
	}
	small := publishN(ctx, t, acl, "through-a", 500, 5)
	// B's registry learns the schemas by gossip, as any member's does.
	var pub *api.PublishSummary
	for {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(sample.Write(pw, "customs-declaration", 60000, 7, nil)) }()
		p, err := bcl.Publish(ctx, api.PublishRequest{Dataset: "through-b", Schema: "customs-declaration", Format: "jsonl",
			Purposes: []string{"customs-clearance"}}, pr, nil)
		if err == nil {
			pub = p
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("publish through B: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	kzc, _ := api.NewClient(kz.Dir)
	if _, err := kzc.AwaitCatalogItem(ctx, pub.CID, time.Minute); err != nil {
		t.Fatal(err)
	}
	awaitConnected(ctx, t, kzc, a, b)

	// The first fetch goes to one node, the second to the other.
	first := filepath.Join(t.TempDir(), "first.jsonl")
	s1, err := kzc.Fetch(ctx, api.FetchRequest{Manifest: pub.CID, Purpose: "customs-clearance", Out: first}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "across-the-kill.jsonl")
	var once sync.Once
	var killedAt time.Time
	s2, err := kzc.Fetch(ctx, api.FetchRequest{Manifest: pub.CID, Purpose: "customs-clearance", Out: out}, func(ev api.FetchEvent) {
		if ev.Received > 0 {
			once.Do(func() { a.Kill(); killedAt = time.Now() })
		}
	})
	if err != nil {
		t.Fatalf("the fetch failed across the kill: %v\nB's log:\n%s", err, tail(b.Log()))
	}
	t.Logf("first fetch served by %v; second by %v, resumed at %d, ended %v after the kill",
		s1.Nodes, s2.Nodes, s2.Resumed, time.Since(killedAt).Round(time.Millisecond))
	if len(s1.Nodes) != 1 || len(s2.Nodes) == 0 || s1.Nodes[0] == s2.Nodes[0] {
		t.Fatalf("the fetches were not spread over both nodes: %v, then %v", s1.Nodes, s2.Nodes)
	}
	if s2.Nodes[0] == a.PeerID && (s2.Resumed == 0 || len(s2.Nodes) != 2 || s2.Nodes[1] != b.PeerID) {
		t.Fatalf("the fetch A served did not resume through B: %+v", s2)
	}
	if got, want := lines(t, out), lines(t, first); len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("across the kill: %d records; the first fetch: %d", len(got), len(want))
	}

	// One journal: B serves the publish A acknowledged, and its own.
	page, err := bcl.JournalEntries(ctx, "", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{small.CID, pub.CID} {
		if !slices.ContainsFunc(page.Entries, func(e api.JournalEntry) bool { return e.Event != nil && e.Event.Manifest == c }) {
			t.Fatalf("publish %s is not in the journal B serves", c)
		}
	}
	for i, e := range page.Entries {
		if e.Index != uint64(i) {
			t.Fatalf("the journal has entry %d at position %d: not one sequence", e.Index, i)
		}
	}

	// A publish through A that A never acknowledged (killed mid-publish)
	// leaves nothing that anyone sees: not in the org's catalog on B, not
	// at the partner; B goes on publishing, and the journal stays one.
	if err := nt.StartOrg(binary, a); err != nil {
		t.Fatal(err)
	}
	acl = awaitClient(ctx, t, a)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(sample.Write(pw, "customs-declaration", 200000, 9, nil)) }()
	var killOnce sync.Once
	_, err = acl.Publish(ctx, api.PublishRequest{Dataset: "interrupted", Schema: "customs-declaration", Format: "jsonl",
		Purposes: []string{"customs-clearance"}}, pr, func(ev api.PublishEvent) {
		if ev.Progress > 5000 {
			killOnce.Do(a.Kill)
		}
	})
	if err == nil {
		t.Fatal("the publish A was killed in the middle of was acknowledged")
	}
	after := publishN(ctx, t, bcl, "after-the-kill", 300, 5)
	if _, err := kzc.AwaitCatalogItem(ctx, after.CID, time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, cl := range []*api.Client{bcl, kzc} {
		entries, err := cl.Catalog(ctx, api.CatalogQuery{Org: "customs-cn", All: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Manifest.Dataset == "interrupted" {
				t.Fatalf("the unacknowledged publish is listed: %s", e.CID)
			}
		}
	}
	page, err = bcl.JournalEntries(ctx, "", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range page.Entries {
		if e.Index != uint64(i) || e.Event != nil && e.Event.Dataset == "interrupted" && e.Event.Type == "publish" {
			t.Fatalf("journal entry %d at position %d: %+v", e.Index, i, e.Event)
		}
	}
}

// twoNodeNet lays out customs-cn and customs-kz, with customs-cn on a
// database and bucket of its own (sp) and a second node, B; starts every
// gateway and B (stopped when the test ends) and waits until they answer.
func twoNodeNet(ctx context.Context, t *testing.T) (nt *devnet.Net, a, b *devnet.Org, sp clusterenv.Space) {
	t.Helper()
	nt, err := devnet.Create(filepath.Join(t.TempDir(), "net"), 2)
	if err != nil {
		t.Fatal(err)
	}
	a, sp = nt.Orgs[0], clusterenv.NewSpace(t)
	if err := nt.UseCluster(a, sp.Conn()); err != nil {
		t.Fatal(err)
	}
	if b, err = nt.AddNode(a, "b"); err != nil {
		t.Fatal(err)
	}
	if err := nt.Start(binary); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nt.Stop(5 * time.Second) })
	if err := nt.StartOrg(binary, b); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(5 * time.Second) })
	if err := nt.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return nt, a, b, sp
}

// awaitClient waits for node o's API and returns its client.
func awaitClient(ctx context.Context, t *testing.T, o *devnet.Org) *api.Client {
	t.Helper()
	for {
		if _, err := o.Status(ctx); err == nil {
			cl, err := api.NewClient(o.Dir)
			if err != nil {
				t.Fatal(err)
			}
			return cl
		}
		if ctx.Err() != nil {
			t.Fatalf("%s did not start:\n%s", o.Dir, tail(o.Log()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// awaitConnected waits until cl's gateway is connected to every node.
func awaitConnected(ctx context.Context, t *testing.T, cl *api.Client, nodes ...*devnet.Org) {
	t.Helper()
	for {
		st, err := cl.Status(ctx)
		if err == nil {
			n := 0
			for _, o := range nodes {
				for _, m := range st.Members {
					for _, nd := range m.Nodes {
						if nd.PeerID == o.PeerID && nd.Connected {
							n++
						}
					}
				}
			}
			if n == len(nodes) {
				return
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("not connected to every node: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
