package gateway_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testnet"
)

// travelNet starts n orgs, each with a roster file of its own, all
// connected: a roster version reaches a gateway only over the network.
func travelNet(t *testing.T, n int) (*testnet.Cluster, []*gateway.Gateway) {
	t.Helper()
	c := testnet.NewCluster(t, n)
	c.OwnRosters()
	gws := make([]*gateway.Gateway, n)
	for i := range gws {
		gws[i] = c.Start(i)
	}
	awaitMesh(t, c, gws)
	return c, gws
}

// awaitMesh waits until each running gateway is connected to every other.
func awaitMesh(t *testing.T, c *testnet.Cluster, gws []*gateway.Gateway) {
	t.Helper()
	poll.Until(t, func() bool {
		for i, g := range gws {
			for j := range gws {
				if g != nil && gws[j] != nil && i != j && !testnet.ConnectedTo(g, c.Net.Orgs[j].Org) {
					return false
				}
			}
		}
		return true
	}, "every gateway connected to every other")
}

func submitTo(t *testing.T, g *gateway.Gateway, r *consortium.Roster) (*api.RosterProposal, error) {
	t.Helper()
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return g.Services().Admin.SubmitRoster(data)
}

// A proposal signed by one admin on one gateway and by another on a
// second is held by every gateway while under the threshold, and adopted
// by every gateway, written to each one's own roster file, within seconds
// of the signature that completes it. No file is copied.
func TestProposalSignedOnTwoGatewaysIsAdoptedEverywhere(t *testing.T) {
	c, gws := travelNet(t, 3)
	v1 := c.RosterOf(0)
	rename := func(r *consortium.Roster) { r.Members[2].Name = "Caspian Freight Lines" }

	if p, err := submitTo(t, gws[0], c.Revise(v1, rename, 0)); err != nil || p.State != "pending" {
		t.Fatalf("the first signature: %+v %v", p, err)
	}
	poll.Until(t, func() bool {
		for _, g := range gws {
			ps := g.Services().Admin.RosterProposals()
			if len(ps) != 1 || !slices.Equal(ps[0].Signed, []string{"admin-" + c.Net.Orgs[0].Org}) {
				return false
			}
		}
		return true
	}, "every gateway holds the proposal, signed by one admin")
	for i, g := range gws {
		if v := g.Roster().Version; v != 1 {
			t.Fatalf("gateway %d put a version signed by one admin of a threshold of 2 in force: version %d", i, v)
		}
	}

	start := time.Now()
	if p, err := submitTo(t, gws[1], c.Revise(v1, rename, 1)); err != nil || p.State != "adopted" {
		t.Fatalf("the second signature, on another gateway: %+v %v", p, err)
	}
	poll.Until(t, func() bool {
		for i, g := range gws {
			if g.Roster().Version != 2 || c.RosterOf(i).Version != 2 || len(g.Services().Admin.RosterProposals()) != 0 {
				return false
			}
		}
		return true
	}, "every gateway on version 2, in force and in its roster file")
	t.Logf("adopted everywhere %v after the second signature", time.Since(start).Round(time.Millisecond))
	for i, g := range gws {
		if name := g.Roster().Members[2].Name; name != "Caspian Freight Lines" {
			t.Fatalf("gateway %d: member name %q", i, name)
		}
		if _, err := os.Stat(datadir.Dir(c.Dir(i)).RosterVersion(2)); err != nil {
			t.Fatalf("gateway %d did not keep version 2: %v", i, err)
		}
	}
}

