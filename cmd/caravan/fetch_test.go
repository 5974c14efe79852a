package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/internal/testkit"
)

// caravan fetch exits 0 with records, and 3 with the reason when the
// owner's policies permit nothing.
func TestFetchExitsThreeWhenNothingIsPermitted(t *testing.T) {
	fn := testkit.NewFetchNet(t, 200)
	dir := fn.C.Dir(1)
	out, err := caravan(t, "fetch", fn.CID, "--dir", dir, "--purpose", "customs-clearance", "--out", filepath.Join(t.TempDir(), "ok.jsonl"))
	if err != nil || !strings.Contains(out, "wrote") {
		t.Fatalf("a permitted fetch: exit %d, %v\n%s", exitCode(err), err, out)
	}
	out, err = caravan(t, "fetch", fn.CID, "--dir", dir, "--purpose", "marketing")
	if exitCode(err) != 3 || !strings.Contains(err.Error(), `does not offer purpose "marketing"`) {
		t.Fatalf("a purpose not offered: exit %d, %v\n%s", exitCode(err), err, out)
	}
}
