package gateway_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/consortium/edit"
	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/gateway/roster"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testnet"
	"github.com/caravan-consortium/caravan/journal"
)

// A running gateway takes a newer roster from the file, refuses a downgrade,
// a takeover by keys outside the admin set and a tampered file, and keeps
// the roster in force each time.
func TestRosterHotReload(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	a := c.Start(0)
	v1 := c.Roster()

	// v2 renames a member, signed by two of the three admins: taken from
	// the file watcher, without any call.
	v2 := c.NextRoster(func(r *consortium.Roster) { r.Members[2].Name = "Caspian Freight (renamed)" }, 1, 2)
	c.WriteRoster(v2)
	poll.Until(t, func() bool { return a.Roster().Version == 2 }, "version 2 to be in force")

	// refused writes a roster file and checks that the watcher refused it,
	// and that reloading it (as SIGHUP does) gives the expected reason.
	refused := func(write func(), why string, wantErr error) {
		t.Helper()
		before := a.Services().Admin.Status().RosterRejected
		write()
		poll.Until(t, func() bool { return a.Services().Admin.Status().RosterRejected > before }, why+" to be refused")
		if err := a.Services().Admin.ReloadRoster(); !errors.Is(err, wantErr) {
			t.Fatalf("%s: ReloadRoster: %v, want %v", why, err, wantErr)
		}
		if v := a.Roster().Version; v != 2 {
			t.Fatalf("after %s, version %d is in force", why, v)
		}
	}
	refused(func() { c.WriteRoster(v1) }, "a downgrade to version 1", consortium.ErrDowngrade)

	// An attacker holding a key outside the admin set makes version 3 that
	// names it the only admin: valid on its own, not authorized by v2's admins.
	_, mallory, _ := ed25519.GenerateKey(nil)
	takeover := c.Revise(v2, func(r *consortium.Roster) {
		r.Admins = consortium.Admins{Threshold: 1, Keys: []consortium.AdminKey{
			{Name: "mallory", Key: consortium.EncodePublicKey(mallory.Public().(ed25519.PublicKey))}}}
	})
	if _, err := takeover.Sign(mallory); err != nil {
		t.Fatal(err)
	}
	if _, err := takeover.Verify(); err != nil {
		t.Fatalf("the takeover roster should verify on its own: %v", err)
	}
	refused(func() { c.WriteRoster(takeover) }, "a roster whose new admins the current ones did not sign", consortium.ErrBelowThreshold)

	refused(func() {
		r := c.Revise(v2, nil, 0, 1)
		r.Members[0].Country = "US" // changed after signing
		c.WriteRoster(r)
	}, "a tampered roster", consortium.ErrBadSignature)

}

// A member removed from the roster is disconnected and cannot come back.
func TestRemovedMemberIsDisconnected(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	a := c.Start(0)
	c.Start(1)
	gone := c.Net.Orgs[1].Org
	poll.Until(t, func() bool { return testnet.ConnectedTo(a, gone) }, "the first connection")

	c.WriteRoster(c.NextRoster(func(r *consortium.Roster) {
		r.Members = append(r.Members[:1], r.Members[2:]...)
	}, 0, 2))
	poll.Until(t, func() bool { return a.Roster().Version == 2 }, "version 2")
	poll.Until(t, func() bool { return len(a.Host().Network().ConnsToPeer(c.PeerOf(1))) == 0 }, "the removed member to be disconnected")
	time.Sleep(time.Second) // the removed gateway keeps redialing
	if n := len(a.Host().Network().ConnsToPeer(c.PeerOf(1))); n != 0 {
		t.Fatalf("the removed member has %d connection(s) again", n)
	}
	if a.Services().Admin.Status().Refused == 0 {
		t.Fatal("the removed member's redials were not refused")
	}
}