// A gateway that was stopped while the others adopted three versions, one
// of them rotating an admin's key, catches up when it starts again: it
// walks the chain, version by version (it could not check the newest
// against its own: the rotated key is not one of its admins), and ends on
// the newest. The old key of the rotated admin no longer counts anywhere.
func TestGatewayOfflineAcrossThreeVersionsCatchesUp(t *testing.T) {
	c, gws := travelNet(t, 3)
	if err := gws[2].Close(); err != nil {
		t.Fatal(err)
	}
	gws[2] = nil
	_, rotated, _ := ed25519.GenerateKey(nil)
	v := c.RosterOf(0)
	steps := []struct {
		edit    func(*consortium.Roster)
		signers []int
		extra   ed25519.PrivateKey
	}{
		{func(r *consortium.Roster) { r.Members[1].Sector = "customs-and-excise" }, []int{0, 1}, nil},
		// admin 0's key is rotated: the other two sign for the admins in
		// force; the new key signs too.
		{func(r *consortium.Roster) {
			r.Admins.Keys[0].Key = consortium.EncodePublicKey(rotated.Public().(ed25519.PublicKey))
		}, []int{1, 2}, rotated},
		{func(r *consortium.Roster) { r.Members[0].Name = "Kashgar Customs Bureau" }, []int{1}, rotated},
	}
	for k, s := range steps {
		next := c.Revise(v, s.edit, s.signers...)
		if s.extra != nil {
			if _, err := next.Sign(s.extra); err != nil {
				t.Fatal(err)
			}
		}
		if p, err := submitTo(t, gws[0], next); err != nil || p.State != "adopted" {
			t.Fatalf("version %d: %+v %v", k+2, p, err)
		}
		v = next
	}
	poll.Until(t, func() bool {
		return gws[0].Roster().Version == 4 && gws[1].Roster().Version == 4
	}, "the running gateways on version 4")
	if err := consortium.CheckUpdate(c.RosterOf(2), v); err == nil {
		t.Fatal("version 4 checks against version 1 directly; the test would not prove the walk")
	}

	gws[2] = c.Start(2)
	poll.Until(t, func() bool {
		return gws[2].Roster().Version == 4 && c.RosterOf(2).Version == 4
	}, "the restarted gateway on version 4, in force and in its roster file")
	for ver := uint64(2); ver <= 4; ver++ {
		if _, err := os.Stat(datadir.Dir(c.Dir(2)).RosterVersion(ver)); err != nil {
			t.Fatalf("the restarted gateway did not keep version %d: %v", ver, err)
		}
	}

	// Admin 0's old key signs nothing that counts any more.
	stale := c.Revise(v, func(r *consortium.Roster) { r.Members[1].Name = "signed with a retired key" }, 1)
	msg, err := stale.SigningBytes()
	if err != nil {
		t.Fatal(err)
	}
	stale.Signatures = append(stale.Signatures, consortium.Signature{Admin: "admin-" + c.Net.Orgs[0].Org,
		Sig: base64.StdEncoding.EncodeToString(ed25519.Sign(c.Admin(0), msg))})
	for i, g := range gws {
		if _, err := submitTo(t, g, stale); !errors.Is(err, api.ErrRefused) {
			t.Fatalf("gateway %d took a signature by a rotated key: %v", i, err)
		}
	}
}

// A member gossiping roster versions cannot make a gateway adopt or hold
// what the admins in force did not sign: a replay of an older version, a
// fork of the version in force (even signed by a threshold), a proposal
// changed after it was signed, and a takeover signed only by keys outside
// the admins in force are neither adopted nor held. A genuine proposal it
// relays travels.
func TestReplayedForkedOrForgedRosterGossipIsRefused(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	c.OwnRosters()
	gws := []*gateway.Gateway{c.Start(0), c.Start(1)}
	awaitMesh(t, c, gws)
	v1 := c.RosterOf(0)
	v2 := c.Revise(v1, func(r *consortium.Roster) { r.Members[0].Sector = "customs-and-excise" }, 0, 1)
	if p, err := submitTo(t, gws[0], v2); err != nil || p.State != "adopted" {
		t.Fatalf("version 2: %+v %v", p, err)
	}
	poll.Until(t, func() bool { return gws[1].Roster().Version == 2 }, "version 2 on the second gateway")

	hostile := c.Hostile(2, gws...)
	gossip := func(r *consortium.Roster) {
		data, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		hostile.Gossip(t, "roster", data)
	}
	gossip(v1) // a replay
	gossip(c.Revise(v1, func(r *consortium.Roster) { r.Members[0].Name = "a fork of version 2" }, 0, 1))
	forged := c.Revise(v2, func(r *consortium.Roster) { r.Members[1].Name = "as signed" }, 0)
	forged.Members[1].Name = "changed after signing"
	gossip(forged)
	_, outsider, _ := ed25519.GenerateKey(nil)
	takeover := c.Revise(v2, func(r *consortium.Roster) {
		r.Admins = consortium.Admins{Threshold: 1, Keys: []consortium.AdminKey{{Name: "mallory", Key: consortium.EncodePublicKey(outsider.Public().(ed25519.PublicKey))}}}
	})
	if _, err := takeover.Sign(outsider); err != nil {
		t.Fatal(err)
	}
	gossip(takeover)
	genuine := c.Revise(v2, func(r *consortium.Roster) { r.Members[1].Name = "Khorgos Gateway Logistics" }, 1)
	gossip(genuine)

	poll.Until(t, func() bool {
		for _, g := range gws {
			if ps := g.Services().Admin.RosterProposals(); len(ps) == 0 || ps[0].Version != 3 {
				return false
			}
		}
		return true
	}, "the genuine proposal, relayed, held by both gateways")
	want, _ := genuine.Digest()
	for i, g := range gws {
		ps := g.Services().Admin.RosterProposals()
		if len(ps) != 1 || ps[0].Digest != hex.EncodeToString(want[:]) {
			t.Fatalf("gateway %d holds %+v; want only the genuine proposal", i, ps)
		}
		if r := g.Roster(); r.Version != 2 || !consortium.Equal(r, v2) {
			t.Fatalf("gateway %d has version %d in force, not version 2 as signed", i, r.Version)
		}
	}
}
