//go:build cluster

package devnet_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/devnet"
	"github.com/caravan-consortium/caravan/internal/clusterenv"
)

// TestClusterNodeListedByDelegationStarts follows docs/deployment.md: a
// new node of customs-cn, with a fresh data directory, is listed by the
// org's own delegation (caravan consortium delegate, on node A), not by a
// roster vote. It starts (the delegation is shared through the cluster,
// so its own directory need not hold it), and the partner admits it.
func TestClusterNodeListedByDelegationStarts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nt, err := devnet.Create(filepath.Join(t.TempDir(), "net"), 2)
	if err != nil {
		t.Fatal(err)
	}
	a, kz := nt.Orgs[0], nt.Orgs[1]
	if err := nt.UseCluster(a, clusterenv.NewSpace(t).Conn()); err != nil {
		t.Fatal(err)
	}
	b, err := nt.NewNodeDir(a, "b")
	if err != nil {
		t.Fatal(err)
	}
	if err := nt.Start(binary); err != nil {
		t.Fatal(err)
	}
	defer nt.Stop(5 * time.Second)
	if err := nt.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	args := []string{"consortium", "delegate", "--dir", a.Dir, "--peer", b.PeerID}
	for _, ma := range b.Addrs() {
		args = append(args, "--addr", ma)
	}
	if out, err := exec.Command(binary, args...).CombinedOutput(); err != nil {
		t.Fatalf("caravan consortium delegate: %v\n%s", err, out)
	}
	if err := nt.StartOrg(binary, b); err != nil {
		t.Fatal(err)
	}
	defer b.Stop(5 * time.Second)
	awaitClient(ctx, t, b)
	kzc, _ := api.NewClient(kz.Dir)
	awaitConnected(ctx, t, kzc, a, b)
}
