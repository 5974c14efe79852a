package gateway_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/devnet"
	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testnet"
)

func nodesOf(g *gateway.Gateway, org string) []string {
	var out []string
	for _, m := range g.Services().Admin.Status().Members {
		if m.Org == org {
			for _, n := range m.Nodes {
				out = append(out, n.PeerID)
			}
		}
	}
	return out
}

// An organization adds a node with its org key alone: its delegation,
// handed to its own gateway, reaches every member, which then admits the
// new node (refused before). A delegation not signed by the org key, or
// naming another org's node, is refused.
func TestOrgAddsANodeByDelegationWithoutAVote(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	gws := startAll(t, c, 2)
	r := gws[0].Roster()
	_, newKey, _ := ed25519.GenerateKey(nil)
	newID, err := datadir.PeerIDOf(newKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := devnet.JoinAsMember(ctx, newKey, r.Consortium, []peer.ID{gws[1].PeerID()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	dial := func() error {
		return m.Host.Connect(ctx, peer.AddrInfo{ID: gws[1].PeerID(), Addrs: gws[1].Host().Addrs()})
	}
	if err := dial(); err == nil {
		poll.Until(t, func() bool { return len(gws[1].Host().Network().ConnsToPeer(newID)) == 0 }, "the unlisted node refused")
	}

	delegation := func(key ed25519.PrivateKey, nodes ...consortium.Node) []byte {
		d := &consortium.Delegation{Consortium: r.Consortium, Org: "customs-cn", Sequence: 1, Nodes: nodes}
		if err := d.Sign(key); err != nil {
			t.Fatal(err)
		}
		data, err := d.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	mine := r.Member("customs-cn").Nodes[0]
	added := consortium.Node{PeerID: newID.String(), Addrs: []string{"/ip4/127.0.0.1/tcp/9"}}
	admin := gws[0].Services().Admin
	if _, err := admin.SubmitDelegation(delegation(c.OrgKey(1), mine, added)); !errors.Is(err, api.ErrRefused) {
		t.Fatalf("a delegation signed by another org's key: %v", err)
	}
	theirs := r.Member("customs-kz").Nodes[0]
	if _, err := admin.SubmitDelegation(delegation(c.OrgKey(0), mine, theirs)); !errors.Is(err, api.ErrRefused) {
		t.Fatalf("a delegation naming another org's node: %v", err)
	}
	got, err := admin.SubmitDelegation(delegation(c.OrgKey(0), mine, added))
	if err != nil || !got.Changed || len(got.Nodes) != 2 {
		t.Fatalf("the org's delegation: %+v %v", got, err)
	}
	poll.Until(t, func() bool { return slices.Contains(nodesOf(gws[1], "customs-cn"), newID.String()) }, "the other member listing the delegated node")
	if err := dial(); err != nil {
		t.Fatalf("the delegated node is refused: %v", err)
	}
	poll.Until(t, func() bool { return gws[1].Host().Network().Connectedness(newID) == network.Connected }, "the delegated node connected")
}
