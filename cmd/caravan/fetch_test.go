package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/internal/testnet"
)

// caravan fetch exits 0 with records, and 3 with the reason when the
// owner's policies permit nothing.
func TestFetchExitsThreeWhenNothingIsPermitted(t *testing.T) {
	fn := testnet.NewFetchNet(t, 200)
	dir := fn.C.Dir(1)
	out, err := caravan(t, "fetch", fn.CID, "--dir", dir, "--purpose", "customs-clearance", "--out", filepath.Join(t.TempDir(), "ok.jsonl"))
	if err != nil || !strings.Contains(out, "wrote") {
		t.Fatalf("a permitted fetch: exit %d, %v\n%s", exitCode(err), err, out)
	}
	// The dataset by name, newest or pinned, is the same manifest.
	for _, ref := range []string{"customs-cn/declarations", "customs-cn/declarations@1"} {
		var sum api.FetchSummary
		out, err := caravan(t, "fetch", ref, "--dir", dir, "--purpose", "customs-clearance", "--json")
		if err != nil || json.Unmarshal([]byte(out), &sum) != nil || sum.Manifest != fn.CID {
			t.Fatalf("fetch %s: %v\n%s", ref, err, out)
		}
	}
	for ref, want := range map[string]string{"customs-cn/nothing": "lists no dataset", "customs-cn/declarations@7": "no version 7",
		"customs-cn/declarations@x": "is a number", "declarations": "neither a manifest CID"} {
		if _, err := caravan(t, "fetch", ref, "--dir", dir, "--purpose", "customs-clearance"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("fetch %s: %v, want %q", ref, err, want)
		}
	}
	out, err = caravan(t, "fetch", fn.CID, "--dir", dir, "--purpose", "marketing")
	if exitCode(err) != 3 || !strings.Contains(err.Error(), `does not offer purpose "marketing"`) {
		t.Fatalf("a purpose not offered: exit %d, %v\n%s", exitCode(err), err, out)
	}
	// --json prints the summary, and the exit status is the same.
	out, err = caravan(t, "fetch", fn.CID, "--dir", dir, "--purpose", "marketing", "--json")
	var sum api.FetchSummary
	if exitCode(err) != 3 || json.Unmarshal([]byte(out), &sum) != nil || !sum.NotOffered || sum.Withheld != 200 {
		t.Fatalf("fetch --json, purpose not offered: exit %d, %v\n%s", exitCode(err), err, out)
	}
	// And publish --json prints what it published.
	data := filepath.Join(t.TempDir(), "d.jsonl")
	mustCaravan(t, "gen", "--schema", "customs-declaration", "--count", "20", "--out", data)
	var pub api.PublishSummary
	out = mustCaravan(t, "publish", "--dir", fn.C.Dir(0), "--dataset", "json-out", "--schema", "customs-declaration", "--purpose", "customs-clearance", "--json", data)
	if err := json.Unmarshal([]byte(out), &pub); err != nil || pub.Manifest == nil || pub.Manifest.Records != 20 {
		t.Fatalf("publish --json: %v\n%s", err, out)
	}
}

// Ctrl-C during a fetch says how many records were kept and that the same
// command resumes; and it does.
func TestFetchInterruptedSaysWhatIsKept(t *testing.T) {
	fn := testnet.NewFetchNet(t, 20000)
	dir := fn.C.Dir(1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // Ctrl-C once records arrive
		cl, err := api.NewClient(dir)
		if err != nil {
			return
		}
		for ctx.Err() == nil {
			if fs, err := cl.Fetches(ctx); err == nil && len(fs) > 0 && fs[0].Received > 0 {
				cancel()
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	var out bytes.Buffer
	err := run(ctx, []string{"fetch", fn.CID, "--dir", dir, "--purpose", "customs-clearance"}, &out, &out)
	if exitCode(err) != 130 || !strings.Contains(err.Error(), "records are kept") || !strings.Contains(err.Error(), "same command again to resume") {
		t.Fatalf("Ctrl-C: exit %d, %v", exitCode(err), err)
	}
	again := mustCaravan(t, "fetch", fn.CID, "--dir", dir, "--purpose", "customs-clearance")
	if !strings.Contains(again, "resumed at record") {
		t.Fatalf("the same command again:\n%s", again)
	}
}
