package gateway_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testnet"
	"github.com/caravan-consortium/caravan/journal"
)

// The journal through the API: a page of entries, the evidence file of
// one by its 12-character hash prefix, and that file checked by the
// gateway (and a tampered copy refused with 422).
func TestJournalThroughTheAPI(t *testing.T) {
	fn := testnet.NewFetchNet(t, 50)
	cl, err := api.NewClient(fn.C.Dir(0))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var page *api.JournalPage
	poll.Until(t, func() bool {
		page, err = cl.JournalEntries(ctx, "", 0, 3)
		return err == nil && len(page.Entries) == 3
	}, "three entries in customs-cn's journal")
	for i, e := range page.Entries {
		if e.Index != uint64(i) || len(e.Hash) != 64 || e.Event == nil {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	last := page.Entries[2]
	var evidence []byte
	poll.Until(t, func() bool {
		evidence, err = cl.Evidence(ctx, -1, last.Hash[:12])
		return err == nil
	}, "the entry's checkpoint witnessed, and its evidence file")
	rep, err := cl.VerifyEvidence(ctx, evidence)
	if err != nil || rep.Index != last.Index || rep.EventHash != last.Hash || !rep.Witnessed {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	bad := append([]byte(nil), evidence...)
	bad[len("c2sp.org/tlog-proof@v1\nextra ")+10] ^= 1
	var se *api.StatusError
	if _, err := cl.VerifyEvidence(ctx, bad); !errors.As(err, &se) || se.Code != 422 {
		t.Fatalf("a tampered evidence file: %v", err)
	}
	// The policy bundles in force, and a requester's receipts, from the
	// journals; the roster in force.
	if hist, err := cl.PolicyHistory(ctx); err != nil || len(hist) == 0 || hist[0].Event.Type != journal.TypePolicy {
		t.Fatalf("policy history: %v %+v", err, hist)
	}
	kz, err := api.NewClient(fn.C.Dir(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kz.Fetch(ctx, api.FetchRequest{Manifest: fn.CID, Purpose: "customs-clearance"}, nil); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, func() bool {
		rs, err := kz.Receipts(ctx)
		return err == nil && len(rs) == 1 && rs[0].Event.Manifest == fn.CID
	}, "customs-kz's receipt, checkpointed")
	if roster := getControl(t, fn.C.Dir(0), "/v1/roster"); !strings.Contains(roster, `"consortium":"silk-road-devnet"`) {
		t.Fatalf("the roster in force: %.300s", roster)
	}
	// The file is the C2SP one: it verifies offline too.
	r := fn.Nodes[1].Roster()
	tr, err := journal.TrustOf(r.Consortium, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := journal.VerifyProof(evidence, tr); err != nil {
		t.Fatalf("offline: %v", err)
	}
}

// POST /v1/policy/check: an uploaded bundle checked against the gateway's
// registry; the demo's policies are valid, a broken one is refused at its
// file and line, and nothing is put in force either way.
func TestPolicyCheckByUpload(t *testing.T) {
	fn := testnet.NewFetchNet(t, 10)
	files := map[string]string{}
	entries, err := os.ReadDir("../configs/policies")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".cedar") {
			data, err := os.ReadFile(filepath.Join("../configs/policies", e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[e.Name()] = string(data)
		}
	}
	in := fn.Nodes[0].Services().Policies.Policy().Bundle
	res, err := fn.Nodes[0].Services().Policies.CheckPolicies(api.PolicyCheckRequest{Files: files})
	if err != nil || !res.Valid || len(res.Policies) == 0 {
		t.Fatalf("the demo's policies: %v %+v", err, res)
	}
	// With the demo's decision table: every case passes.
	table, err := os.ReadFile("../configs/policies/tests.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err = fn.Nodes[0].Services().Policies.CheckPolicies(api.PolicyCheckRequest{Files: files, Table: string(table)})
	if err != nil || !res.Valid || len(res.Cases) < 10 {
		t.Fatalf("the demo's table: %v %+v", err, res)
	}
	for _, c := range res.Cases {
		if !c.Pass {
			t.Fatalf("case %q (line %d): %s", c.Name, c.Line, c.Result)
		}
	}
	// A case expecting the opposite fails, and says what was decided.
	flipped := strings.Replace(string(table), "expect: permit", "expect: deny", 1)
	res, err = fn.Nodes[0].Services().Policies.CheckPolicies(api.PolicyCheckRequest{Files: files, Table: flipped})
	failed := 0
	for _, c := range res.Cases {
		if !c.Pass {
			failed++
		}
	}
	if err != nil || failed != 1 {
		t.Fatalf("a flipped case: %v, %d failed", err, failed)
	}
	files["broken.cedar"] = "permit (principal, action, resource)\nwhen { resource.no_such_attribute == 1 };"
	res, err = fn.Nodes[0].Services().Policies.CheckPolicies(api.PolicyCheckRequest{Files: files})
	if err != nil || res.Valid || len(res.Problems) == 0 || res.Problems[0].File != "broken.cedar" || res.Problems[0].Line == 0 {
		t.Fatalf("a broken policy: %v %+v", err, res)
	}
	if _, err := fn.Nodes[0].Services().Policies.CheckPolicies(api.PolicyCheckRequest{Files: map[string]string{"../x.cedar": "permit (principal, action, resource);"}}); err == nil {
		t.Fatal("a file name with a path was taken")
	}
	if got := fn.Nodes[0].Services().Policies.Policy().Bundle; got != in {
		t.Fatalf("a check changed the bundle in force: %s -> %s", in, got)
	}
}
