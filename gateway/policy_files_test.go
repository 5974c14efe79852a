package gateway_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/internal/testnet"
)

// PUT /v1/policy replaces exactly what a reload loads, and answers the CID
// of the bundle in force: a .cedar file that is a link, and one hidden by a
// leading dot, do not survive an upload and stay in force beside it (they
// did, permitting what the upload did not).
func TestPolicyUploadReplacesExactlyWhatAReloadLoads(t *testing.T) {
	c := testnet.NewCluster(t, 1)
	c.RegisterDemoSchemasOffline(0)
	dir := policyDir(c, 0)
	elsewhere := filepath.Join(t.TempDir(), "permit-all.cedar")
	writeFile(t, elsewhere, "@id(\"linked\")\npermit (principal, action, resource);\n")
	if err := os.Symlink(elsewhere, filepath.Join(dir, "linked.cedar")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, ".hidden.cedar"), "@id(\"hidden\")\npermit (principal, action, resource);\n")
	n := c.Start(0)
	if n.Policies().Policy("linked") == nil || n.Policies().Policy("hidden") != nil {
		t.Fatalf("before: a link is loaded, a hidden file is not; in force: %v", n.Policies().Policies())
	}
	cl, err := api.NewClient(c.Dir(0))
	if err != nil {
		t.Fatal(err)
	}
	res, err := cl.ReplacePolicies(context.Background(), api.PolicyCheckRequest{Files: map[string]string{
		"only.cedar": "@id(\"only\")\nforbid (principal, action, resource);\n"}})
	if err != nil {
		t.Fatal(err)
	}
	inForce := n.Policies()
	if inForce.CID() != res.CID || len(inForce.Policies()) != 1 || inForce.Policy("only") == nil {
		t.Fatalf("answered %s; in force %s with %d policies", res.CID, inForce.CID(), len(inForce.Policies()))
	}
	if _, err := os.Lstat(filepath.Join(dir, "linked.cedar")); !os.IsNotExist(err) {
		t.Fatalf("the link survived the upload: %v", err)
	}
	if _, err := os.Stat(elsewhere); err != nil {
		t.Fatalf("the link's target was touched: %v", err)
	}
	// A restart loads the same bundle.
	n.Close()
	if n = c.Start(0); n.Policies().CID() != res.CID {
		t.Fatalf("after a restart %s, not the uploaded %s", n.Policies().CID(), res.CID)
	}
}
