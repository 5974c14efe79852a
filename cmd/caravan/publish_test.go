package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/schemas"
)

// The publish workflow of the README against a running gateway.
func TestPublishCatalogRetract(t *testing.T) {
	dir, _ := oneGateway(t)

	data := filepath.Join(t.TempDir(), "events.jsonl")
	mustCaravan(t, "gen", "--schema", "shipment-event", "--count", "300", "--seed", "9", "--out", data)

	// caravan cid gives the same root as the manifest.
	cidOut := mustCaravan(t, "cid", "--tree", data)
	root := regexp.MustCompile(`root ([0-9a-f]{64})`).FindStringSubmatch(cidOut)
	if len(strings.Split(strings.TrimSpace(cidOut), "\n")) != 301 || root == nil {
		t.Fatalf("cid output:\n%.300s", cidOut)
	}

	// A schema file given to publish is registered first, and named.
	schemaFile := filepath.Join(t.TempDir(), "shipment-event.v1.json")
	for _, d := range schemas.DemoDocuments() {
		if strings.HasPrefix(d.File, "shipment-event") {
			if err := os.WriteFile(schemaFile, d.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := mustCaravan(t, "publish", "--dir", dir, "--dataset", "rail-events", "--schema", schemaFile,
		"--label", "rail", "--purpose", "tracking", data)
	if !strings.Contains(out, "is registered as customs-cn/shipment-event@1.0, document CID") {
		t.Fatalf("publish with a schema file:\n%s", out)
	}
	if list := mustCaravan(t, "schema", "list", "--dir", dir); !strings.Contains(list, "customs-cn  shipment-event  1.0") {
		t.Fatalf("schema list:\n%s", list)
	}
	if !strings.Contains(out, "published rail-events version 1: 300 records") || !strings.Contains(out, root[1]) {
		t.Fatalf("publish:\n%s", out)
	}
	manifestCID := regexp.MustCompile(`manifest (\S+)`).FindStringSubmatch(out)[1]

	out = mustCaravan(t, "catalog", "--dir", dir)
	if !strings.Contains(out, "rail-events") || !strings.Contains(out, manifestCID) {
		t.Fatalf("catalog:\n%s", out)
	}
	out = mustCaravan(t, "catalog", "--dir", dir, "--label", "customs")
	if !strings.Contains(out, "the catalog is empty") {
		t.Fatalf("catalog filtered by another label:\n%s", out)
	}
	var item api.CatalogItem
	if err := json.Unmarshal([]byte(mustCaravan(t, "catalog", "show", "--dir", dir, manifestCID)), &item); err != nil || item.Entry == nil || item.Entry.Manifest.Records != 300 {
		t.Fatalf("catalog show: %v %+v", err, item)
	}
	if err := json.Unmarshal([]byte(mustCaravan(t, "catalog", "show", "--dir", dir, "--wait", "5s", manifestCID)), &item); err != nil || item.Entry == nil {
		t.Fatalf("catalog show --wait of a held manifest: %v %+v", err, item)
	}
	if _, err := caravan(t, "catalog", "show", "--dir", dir, "--wait", "2m", manifestCID); err == nil || !strings.Contains(err.Error(), "wait") {
		t.Fatalf("catalog show --wait 2m: %v", err)
	}

	// A bad record: nothing published, the error names line and field.
	lines, _ := os.ReadFile(data)
	bad := strings.Replace(string(lines), `"mode":"`, `"mode":"camel-`, 1)
	badFile := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(badFile, []byte(bad), 0o644)
	_, err := caravan(t, "publish", "--dir", dir, "--dataset", "rail-events", "--schema", "shipment-event", badFile)
	if err == nil || !strings.Contains(err.Error(), "line 1: mode:") || !strings.Contains(err.Error(), "nothing was published") {
		t.Fatalf("publish of a bad file: %v", err)
	}
	rejects := filepath.Join(t.TempDir(), "rejects.jsonl")
	out = mustCaravan(t, "publish", "--dir", dir, "--dataset", "rail-events", "--schema", "shipment-event", "--reject-file", rejects, badFile)
	if !strings.Contains(out, "version 2: 299 records") || !strings.Contains(out, "1 invalid record(s)") {
		t.Fatalf("publish with rejects:\n%s", out)
	}
	rej, _ := os.ReadFile(rejects)
	if !strings.Contains(string(rej), `"line":1`) || !strings.Contains(string(rej), `"field":"mode"`) {
		t.Fatalf("reject file: %s", rej)
	}

	mustCaravan(t, "retract", "--dir", dir, "--dataset", "rail-events", "--reason", "test")
	if out := mustCaravan(t, "catalog", "--dir", dir); !strings.Contains(out, "the catalog is empty") {
		t.Fatalf("catalog after retract:\n%s", out)
	}
	if out := mustCaravan(t, "catalog", "--dir", dir, "--all"); strings.Count(out, "(retracted)") != 2 {
		t.Fatalf("catalog --all after retract:\n%s", out)
	}
}
