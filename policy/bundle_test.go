package policy_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/policy"
)

const demoPolicies = "../configs/policies"

func loadDemo(t testing.TB) *policy.Bundle {
	t.Helper()
	b, err := policy.Load(demoPolicies, demoVocabulary)
	if err != nil {
		t.Fatalf("load %s: %v", demoPolicies, err)
	}
	return b
}

func TestLoadDemoBundle(t *testing.T) {
	b := loadDemo(t)
	if len(b.Policies()) < 8 {
		t.Fatalf("%d policies, want the demo's full set", len(b.Policies()))
	}
	for _, p := range b.Policies() {
		if p.File == "" || p.Line == 0 || p.Text == "" {
			t.Errorf("policy %q lacks its origin: %+v", p.ID, p)
		}
	}
	if !strings.HasPrefix(b.CID(), "bagaaiera") {
		t.Errorf("CID %s: want a CIDv1 json/sha2-256", b.CID())
	}
}

func copyDir(t *testing.T, from string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestBundleCIDCoversExactlyThePolicyFiles(t *testing.T) {
	dir := copyDir(t, demoPolicies)
	load := func() string {
		t.Helper()
		b, err := policy.Load(dir, demoVocabulary)
		if err != nil {
			t.Fatal(err)
		}
		return b.CID()
	}
	base := load()
	if again := load(); again != base {
		t.Fatalf("CID not deterministic: %s then %s", base, again)
	}
	// A file that is not a policy is not part of the bundle.
	if err := os.WriteFile(filepath.Join(dir, "NOTES.md"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := load(); got != base {
		t.Errorf("a README changed the CID")
	}
	// A comment in a policy file is part of it.
	f := filepath.Join(dir, "guards.cedar")
	data, _ := os.ReadFile(f)
	if err := os.WriteFile(f, append(data, "\n// reviewed\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := load(); got == base {
		t.Errorf("editing a policy file kept the CID")
	}
	// So is its name.
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(f, filepath.Join(dir, "guards2.cedar")); err != nil {
		t.Fatal(err)
	}
	if got := load(); got == base {
		t.Errorf("renaming a policy file kept the CID")
	}
}

func TestInvalidBundles(t *testing.T) {
	ok := `@id("ok")
permit (principal, action == Action::"fetch", resource);
`
	tests := []struct {
		name  string
		files map[string]string
		want  []string // substrings of the error, in order of problems
	}{
		{"syntax error names file and line",
			map[string]string{"a.cedar": ok, "b.cedar": "@id(\"b\")\npermit (principal, action, resource)\nwhen { 1 + };\n"},
			[]string{"b.cedar:3: syntax error"}},
		{"unknown attribute is a schema error, at the expression's line",
			map[string]string{"a.cedar": "@id(\"x\")\npermit (principal, action == Action::\"fetch\", resource)\nwhen { resource.colour == \"red\" };\n"},
			[]string{"a.cedar:3: policy \"x\" does not match the schema: attribute `colour` on entity type `Record` not found"}},
		{"a typo'd attribute, on a later line of a later policy",
			map[string]string{"b.cedar": "@id(\"ok\")\npermit (principal, action == Action::\"fetch\", resource);\n\n@id(\"typo\")\nforbid (principal, action == Action::\"fetch\", resource)\nwhen {\n  resource has total_value_usd &&\n  resource.total_valu_usd > 5\n};\n"},
			[]string{"b.cedar:8: policy \"typo\" does not match the schema: attribute `total_valu_usd` on entity type `Record` not found"}},
		{"a typo'd attribute behind its own has guard, which Cedar's checker lets by",
			map[string]string{"c.cedar": "@id(\"guarded\")\nforbid (principal, action == Action::\"fetch\", resource)\nwhen { resource has total_valu_usd &&\n  resource.total_valu_usd > 5 };\n"},
			[]string{"c.cedar:3: policy \"guarded\" does not match the schema: attribute `total_valu_usd` on entity type `Record` not found (no registered schema declares it)"}},
		{"unknown entity type",
			map[string]string{"a.cedar": "@id(\"x\")\npermit (principal == User::\"bob\", action, resource);\n"},
			[]string{"unrecognized entity type `User`"}},
		{"wrong type",
			map[string]string{"a.cedar": "@id(\"x\")\npermit (principal, action == Action::\"fetch\", resource)\nwhen { context.purpose > 3 };\n"},
			[]string{"expected Long but saw String"}},
		{"optional attribute read without has",
			map[string]string{"a.cedar": "@id(\"x\")\npermit (principal, action == Action::\"fetch\", resource)\nwhen { resource.classification == \"public\" };\n"},
			[]string{"optional attribute `classification`"}},
		{"missing @id",
			map[string]string{"a.cedar": "permit (principal, action, resource);\n"},
			[]string{"a.cedar:1: policy has no @id"}},
		{"duplicate @id",
			map[string]string{"a.cedar": ok, "b.cedar": ok},
			[]string{`b.cedar:1: duplicate @id "ok" (first at a.cedar:1)`}},
		{"every problem is reported",
			map[string]string{"a.cedar": "permit (principal, action, resource);\n", "b.cedar": "@id(\"b\") permit (principal, action, resource) when { ! };\n"},
			[]string{"a.cedar:1: policy has no @id", "b.cedar:1: syntax error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{}
			for k, v := range tt.files {
				files[k] = []byte(v)
			}
			b, err := policy.Parse(files, demoVocabulary)
			if err == nil {
				t.Fatalf("accepted: %v", b.Policies())
			}
			if !errors.Is(err, policy.ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			var be *policy.BundleError
			if !errors.As(err, &be) {
				t.Fatalf("not a *BundleError: %T", err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				i := strings.Index(msg, w)
				if i < 0 {
					t.Fatalf("error %q\ndoes not contain %q", msg, w)
				}
				msg = msg[i+len(w):]
			}
		})
	}
}

func TestEmptyBundleDeniesEverything(t *testing.T) {
	b, err := policy.Load(t.TempDir(), demoVocabulary)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := policy.LoadTable(filepath.Join(demoPolicies, "tests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range tbl.Run(b) {
		if r.Err != nil || r.Got.Permit || len(r.Got.Policies) != 0 {
			t.Errorf("empty bundle: %s", r)
		}
	}
}

// TestBundleCIDVector is the example of schemas/policy.md.
func TestBundleCIDVector(t *testing.T) {
	b, err := policy.Parse(map[string][]byte{"a.cedar": []byte("@id(\"all-members-discover\")\npermit (principal in Group::\"belt-and-road\", action == Action::\"discover\", resource);\n")}, demoVocabulary)
	if err != nil {
		t.Fatal(err)
	}
	f := b.Files()[0]
	if f.Size != 114 || f.CID != "bafkreicmvm32lnn7e5spqdmipfsec6lmnirjpzkj3pxnl3kkpckyzeufpu" {
		t.Errorf("file %+v", f)
	}
	if b.CID() != "bagaaieraiaymf5ryfomkqcblr4f37yfdg6n7bkxdt4sel3wwcapggqnbiv4a" {
		t.Errorf("bundle CID %s", b.CID())
	}
}

// The attack (by someone who can write into the policy directory, or a
// mistake): a policy file that is a link to /dev/zero, or a FIFO. A reload
// read /dev/zero without end and blocked on the FIFO for ever. What a file
// names must now be a regular file within the size limit.
func TestPolicyFileThatIsADeviceOrFIFOIsRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.cedar")); err != nil {
		t.Fatal(err)
	}
	fifo := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(fifo, "pipe.cedar"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, fifo} {
		done := make(chan error, 1)
		go func() { _, err := policy.Load(d, demoVocabulary); done <- err }()
		select {
		case err := <-done:
			var be *policy.BundleError
			if !errors.As(err, &be) || !strings.Contains(err.Error(), "not a regular file") {
				t.Fatalf("%s: %v", d, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("loading %s hangs", d)
		}
	}
}
