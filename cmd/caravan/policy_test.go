package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPolicyCheckAndTest(t *testing.T) {
	out := mustCaravan(t, "policy", "check", "../../configs/policies")
	if !strings.Contains(out, "valid: 10 policies in 4 files") || !strings.Contains(out, "no-confidential") {
		t.Errorf("check:\n%s", out)
	}
	out = mustCaravan(t, "policy", "test", "../../configs/policies", "../../configs/policies/tests.yaml")
	if !strings.Contains(out, "25 cases: 25 passed, 0 failed") {
		t.Errorf("test:\n%s", out)
	}

	// A broken directory: every problem with its file and line, exit 1.
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.cedar", "@id(\"a\")\npermit (principal, action == Action::\"fetch\", resource)\nwhen { resource.colour == \"red\" };\n")
	write("b.cedar", "permit (principal, action, resource);\n")
	out, err := caravan(t, "policy", "check", dir)
	if exitCode(err) != 1 {
		t.Fatalf("exit %d, err %v", exitCode(err), err)
	}
	for _, w := range []string{filepath.Join(dir, "a.cedar") + ":3: policy \"a\" does not match the schema: attribute `colour`",
		filepath.Join(dir, "b.cedar") + ":1: policy has no @id"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}

	// A table with a wrong expectation: a diff, exit 1.
	write("a.cedar", "@id(\"a\")\npermit (principal in Group::\"g\", action == Action::\"fetch\", resource);\n")
	write("b.cedar", "")
	write("cases.yaml", `time: 2026-11-27T10:00:00Z
orgs:
  o: {name: O, country: CN, sector: customs, roles: [], groups: [g]}
datasets:
  d: {owner: o, name: d, schema: customs-declaration, labels: [], purposes: []}
cases:
  - name: right
    org: o
    dataset: d
    purpose: x
    record: {}
    expect: permit
  - name: wrong
    org: o
    dataset: d
    purpose: x
    record: {}
    expect: deny
`)
	out, err = caravan(t, "policy", "test", dir, filepath.Join(dir, "cases.yaml"))
	if exitCode(err) != 1 {
		t.Fatalf("exit %d, err %v", exitCode(err), err)
	}
	want := "FAIL  line 13 \"wrong\"\n      - want: deny\n      + got:  permit by [a]\n2 cases: 1 passed, 1 failed"
	if !strings.Contains(out, want) {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
}
