//go:build cluster

package fetch_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"go.uber.org/zap/zaptest"

	"github.com/caravan-consortium/caravan/devnet"
	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/internal/clusterenv"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testnet"
	"github.com/caravan-consortium/caravan/sharing/fetch"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// dailyCap lets customs-kz receive 5 records a day from customs-cn.
const dailyCap = `@id("kz-daily-cap")
forbid (principal == Org::"customs-kz", action == Action::"fetch", resource)
when { context.released_today >= 5 };
`

// TestClusterReplayAndDailyCountAcrossNodes: customs-cn runs nodes A and
// B on one database and bucket. A request customs-kz signed, served by A,
// replayed byte for byte to B is refused there: the nonce is shared. A
// fresh request to B is served, and counted with what A released: the
// daily cap of 5 records, reached on A, holds on B.
func TestClusterReplayAndDailyCountAcrossNodes(t *testing.T) {
	var b *devnet.Org
	fn := testnet.NewFetchNet(t, 50, func(c *testnet.Cluster) {
		if err := os.WriteFile(filepath.Join(c.Dir(0), "policies", "zz-cap.cedar"), []byte(dailyCap), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := c.Net.UseCluster(c.Net.Orgs[0], clusterenv.NewSpace(t).Conn()); err != nil {
			t.Fatal(err)
		}
		var err error
		if b, err = c.Net.AddNode(c.Net.Orgs[0], "b"); err != nil {
			t.Fatal(err)
		}
	})
	nb, err := gateway.Start(context.Background(), gateway.Options{Dir: b.Dir, Logger: zaptest.NewLogger(t).Named("customs-cn-b")})
	if err != nil {
		t.Fatal(err)
	}
	defer nb.Close()
	kz := fn.Nodes[1]
	poll.Until(t, func() bool { return kz.Host().Network().Connectedness(nb.PeerID()) == network.Connected }, "customs-kz connected to node B")

	f, _ := requesterFetcher(t, fn, 1)
	id := fn.Manifest()
	sign := func(nonce string) []byte {
		req, err := manifest.SignStatement(fetch.Request{Type: fetch.TypeRequest, Manifest: fn.CID, Purpose: "customs-clearance",
			Org: "customs-kz", Node: kz.PeerID().String(), Nonce: nonce, Time: time.Now().UTC()}, fn.C.NodeKey(1))
		if err != nil {
			t.Fatal(err)
		}
		return req.Marshal()
	}
	opts := fetch.Options{Manifest: id, Purpose: "customs-clearance"}
	req := sign("0123456789abcdef0123")
	first, err := fetch.FetchSigned(context.Background(), f, fn.Nodes[0].PeerID(), fn.M, opts, req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fetch.FetchSigned(context.Background(), f, nb.PeerID(), fn.M, opts, req)
	var re *fetch.RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "replayed") {
		t.Fatalf("the request replayed to node B: %v, want refused as replayed", err)
	}
	if first.Permitted != 5 || first.Received != 5 {
		t.Fatalf("node A released %d (received %d), want the daily cap: 5", first.Permitted, first.Received)
	}
	res, err := fetch.FetchSigned(context.Background(), f, nb.PeerID(), fn.M, opts, sign("fedcba9876543210fedc"))
	if err != nil {
		t.Fatalf("a fresh request to node B: %v", err)
	}
	if res.Permitted != 0 || res.Received != 0 || res.Denied != first.Permitted+first.Denied {
		t.Fatalf("node B permitted %d, denied %d: the cap reached on node A does not hold on B", res.Permitted, res.Denied)
	}
}
