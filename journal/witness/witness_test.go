package witness_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/caravan-consortium/caravan/api"

	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testnet"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/schemas/sample"
)

// TestJournalsWitnessedAcrossMembers: three gateways each journal their
// start (roster, policy) and a publish; every org's checkpoint is mirrored
// and cosigned by the two others.
func TestJournalsWitnessedAcrossMembers(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	var nodes []*gateway.Gateway
	for i := range 3 {
		nodes = append(nodes, c.Start(i))
	}
	cl, err := api.NewClient(c.Dir(0))
	if err != nil {
		t.Fatal(err)
	}
	testnet.RegisterDemoSchemas(t, nodes, cl)
	var body bytes.Buffer
	if err := sample.Write(&body, "customs-declaration", 10, 1, nil); err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		poll.Until(t, func() bool { st := n.Services().Admin.Status().Journal; return st.Size >= 2 && st.Witness }, c.Net.Orgs[i].Org+"'s start witnessed")
	}
	start := time.Now()
	if _, err := cl.Publish(context.Background(), api.PublishRequest{Dataset: "d", Schema: "customs-declaration", Format: "jsonl"}, &body, nil); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, func() bool {
		st := nodes[0].Services().Admin.Status().Journal
		return st.Size >= 3 && len(st.Cosigs) == 2
	}, "the publish witnessed")
	t.Logf("publish returned to its checkpoint cosigned by both others: %v", time.Since(start))
	for i, n := range nodes {
		want := uint64(2) // roster + policy
		if i == 0 {
			want = 3 // + publish
		}
		poll.Until(t, func() bool {
			st := n.Services().Admin.Status().Journal
			return st.Size >= want && st.Witness && len(st.Cosigs) == 2
		}, c.Net.Orgs[i].Org+"'s journal witnessed by both others")
		poll.Until(t, func() bool {
			for _, m := range n.Services().Admin.Status().Journal.Mirrors {
				if m.Size < 2 {
					return false
				}
			}
			return true
		}, c.Net.Orgs[i].Org+"'s mirrors")
	}
	for _, n := range nodes {
		if a := n.Services().Admin.Status().Journal.Alerts; a != 0 {
			t.Errorf("%d alerts", a)
		}
	}
}

// TestJournalCatchUpAfterOffline: a gateway that was offline while a member
// journaled catches up that member's log when it comes back, without anyone
// appending again.
func TestJournalCatchUpAfterOffline(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	a := c.Start(0)
	c.Start(1)
	third := c.Start(2)
	poll.Until(t, func() bool { return a.Services().Admin.Status().Journal.Witness }, "customs-cn witnessed")
	if err := third.Close(); err != nil {
		t.Fatal(err)
	}
	cl, err := api.NewClient(c.Dir(0))
	if err != nil {
		t.Fatal(err)
	}
	testnet.RegisterDemoSchemas(t, []*gateway.Gateway{a}, cl)
	for i := range 3 {
		var body bytes.Buffer
		if err := sample.Write(&body, "shipment-event", 5, uint64(i), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Publish(context.Background(), api.PublishRequest{Dataset: "events", Schema: "shipment-event", Format: "jsonl"}, &body, nil); err != nil {
			t.Fatal(err)
		}
	}
	var size uint64
	poll.Until(t, func() bool { size = a.Services().Admin.Status().Journal.Size; return size >= 5 }, "customs-cn's checkpoint with the publishes")
	back := c.Start(2)
	poll.Until(t, func() bool {
		for _, m := range back.Services().Admin.Status().Journal.Mirrors {
			if m.Org == "customs-cn" {
				return m.Size >= size
			}
		}
		return false
	}, "logistics-az's mirror of customs-cn to catch up")
}

// TestJournalOwnerPullsMissedCosignatures: an owner that missed its
// witnesses' cosignatures (it stopped before their gossip arrived) gets
// them when it comes back, although nothing new is journaled: repeating the
// same note on gossip would be dropped as already seen.
func TestJournalOwnerPullsMissedCosignatures(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	a := c.Start(0)
	c.Start(1)
	c.Start(2)
	poll.Until(t, func() bool { st := a.Services().Admin.Status().Journal; return st.Size >= 2 && len(st.Cosigs) == 2 }, "customs-cn witnessed by both others")
	size := a.Services().Admin.Status().Journal.Size
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// What the owner would hold had it stopped before the cosignatures came.
	if err := os.RemoveAll(filepath.Join(datadir.Dir(c.Dir(0)).Witnessed(), "customs-cn")); err != nil {
		t.Fatal(err)
	}
	back := c.Start(0)
	poll.Until(t, func() bool {
		st := back.Services().Admin.Status().Journal
		return st.Size == size && len(st.Cosigs) == 2
	}, "customs-cn's unchanged checkpoint cosigned again by both others")
}

// A gateway bounds its witnessed-checkpoint store: notes beyond the newest
// few hundred of a log go, the newest witnessed one stays.
func TestJournalPrunesWitnessedCheckpoints(t *testing.T) {
	c := testnet.NewCluster(t, 2)
	a := c.Start(0)
	c.Start(1)
	poll.Until(t, func() bool { st := a.Services().Admin.Status().Journal; return st.Size >= 2 && len(st.Cosigs) == 1 }, "customs-cn witnessed")
	size := a.Services().Admin.Status().Journal.Size
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// Old notes of a log that has been busy for a while (never witnessed,
	// and older than what the gateway holds).
	dir := filepath.Join(datadir.Dir(c.Dir(0)).Witnessed(), "customs-cn")
	for i := range 400 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(size+1000+uint64(i))), []byte("stale note\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c.Start(0)
	w, err := journal.OpenWitnessed(datadir.Dir(c.Dir(0)).Witnessed())
	if err != nil {
		t.Fatal(err)
	}
	// The 256 newest notes (the stale ones, by size) and the newest
	// witnessed one, a real checkpoint below them.
	var sizes []uint64
	poll.Until(t, func() bool { sizes = w.Sizes("customs-cn"); return len(sizes) == 257 }, "the witnessed store pruned to 257 notes")
	if sizes[0] >= size+1000 || sizes[1] != size+1000+400-256 {
		t.Fatalf("kept sizes %d, %d, ...; want the real witnessed one, then %d and up", sizes[0], sizes[1], size+1000+400-256)
	}
}