// A gateway remembers the newest roster it accepted: restarted on an older
// file, it keeps the newer one in force.
func TestRestartOnOlderRosterKeepsNewer(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	v1 := c.Roster()
	c.WriteRoster(c.NextRoster(func(r *consortium.Roster) { r.Members[1].Sector = "revenue" }, 0, 1))
	a := c.Start(0)
	if a.Roster().Version != 2 {
		t.Fatalf("version %d in force, want 2", a.Roster().Version)
	}
	a.Close()
	c.WriteRoster(v1)
	a = c.Start(0)
	if v := a.Roster().Version; v != 2 {
		t.Fatalf("restarted on version 1's file, version %d is in force; want 2", v)
	}
	if a.Services().Admin.Status().RosterRejected != 1 {
		t.Fatalf("RosterRejected = %d, want 1", a.Services().Admin.Status().RosterRejected)
	}
	// The refusal, with its reason, through the API.
	if got := getControl(t, c.Dir(0), "/v1/roster/refusals"); !strings.Contains(got, `"in_force":2`) || !strings.Contains(got, `"reason":`) {
		t.Fatalf("GET /v1/roster/refusals: %s", got)
	}
}

// The attack (or an onboarding in progress): a roster lists a member, with
// the witness role, that has no node yet. Its missing key made journal
// trust fail for everyone: no checkpoint of any member could be checked,
// cosigned or counted as witnessed. Such a member is now left out of
// journal trust until it lists a node.
func TestMemberWithoutNodeDoesNotStopWitnessing(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	nodes := []*gateway.Gateway{c.Start(0), c.Start(1), c.Start(2)}
	v2 := c.NextRoster(func(r *consortium.Roster) {
		r.Members = append(r.Members, consortium.Member{Org: "onboarding-ge", Name: "Georgian Customs (onboarding)", Country: "GE",
			Sector: "customs", Roles: []string{consortium.RoleWitness}})
	}, 0, 1)
	c.WriteRoster(v2)
	for _, n := range nodes {
		poll.Until(t, func() bool { return n.Roster().Version == 2 }, "version 2 in force")
	}
	if _, err := journal.TrustOf(v2.Consortium, v2); err != nil {
		t.Fatalf("journal trust of a roster with a member without a node: %v", err)
	}
	idx, err := nodes[0].Append(context.Background(), &journal.Event{Type: journal.TypePolicy, Bundle: "bagaaieraexample"})
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, func() bool {
		st := nodes[0].Services().Admin.Status().Journal
		return st.Size > idx && st.Witness
	}, "customs-cn's newest checkpoint witnessed by the others")
}

