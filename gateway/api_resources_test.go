package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/api/server"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/internal/testnet"
)

// A policy bundle uploaded through the API: a broken one is refused with
// its problems at file and line and changes nothing, on disk or in force;
// one whose decision table fails is refused too; a valid one replaces the
// directory's files, is put in force and journaled, and the directory
// watcher, woken by the writes, leaves it in force.
func TestPolicyBundleReplacedByUpload(t *testing.T) {
	c := testnet.NewCluster(t, 1)
	c.RegisterDemoSchemasOffline(0)
	n := c.Start(0)
	cl, err := api.NewClient(c.Dir(0))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first := n.Policies().CID()
	before, _ := os.ReadDir(policyDir(c, 0))

	_, err = cl.ReplacePolicies(ctx, api.PolicyCheckRequest{Files: map[string]string{
		"ok.cedar":     "@id(\"ok\")\npermit (principal, action, resource);\n",
		"broken.cedar": "@id(\"b\")\npermit (principal, action, resource)\nwhen { resource. };\n"}})
	var pr *api.PolicyRefusedError
	var se *api.StatusError
	if !errors.As(err, &pr) || !errors.As(err, &se) || se.Code != 422 || se.Field != "files" {
		t.Fatalf("a broken bundle: %v", err)
	}
	if len(pr.Check.Problems) == 0 || pr.Check.Problems[0].File != "broken.cedar" || pr.Check.Problems[0].Line != 3 {
		t.Fatalf("problems: %+v", pr.Check.Problems)
	}
	after, _ := os.ReadDir(policyDir(c, 0))
	if n.Policies().CID() != first || len(after) != len(before) {
		t.Fatalf("a refused upload changed something: %s, %d files -> %d", n.Policies().CID(), len(before), len(after))
	}

	table, err := os.ReadFile("../configs/policies/tests.yaml") // it expects denials that permit-all does not give
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.ReplacePolicies(ctx, api.PolicyCheckRequest{Files: map[string]string{"all.cedar": "@id(\"all\")\npermit (principal, action, resource);\n"}, Table: string(table)})
	if !errors.As(err, &se) || se.Code != 422 || se.Field != "table" {
		t.Fatalf("a bundle whose table fails: %v", err)
	}
	if n.Policies().CID() != first {
		t.Fatal("a bundle whose decision table fails was put in force")
	}

	res, err := cl.ReplacePolicies(ctx, api.PolicyCheckRequest{Files: map[string]string{"only.cedar": "@id(\"only\")\nforbid (principal, action, resource);\n"}})
	if err != nil {
		t.Fatal(err)
	}
	if n.Policies().CID() != res.CID || n.Policies().Policy("only") == nil {
		t.Fatalf("in force: %s, uploaded %s", n.Policies().CID(), res.CID)
	}
	files, _ := filepath.Glob(filepath.Join(policyDir(c, 0), "*.cedar"))
	if len(files) != 1 || filepath.Base(files[0]) != "only.cedar" {
		t.Fatalf("the policy directory holds %v", files)
	}
	poll.Until(t, func() bool { // the history reads the journal as far as its checkpoint
		hist, err := cl.PolicyHistory(ctx)
		return err == nil && len(hist) > 0 && hist[len(hist)-1].Event.Bundle == res.CID
	}, "the upload in the policy history")
	// The watcher's reload finds the same bundle: no change, no refusal.
	time.Sleep(time.Second) // the watcher's debounce and reload
	if st := n.Services().Admin.Status().Policy; st.Refused != 0 || st.Bundle != res.CID {
		t.Fatalf("after the upload: %+v", st)
	}
}

