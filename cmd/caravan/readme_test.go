package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeBlock is a shell block of the README and the marker above it:
// "offline" blocks are run here; every other block says why it is not.
var readmeBlock = regexp.MustCompile("(?s)(?:<!-- readme-test: ([^>]*?) -->\n)?```sh\n(.*?)```")

// The README's shell blocks that need no running network run as they
// stand, with a freshly built caravan on the PATH, from the repository's
// root (as the README says): a newcomer copying them gets what it shows.
func TestReadmeShellBlocks(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlock.FindAllStringSubmatch(string(readme), -1)
	if len(blocks) == 0 {
		t.Fatal("no shell blocks found in README.md")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "caravan"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ran := 0
	for _, b := range blocks {
		marker, script := b[1], b[2]
		switch {
		case marker == "":
			t.Errorf("a shell block of README.md has no readme-test marker (offline, or why it is not run):\n%s", script)
			continue
		case marker != "offline":
			continue
		}
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "TMPDIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("README block failed: %v\n--- block\n%s--- output\n%s", err, script, out)
			continue
		}
		if strings.Contains(string(out), "failed") && !strings.Contains(string(out), " 0 failed") {
			t.Errorf("README block reports a failure:\n%s", out)
		}
		ran++
	}
	if ran == 0 {
		t.Error("no offline block of README.md was run")
	}
}