// A roster version that has expired is put in force and served under, and
// the gateway says so: in its status, its metrics and its log. A newer
// version, not expired, clears it.
func TestExpiredRosterIsServedAndSaidLoudly(t *testing.T) {
	c := testnet.NewCluster(t, 2)
	a := c.Start(0)
	b := c.Start(1)
	poll.Until(t, func() bool { return testnet.ConnectedTo(a, "customs-kz") }, "the two connected")
	past := time.Now().UTC().Add(-time.Hour).Truncate(time.Second).Format(time.RFC3339)
	c.WriteRoster(c.NextRoster(func(r *consortium.Roster) { r.Expires = past }, 0, 1))
	poll.Until(t, func() bool { return a.Roster().Version == 2 && b.Roster().Version == 2 }, "the expired version in force")
	st := a.Services().Admin.Status()
	if !st.RosterExpired || st.RosterExpires != past {
		t.Fatalf("status: expired %v, expires %q; want expired at %s", st.RosterExpired, st.RosterExpires, past)
	}
	if !testnet.ConnectedTo(a, "customs-kz") {
		t.Fatal("the gateway stopped serving its partner under an expired roster")
	}
	body := getControl(t, c.Dir(0), "/metrics")
	if metricValue(body, "caravan_roster_expired") != 1 || metricValue(body, "caravan_roster_expires_timestamp_seconds") <= 0 {
		t.Fatal("the metrics do not say the roster has expired")
	}
	future := time.Now().UTC().Add(24 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	c.WriteRoster(c.NextRoster(func(r *consortium.Roster) { r.Expires = future }, 0, 1))
	poll.Until(t, func() bool { return !a.Services().Admin.Status().RosterExpired }, "a current version to clear it")
	if metricValue(getControl(t, c.Dir(0), "/metrics"), "caravan_roster_expired") != 0 {
		t.Fatal("the metrics still say expired under a current version")
	}
}

// Every roster version a gateway puts in force is kept in its data
// directory (a data directory from before is kept from its next start).
func TestEveryRosterVersionInForceIsKept(t *testing.T) {
	c := testnet.NewCluster(t, 2)
	a := c.Start(0)
	c.WriteRoster(c.NextRoster(func(r *consortium.Roster) { r.Members[1].Name = "renamed" }, 0, 1))
	poll.Until(t, func() bool { return a.Roster().Version == 2 }, "version 2 in force")
	for v := uint64(1); v <= 2; v++ {
		r, err := consortium.LoadVerified(datadir.Dir(c.Dir(0)).RosterVersion(v))
		if err != nil || r.Version != v {
			t.Fatalf("version %d kept: %v", v, err)
		}
	}
}

// Admins sign the next version where they are and hand their signatures
// to a gateway one at a time: it holds them, merged, and puts the version
// in force once the threshold has signed; a takeover never is.
func TestRosterProposalsAreAdoptedAtTheThreshold(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	a := c.Start(0)
	v1 := c.Roster()
	admin := a.Services().Admin
	submit := func(r *consortium.Roster) (*api.RosterProposal, error) {
		t.Helper()
		data, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return admin.SubmitRoster(data)
	}
	rename := func(r *consortium.Roster) { r.Members[2].Name = "Caspian Freight (proposed)" }

	p, err := submit(c.Revise(v1, rename, 0))
	if err != nil || p.State != "pending" || len(p.Signed) != 1 || a.Roster().Version != 1 {
		t.Fatalf("one signature of two: %+v %v (in force: %d)", p, err, a.Roster().Version)
	}
	if st := admin.Status(); len(st.RosterProposals) != 1 || len(st.RosterProposals[0].Unsigned) != 2 {
		t.Fatalf("status proposals: %+v", st.RosterProposals)
	}
	p, err = submit(c.Revise(v1, rename, 1)) // the other admin, signed apart
	if err != nil || p.State != "adopted" || len(p.Signed) != 2 {
		t.Fatalf("the second signature: %+v %v", p, err)
	}
	if a.Roster().Version != 2 || c.Roster().Version != 2 || len(admin.RosterProposals()) != 0 {
		t.Fatalf("in force %d, file %d, pending %d", a.Roster().Version, c.Roster().Version, len(admin.RosterProposals()))
	}
	v2 := a.Roster()

	// A takeover: a version naming an outsider the only admin, signed by
	// it. Its own signature counts for its own admins, never for those in
	// force: it stays pending, whatever it is submitted with.
	_, outsider, _ := ed25519.GenerateKey(nil)
	takeover := c.Revise(v2, func(r *consortium.Roster) {
		r.Admins = consortium.Admins{Threshold: 1, Keys: []consortium.AdminKey{{Name: "mallory", Key: consortium.EncodePublicKey(outsider.Public().(ed25519.PublicKey))}}}
	})
	if _, err := takeover.Sign(outsider); err != nil {
		t.Fatal(err)
	}
	if p, err := submit(takeover); err != nil || p.State != "pending" || a.Roster().Version != 2 {
		t.Fatalf("a takeover: %+v %v (in force %d)", p, err, a.Roster().Version)
	}
	// A replay of an older version, and a signature that does not verify,
	// are refused outright.
	if _, err := submit(v1); !errors.Is(err, api.ErrRefused) {
		t.Fatalf("a replay of version 1: %v", err)
	}
	forged := c.Revise(v2, rename, 0)
	forged.Members[2].Name = "changed after signing"
	if _, err := submit(forged); !errors.Is(err, api.ErrRefused) || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("a forged signature: %v", err)
	}
	if a.Roster().Version != 2 {
		t.Fatal("a refused proposal changed the roster in force")
	}
}