// A fetch is a resource: POST /v1/fetches answers 202 as the partner is
// asked, its progress streams as server-sent events ending with "end", and
// GET /v1/fetches lists it with its result.
func TestFetchAsAResource(t *testing.T) {
	fn := testnet.NewFetchNet(t, 3000)
	cl, err := api.NewClient(fn.C.Dir(1))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	info, err := cl.StartFetch(ctx, api.FetchRequest{Manifest: fn.CID, Purpose: "customs-clearance"})
	if err != nil {
		t.Fatal(err)
	}
	if info.ID == "" || info.State != api.FetchRunning {
		t.Fatalf("started: %+v", info)
	}
	var progress int
	end, err := cl.FetchEvents(ctx, info.ID, func(event string, _ api.FetchInfo) {
		if event == "progress" {
			progress++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if end.State != api.FetchDone || end.Result == nil || end.Result.Received == 0 || end.Received != end.Result.Received {
		t.Fatalf("end: %+v", end)
	}
	if progress == 0 {
		t.Error("no progress event before the end")
	}
	list, err := cl.Fetches(ctx)
	if err != nil || len(list) != 1 || list[0].ID != info.ID || list[0].State != api.FetchDone {
		t.Fatalf("fetches: %v %+v", err, list)
	}
	// A request refused before the partner is asked keeps its status.
	var se *api.StatusError
	if _, err := cl.StartFetch(ctx, api.FetchRequest{Manifest: "nobody/nothing", Purpose: "customs-clearance"}); !errors.As(err, &se) || se.Code/100 != 4 {
		t.Fatalf("an unknown dataset: %v", err)
	}
	// An unknown id is 404.
	if _, err := cl.FetchEvents(ctx, "0000", nil); !errors.As(err, &se) || se.Code != 404 {
		t.Fatalf("an unknown fetch's events: %v", err)
	}
}

// A caller on the TCP listener may not make the gateway read or write
// files on its own machine: publish's path and fetch's out are the Unix
// socket's only, and the problem names the field.
func TestRemoteCallersNameNoGatewayFiles(t *testing.T) {
	c := testnet.NewCluster(t, 1)
	c.OpenAPI(0)
	n := c.Start(0)
	rm := testnet.NewRemote(t, c.Dir(0), n.Services().Admin.Status().API.Listen, "system", server.ScopeRead, server.ScopePublish, server.ScopeFetch)
	for _, tc := range []struct{ method, route, body, field string }{
		{"POST", "/v1/publish?dataset=x&schema=customs-declaration&format=jsonl&path=/etc/passwd", "", "path"},
		{"POST", "/v1/fetch", `{"manifest":"customs-kz/x","purpose":"customs-clearance","out":"/tmp/x"}`, "out"},
		{"POST", "/v1/fetches", `{"manifest":"customs-kz/x","purpose":"customs-clearance","out":"/tmp/x"}`, "out"},
	} {
		code, body := rm.Call(tc.method, tc.route, tc.body)
		var p api.Problem
		if code != 400 || json.Unmarshal([]byte(body), &p) != nil || p.Field != tc.field || !strings.Contains(p.Detail, "Unix socket") {
			t.Errorf("%s %s: %d %s", tc.method, tc.route, code, body)
		}
	}
}

// GET /v1/catalog/{cid}?wait=D answers a held statement at once, answers
// 404 for one that does not come only when the wait ends, and refuses a
// wait that is not a duration up to a minute, naming the field.
func TestCatalogItemWaitsForAStatement(t *testing.T) {
	c := testnet.NewCluster(t, 1)
	c.RegisterDemoSchemasOffline(0)
	c.Start(0)
	cl, err := api.NewClient(c.Dir(0))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := cl.Publish(ctx, api.PublishRequest{Dataset: "awaited", Schema: "customs-declaration", Format: "jsonl",
		Purposes: []string{"customs-clearance"}}, bytes.NewReader(testkit.JSONL(t, "customs-declaration", 3, 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	item, err := cl.AwaitCatalogItem(ctx, res.CID, 30*time.Second)
	if err != nil || item.Entry == nil || item.Entry.CID != res.CID {
		t.Fatalf("a held statement: %+v, %v", item, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("a held statement was answered after %v", d)
	}
	never := "bagaaierasords4njcts6vs7qvdjfcvgnume4hqohf65zsfguprqphs3icwea"
	start = time.Now()
	_, err = cl.AwaitCatalogItem(ctx, never, 300*time.Millisecond)
	var se *api.StatusError
	if !errors.As(err, &se) || se.Code != 404 {
		t.Fatalf("a statement that never comes: %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("the 404 came after %v, before the wait ended", d)
	}
	for _, bad := range []time.Duration{-time.Second, 2 * time.Minute} {
		_, err = cl.AwaitCatalogItem(ctx, never, bad)
		if !errors.As(err, &se) || se.Code != 400 || se.Field != "wait" {
			t.Fatalf("wait=%v: %v", bad, err)
		}
	}
	_, err = cl.AwaitCatalogItem(ctx, "not-a-cid", time.Second)
	if !errors.As(err, &se) || se.Code != 400 {
		t.Fatalf("not a CID: %v", err)
	}
}
