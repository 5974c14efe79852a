package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const phytoExample = "../../configs/examples/phytosanitary"

// The schema commands of the README's "Your own datasets", offline and
// against a running gateway.
func TestSchemaCommands(t *testing.T) {
	doc := filepath.Join(phytoExample, "phytosanitary-certificate.json")
	out := mustCaravan(t, "schema", "lint", doc)
	for _, w := range []string{"phytosanitary-certificate@1.0", "policy attribute  pest_free            Bool",
		"treatments           Set<String>", "sensitive         inspector", "unsupported keyword uniqueItems"} {
		if !strings.Contains(out, w) {
			t.Errorf("lint output lacks %q:\n%s", w, out)
		}
	}

	// Refusals name the JSON pointer, and exit 1.
	dir := t.TempDir()
	data, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.json", bytes.Replace(data, []byte(`"inspector": {"type": "string", "maxLength": 128, "x-caravan-sensitive": true}`),
		[]byte(`"inspector": {"type": "object", "x-caravan-policy-attribute": true}, "lab": {"$ref": "https://example.org/lab.json"}`), 1))
	out, err = caravan(t, "schema", "lint", bad)
	if exitCode(err) != 1 || !strings.Contains(out, "/properties/inspector") || !strings.Contains(out, "/properties/lab/$ref") {
		t.Fatalf("lint of a bad schema: exit %d (%v)\n%s", exitCode(err), err, out)
	}

	// diff: an optional property added is compatible; a narrowed bound is not.
	added := write("added.json", bytes.Replace(data, []byte(`"inspector": {`), []byte(`"lot": {"type": "string"}, "inspector": {`), 1))
	if out := mustCaravan(t, "schema", "diff", doc, added); !strings.Contains(out, "compatible:") || !strings.Contains(out, "lot") {
		t.Fatalf("diff with an optional property added:\n%s", out)
	}
	narrowed := write("narrowed.json", bytes.Replace(data, []byte(`"maxItems": 20`), []byte(`"maxItems": 10`), 1))
	out, err = caravan(t, "schema", "diff", doc, narrowed)
	if exitCode(err) != 1 || !strings.Contains(out, "not compatible") || !strings.Contains(out, "/properties/items/maxItems") {
		t.Fatalf("diff with a narrowed bound: exit %d\n%s", exitCode(err), out)
	}
	// The same with --json.
	var d schemaDiff
	if err := json.Unmarshal([]byte(mustCaravan(t, "schema", "diff", doc, added, "--json")), &d); err != nil ||
		!d.Compatible || !slices.Contains(d.AddedProperties, "lot") {
		t.Fatalf("diff --json, a property added: %v %+v", err, d)
	}
	out, err = caravan(t, "schema", "diff", doc, narrowed, "--json")
	if json.Unmarshal([]byte(out), &d) != nil || exitCode(err) != 1 || d.Compatible || len(d.Problems) == 0 {
		t.Fatalf("diff --json, a narrowed bound: exit %d\n%s", exitCode(err), out)
	}
	var lint []struct {
		File  string `json:"file"`
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	out, err = caravan(t, "schema", "lint", doc, bad, "--json")
	if json.Unmarshal([]byte(out), &lint) != nil || exitCode(err) != 1 || len(lint) != 2 || !lint[0].OK || lint[1].OK ||
		!strings.Contains(lint[1].Error, "/properties/inspector") {
		t.Fatalf("lint --json: exit %d\n%s", exitCode(err), out)
	}

	// add, list, show against a gateway; a narrowing minor version is refused.
	gw, _ := oneGateway(t)
	out = mustCaravan(t, "schema", "add", doc, "--dir", gw)
	if !strings.Contains(out, "customs-cn/phytosanitary-certificate@1.0") || !strings.Contains(out, "registered by statement") {
		t.Fatalf("schema add:\n%s", out)
	}
	if _, err := caravan(t, "schema", "add", narrowed, "--dir", gw, "--version", "1.1"); err == nil || !strings.Contains(err.Error(), "/properties/items/maxItems") {
		t.Fatalf("a narrowing minor version: %v", err)
	}
	mustCaravan(t, "schema", "add", narrowed, "--dir", gw, "--version", "2.0")
	mustCaravan(t, "schema", "add", added, "--dir", gw, "--name", "plant-cert", "--version", "1.0")
	list := mustCaravan(t, "schema", "list", "--dir", gw)
	for _, w := range []string{"phytosanitary-certificate  1.0", "phytosanitary-certificate  2.0", "plant-cert                 1.0"} {
		if !strings.Contains(list, w) {
			t.Errorf("schema list lacks %q:\n%s", w, list)
		}
	}
	if out := mustCaravan(t, "schema", "show", "phytosanitary-certificate@1", "--dir", gw); !strings.Contains(out, "phytosanitary-certificate@1.0") {
		t.Fatalf("schema show NAME@MAJOR:\n%s", out)
	}
	if out := mustCaravan(t, "schema", "show", "phytosanitary-certificate", "--dir", gw); !strings.Contains(out, "phytosanitary-certificate@2.0") {
		t.Fatalf("schema show NAME (the latest):\n%s", out)
	}
	if out := mustCaravan(t, "policy", "schema", "--dir", gw); !strings.Contains(out, "pest_free?: Bool") {
		t.Fatalf("policy schema:\n%s", out)
	}
}
