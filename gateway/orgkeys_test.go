package gateway_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/internal/keyfile"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/internal/testnet"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/schemas"
)

// publishAndProve publishes a small dataset on gateway cl's org and returns
// its manifest's CID and the evidence file of its journal entry, once a
// checkpoint that the witnesses cosigned covers it.
func publishAndProve(t *testing.T, cl *api.Client, dataset string) (string, []byte) {
	t.Helper()
	ctx := context.Background()
	res, err := cl.Publish(ctx, api.PublishRequest{Dataset: dataset, Schema: "customs-declaration", Format: "jsonl",
		Purposes: []string{"customs-clearance"}}, bytes.NewReader(testkit.JSONL(t, "customs-declaration", 20, 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	var evidence []byte
	poll.Until(t, func() bool {
		page, err := cl.JournalEntries(ctx, "", 0, 1000)
		if err != nil {
			return false
		}
		for _, e := range page.Entries {
			if e.Event != nil && e.Event.Manifest == res.CID {
				evidence, err = cl.Evidence(ctx, int64(e.Index), "")
				return err == nil
			}
		}
		return false
	}, "the publish of "+dataset+" in a witnessed checkpoint")
	return res.CID, evidence
}

// verifiesUnder says whether evidence verifies offline under roster r.
func verifiesUnder(t *testing.T, evidence []byte, r *consortium.Roster) error {
	t.Helper()
	tr, err := journal.TrustOf(r.Consortium, r)
	if err != nil {
		t.Fatal(err)
	}
	_, err = journal.VerifyProof(evidence, tr)
	return err
}

// signerOf is the PeerID spelling of pub, as a statement's signer.
func signerOf(t *testing.T, pub ed25519.PublicKey) string {
	t.Helper()
	k, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// listedBy waits until gateway cl lists statement id, and returns who signed it.
func listedBy(t *testing.T, cl *api.Client, id string) string {
	t.Helper()
	item, err := cl.AwaitCatalogItem(context.Background(), id, poll.Timeout)
	if err != nil || item.Entry == nil {
		t.Fatalf("%s not listed: %v", id, err)
	}
	return item.Entry.Signer
}

func startAll(t *testing.T, c *testnet.Cluster, n int) []*gateway.Gateway {
	t.Helper()
	gws := make([]*gateway.Gateway, n)
	for i := range gws {
		gws[i] = c.Start(i)
	}
	awaitMesh(t, c, gws)
	return gws
}

func awaitVersionEverywhere(t *testing.T, gws []*gateway.Gateway, v uint64) {
	t.Helper()
	poll.Until(t, func() bool {
		for _, g := range gws {
			if g.Roster().Version != v {
				return false
			}
		}
		return true
	}, "every gateway on the new roster version")
}

// A member whose roster entry has no org key (a consortium from before org
// keys) is upgraded by a signed version that gives it one: from then on
// its statements and checkpoints are signed by the org key, the witnesses
// go on cosigning its one log, and the evidence of what it journaled
// before still verifies offline, under the version of its time.
func TestUpgradeToOrgKeyKeepsEarlierEvidence(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	v1 := c.Revise(c.Roster(), func(r *consortium.Roster) {
		for i := range r.Members {
			r.Members[i].OrgKey = ""
		}
	}, 0, 1)
	v1.Version = 1 // the consortium as it was created, before org keys
	v1.Signatures = nil
	for _, i := range []int{0, 1} {
		if _, err := v1.Sign(c.Admin(i)); err != nil {
			t.Fatal(err)
		}
	}
	c.WriteRoster(v1)
	gws := startAll(t, c, 3)
	cl, err := api.NewClient(c.Dir(0))
	if err != nil {
		t.Fatal(err)
	}
	kz, err := api.NewClient(c.Dir(1))
	if err != nil {
		t.Fatal(err)
	}
	testnet.RegisterDemoSchemas(t, gws, cl)
	before, evBefore := publishAndProve(t, cl, "before-the-org-key")
	if got := listedBy(t, kz, before); got != c.PeerOf(0).String() {
		t.Fatalf("before the upgrade, signed by %s, not the node", got)
	}

	orgKey := c.OrgKey(0) // made by init; the admins learn its key line
	switchOrgKey(t, c, gws, orgKey.Public().(ed25519.PublicKey), evBefore, 0, 1)
	// The versions are kept where 'caravan verify --roster DIR/state/rosters' reads them.
	for v := uint64(1); v <= 2; v++ {
		if _, err := os.Stat(datadir.Dir(c.Dir(1)).RosterVersion(v)); err != nil {
			t.Fatal(err)
		}
	}
}

// After an org key is rotated, the old key signs nothing of the org's:
// a statement it signs, gossiped by a member, is refused by every gateway,
// while one signed by the new key is taken; the org's gateway signs with
// the new key at once; and the evidence signed by the old key still
// verifies offline under the version in force when it was signed.
func TestRotatedOrgKeySignsNothingNew(t *testing.T) {
	c := testnet.NewCluster(t, 4) // partner-4's node key plays a hostile member
	gws := startAll(t, c, 3)
	cl, err := api.NewClient(c.Dir(0))
	if err != nil {
		t.Fatal(err)
	}
	testnet.RegisterDemoSchemas(t, gws, cl)
	_, evOld := publishAndProve(t, cl, "signed-by-the-first-key")

	// The org's operator puts the new key in place, then the admins sign
	// the version that names it.
	old := c.OrgKey(0)
	_, rotated, _ := ed25519.GenerateKey(nil)
	path := datadir.Dir(c.Dir(0)).OrgKey()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := keyfile.Write(path, rotated); err != nil {
		t.Fatal(err)
	}
	switchOrgKey(t, c, gws, rotated.Public().(ed25519.PublicKey), evOld, 0, 1, 2) // 3 of 4

	// Whoever holds the old key cannot speak for the org any more.
	hs := c.Hostile(3, gws...)
	hs.Gossip(t, "catalog", registrationSignedBy(t, c, 0, "old-key-says", old))
	hs.Gossip(t, "catalog", registrationSignedBy(t, c, 0, "new-key-says", rotated))
	for i, g := range gws[1:] {
		poll.Until(t, func() bool { return registered(g, "customs-cn/new-key-says@1.0") }, "the registration signed by the new key")
		if registered(g, "customs-cn/old-key-says@1.0") {
			t.Fatalf("gateway %d took a registration signed by the retired org key", i+1)
		}
	}
}

// switchOrgKey has the admins of the given orgs sign the next version of
// the roster, which names pub as org 0's key, and checks what follows on
// every gateway: org 0's next publish is signed by pub, its evidence
// verifies under the new version, and the evidence from before (evBefore)
// verifies under the version of its time only.
func switchOrgKey(t *testing.T, c *testnet.Cluster, gws []*gateway.Gateway, pub ed25519.PublicKey, evBefore []byte, signers ...int) {
	t.Helper()
	before := gws[0].Roster()
	next := c.NextRoster(func(r *consortium.Roster) { r.Members[0].OrgKey = consortium.EncodePublicKey(pub) }, signers...)
	c.WriteRoster(next)
	awaitVersionEverywhere(t, gws, next.Version)
	cl, err := api.NewClient(c.Dir(0))
	if err != nil {
		t.Fatal(err)
	}
	kz, err := api.NewClient(c.Dir(1))
	if err != nil {
		t.Fatal(err)
	}
	id, evidence := publishAndProve(t, cl, fmt.Sprintf("signed-under-version-%d", next.Version))
	if got := listedBy(t, kz, id); got != signerOf(t, pub) {
		t.Fatalf("under version %d, signed by %s, not the org key it names", next.Version, got)
	}
	if err := verifiesUnder(t, evidence, next); err != nil {
		t.Fatalf("evidence signed by the org key, under version %d: %v", next.Version, err)
	}
	if err := verifiesUnder(t, evBefore, before); err != nil {
		t.Fatalf("evidence from before, under version %d: %v", before.Version, err)
	}
	if err := verifiesUnder(t, evBefore, next); err == nil {
		t.Fatalf("evidence from before verifies under version %d, whose journal key is another", next.Version)
	}
}

// registrationSignedBy is a schema registration of org i signed by key,
// outside any gateway.
func registrationSignedBy(t *testing.T, c *testnet.Cluster, i int, name string, key ed25519.PrivateKey) []byte {
	t.Helper()
	return signedRegistration(t, c, i, name, time.Now(), key)
}

func registered(g *gateway.Gateway, id string) bool {
	return slices.ContainsFunc(g.Registry().All(), func(s *schemas.Schema) bool { return s.Label() == id })
}
