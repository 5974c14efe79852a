//go:build cluster

package devnet_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/devnet"
	"github.com/caravan-consortium/caravan/internal/clusterenv"
	"github.com/caravan-consortium/caravan/schemas/sample"
)

// TestClusterRestoreFromDumpAndBucket follows docs/deployment.md's backup
// and restore: customs-cn (two nodes, on cluster storage) publishes, its
// nodes stop, the database is dumped (mariadb-dump) and the bucket copied
// out; both are loaded into a new, empty database and bucket, the nodes'
// cluster.env point there, and the nodes start again: the partner fetches
// exactly the records it fetched before, the journal verifies offline,
// and the next publish continues the same log.
func TestClusterRestoreFromDumpAndBucket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	nt, a, b, old := twoNodeNet(ctx, t)
	kz := nt.Orgs[1]
	acl := awaitClient(ctx, t, a)
	if err := devnet.RegisterDemoSchemas(ctx, acl); err != nil {
		t.Fatal(err)
	}
	pub := publishN(ctx, t, acl, "before-the-backup", 3000, 11)
	kzc, _ := api.NewClient(kz.Dir)
	if _, err := kzc.AwaitCatalogItem(ctx, pub.CID, time.Minute); err != nil {
		t.Fatal(err)
	}
	before := filepath.Join(t.TempDir(), "before.jsonl")
	if _, err := kzc.Fetch(ctx, api.FetchRequest{Manifest: pub.CID, Purpose: "customs-clearance", Out: before}, nil); err != nil {
		t.Fatal(err)
	}
	size := journalSize(ctx, t, acl)

	// The backup: every node of the org stopped, then the dump and the copy.
	for _, o := range []*devnet.Org{a, b} {
		if r := o.Stop(10 * time.Second); r.Killed || r.ExitCode != 0 {
			t.Fatalf("%s did not stop cleanly: %+v", o.Dir, r)
		}
	}
	servers := clusterenv.Env()
	backup := t.TempDir()
	if err := servers.DumpDB(ctx, old, filepath.Join(backup, "caravan.sql")); err != nil {
		t.Fatal(err)
	}
	objects, err := servers.CopyBucketOut(ctx, old, filepath.Join(backup, "bucket"))
	if err != nil {
		t.Fatal(err)
	}

	// The restore, into a new database and bucket.
	restored := clusterenv.NewSpace(t)
	if err := servers.RestoreDB(ctx, restored, filepath.Join(backup, "caravan.sql")); err != nil {
		t.Fatal(err)
	}
	if n, err := servers.CopyBucketIn(ctx, restored, filepath.Join(backup, "bucket")); err != nil || n != objects {
		t.Fatalf("restored %d of %d objects: %v", n, objects, err)
	}
	for _, o := range []*devnet.Org{a, b} {
		if err := restored.Conn().Write(filepath.Join(o.Dir, devnet.ClusterEnvFile)); err != nil {
			t.Fatal(err)
		}
	}
	if err := nt.StartOrg(binary, a); err != nil {
		t.Fatal(err)
	}
	if err := nt.StartOrg(binary, b); err != nil {
		t.Fatal(err)
	}
	acl = awaitClient(ctx, t, a)
	awaitClient(ctx, t, b)
	awaitConnected(ctx, t, kzc, a, b)
	after := filepath.Join(t.TempDir(), "after.jsonl")
	if _, err := kzc.Fetch(ctx, api.FetchRequest{Manifest: pub.CID, Purpose: "customs-clearance", Out: after}, nil); err != nil {
		t.Fatalf("fetch after the restore: %v", err)
	}
	if got, want := lines(t, after), lines(t, before); len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("after the restore: %d records; before: %d", len(got), len(want))
	}
	next := publishN(ctx, t, acl, "after-the-restore", 200, 12)
	if got := journalSize(ctx, t, acl); got <= size {
		t.Fatalf("the journal did not go on after the restore: size %d, was %d (%s)", got, size, next.CID)
	}
	out, err := exec.Command(binary, "journal", "verify", "--dir", a.Dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "customs-cn") {
		t.Fatalf("caravan journal verify after the restore: %v\n%s", err, out)
	}
	_ = os.RemoveAll(backup)
}

func publishN(ctx context.Context, t *testing.T, cl *api.Client, dataset string, n int, seed uint64) *api.PublishSummary {
	t.Helper()
	f := filepath.Join(t.TempDir(), dataset+".jsonl")
	if err := writeSample(f, n, seed); err != nil {
		t.Fatal(err)
	}
	pub, err := cl.PublishFile(ctx, api.PublishRequest{Dataset: dataset, Schema: "customs-declaration", Purposes: []string{"customs-clearance"}}, f, nil)
	if err != nil {
		t.Fatalf("publish %s: %v", dataset, err)
	}
	return pub
}

// journalSize waits for the org's own journal to have a checkpoint and
// returns its size.
func journalSize(ctx context.Context, t *testing.T, cl *api.Client) uint64 {
	t.Helper()
	page, err := cl.JournalEntries(ctx, "", 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	return page.Size
}

func writeSample(path string, n int, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := sample.Write(f, "customs-declaration", n, seed, nil); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