// The proposals a gateway holds are bounded, and those a version in force
// supersedes are dropped.
func TestRosterProposalsAreBounded(t *testing.T) {
	c := testnet.NewCluster(t, 2)
	a := c.Start(0)
	admin := a.Services().Admin
	v1 := c.Roster()
	submit := func(r *consortium.Roster) (*api.RosterProposal, error) {
		t.Helper()
		data, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return admin.SubmitRoster(data)
	}
	for i := range roster.MaxProposals {
		if _, err := submit(c.Revise(v1, func(r *consortium.Roster) { r.Members[1].Name = fmt.Sprint("name ", i) })); err != nil {
			t.Fatalf("proposal %d: %v", i, err)
		}
	}
	if _, err := submit(c.Revise(v1, func(r *consortium.Roster) { r.Members[1].Name = "one too many" })); !errors.Is(err, api.ErrRefused) {
		t.Fatalf("proposal %d: %v, want refused", roster.MaxProposals+1, err)
	}
	// Signatures for a held content are still taken, and its adoption
	// drops every proposal of its version or before.
	if p, err := submit(c.Revise(v1, func(r *consortium.Roster) { r.Members[1].Name = "name 3" }, 0, 1)); err != nil || p.State != "adopted" {
		t.Fatalf("adopting a held proposal: %+v %v", p, err)
	}
	held, _ := filepath.Glob(filepath.Join(datadir.Dir(c.Dir(0)).Proposals(), "*"))
	if len(held) != 0 || len(admin.RosterProposals()) != 0 {
		t.Fatalf("%d proposal files held after version 2 was adopted", len(held))
	}
}

// A removed member's datasets are no longer listed or served by the
// others, and it can no longer connect; what it journaled stays.
func TestRemovedMemberIsNoLongerServed(t *testing.T) {
	fn := testnet.NewFetchNet(t, 5)
	kz := fn.Nodes[1]
	if _, err := kz.Services().Sharing.CatalogItem(fn.CID); err != nil {
		t.Fatalf("before the removal: %v", err)
	}
	remove := edit.RemoveMember{Org: "customs-cn"}
	next := fn.C.NextRoster(func(r *consortium.Roster) {
		if err := remove.Apply(r); err != nil {
			t.Fatal(err)
		}
	}, 1, 2)
	fn.C.WriteRoster(next)
	poll.Until(t, func() bool { return kz.Roster().Version == 2 }, "the removal in force")
	list, err := kz.Services().Sharing.Catalog(api.CatalogQuery{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		if e.Manifest.Publisher == "customs-cn" {
			t.Fatalf("the removed member's dataset is still listed: %s", e.CID)
		}
	}
	if _, err := kz.Services().Sharing.CatalogItem(fn.CID); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("the removed member's manifest: %v", err)
	}
	if _, err := kz.Services().Sharing.DatasetVersions("customs-cn", "declarations"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("the removed member's versions: %v", err)
	}
	poll.Until(t, func() bool { return !testnet.ConnectedTo(kz, "customs-cn") }, "the removed member disconnected")
}

// The roster the API serves is the signed document itself: every field the
// admins signed (org keys and the expiry included) is there, so a client
// verifies its signatures from the JSON alone.
func TestServedRosterVerifiesFromItsJSON(t *testing.T) {
	c := testnet.NewCluster(t, 2)
	c.WriteRoster(c.NextRoster(func(r *consortium.Roster) { r.Expires = "2030-01-01T00:00:00Z" }, 0, 1))
	c.Start(0)
	body := getControl(t, c.Dir(0), "/v1/roster")
	var r consortium.Roster
	var sigs struct {
		Signatures []consortium.Signature `json:"signatures"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(body), &sigs); err != nil {
		t.Fatal(err)
	}
	r.Signatures = sigs.Signatures
	if r.Members[0].OrgKey == "" || r.Expires == "" {
		t.Fatalf("the served roster lacks signed fields: %.400s", body)
	}
	if _, err := r.Verify(); err != nil {
		t.Fatalf("the served roster does not verify: %v", err)
	}
}
