//go:build cluster

package devnet_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/devnet"
)

// TestClusterNodesDecideWithOneBundle: customs-cn's nodes A and B share
// their policy files through the cluster. A bundle uploaded to A is put in
// force on B within seconds; B, stopped while A's bundle changes again,
// starts on A's bundle, not on the stale files in its directory.
func TestClusterNodesDecideWithOneBundle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nt, a, b, _ := twoNodeNet(ctx, t)
	acl := awaitClient(ctx, t, a)
	bcl := awaitClient(ctx, t, b)
	if err := devnet.RegisterDemoSchemas(ctx, acl); err != nil {
		t.Fatal(err)
	}
	bundle := func(cl *api.Client) string {
		info, err := cl.Policy(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.Bundle
	}
	upload := func(text string) string {
		res, err := acl.ReplacePolicies(ctx, api.PolicyCheckRequest{Files: map[string]string{"only.cedar": text}})
		if err != nil || !res.Valid {
			t.Fatalf("upload: %v %+v", err, res)
		}
		return res.CID
	}
	first := upload(`@id("kz-clearance")
permit (principal == Org::"customs-kz", action == Action::"fetch", resource)
when { context.purpose == "customs-clearance" };
`)
	for bundle(bcl) != first {
		if ctx.Err() != nil {
			t.Fatalf("node B did not put node A's uploaded bundle in force:\n%s", tail(b.Log()))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if data, err := os.ReadFile(filepath.Join(b.Dir, "policies", "only.cedar")); err != nil || len(data) == 0 {
		t.Fatalf("node B's policy directory does not hold the shared file: %v", err)
	}

	if r := b.Stop(10 * time.Second); r.Killed || r.ExitCode != 0 {
		t.Fatalf("node B did not stop cleanly: %+v", r)
	}
	second := upload(`@id("kz-transit")
permit (principal == Org::"customs-kz", action == Action::"fetch", resource)
when { context.purpose == "transit-planning" };
`)
	if second == first {
		t.Fatal("the second upload made the same bundle")
	}
	if err := nt.StartOrg(binary, b); err != nil {
		t.Fatal(err)
	}
	bcl = awaitClient(ctx, t, b)
	if got := bundle(bcl); got != second {
		t.Fatalf("node B started on bundle %s, not the org's %s", got, second)
	}
}
