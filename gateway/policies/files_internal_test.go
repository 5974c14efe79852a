package policies

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// twoBundles are an old and a new bundle of many files, so that a change
// from one to the other takes long enough to be killed in the middle:
// both have shared.cedar, each has files of its own.
func twoBundles() [2]map[string][]byte {
	var b [2]map[string][]byte
	for k := range b {
		b[k] = map[string][]byte{"shared.cedar": []byte(fmt.Sprintf("// version %d\n", k))}
		for i := range 40 {
			b[k][fmt.Sprintf("b%d-%02d.cedar", k, i)] = []byte(fmt.Sprintf("// bundle %d file %d\n", k, i))
		}
	}
	return b
}

// A policy upload killed with SIGKILL at any moment leaves, once the
// gateway's start has finished what was written ahead, exactly the old
// bundle or the new one: never a mix, and no temporary files. (The upload
// wrote files one at a time; a kill -9 during it left a bundle nobody
// uploaded in 4 of 4 runs.) The writer is this test binary, re-run as a
// child process that switches between the two bundles until it is killed.
func TestPolicyUploadKilledAnywhereLeavesOneBundle(t *testing.T) {
	dir := os.Getenv("CARAVAN_POLICY_WRITER_DIR")
	bundles := twoBundles()
	if dir != "" { // the child: change bundles until killed
		for k := 0; ; k = 1 - k {
			if err := changePolicyFiles(filepath.Join(dir, "state", "policy-upload.json"), filepath.Join(dir, "policies"), bundles[k]); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
		}
	}
	dir = t.TempDir()
	policies, intent := filepath.Join(dir, "policies"), filepath.Join(dir, "state", "policy-upload.json")
	for _, d := range []string{policies, filepath.Dir(intent)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := changePolicyFiles(intent, policies, bundles[0]); err != nil {
		t.Fatal(err)
	}
	runs := 20
	if testing.Short() {
		runs = 8
	}
	rng := rand.New(rand.NewPCG(26, 4))
	midway := 0
	for run := range runs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPolicyUploadKilledAnywhereLeavesOneBundle$")
		cmd.Env = append(os.Environ(), "CARAVAN_POLICY_WRITER_DIR="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+rng.IntN(200)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if _, err := os.Stat(intent); err == nil {
			midway++
		}
		if err := finishPolicyIntent(intent); err != nil { // what a start does
			t.Fatalf("run %d: %v", run, err)
		}
		got, err := bundleFiles(policies)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.EqualFunc(got, bundles[0], eqBytes) && !maps.EqualFunc(got, bundles[1], eqBytes) {
			t.Fatalf("run %d: after a kill -9 the directory holds a bundle nobody uploaded: %d files, shared.cedar %q", run, len(got), got["shared.cedar"])
		}
		ents, _ := os.ReadDir(policies)
		for _, e := range ents {
			if strings.Contains(e.Name(), ".tmp-") {
				t.Fatalf("run %d: %s left behind", run, e.Name())
			}
		}
	}
	t.Logf("%d kills, %d of them in the middle of a change", runs, midway)
	if midway == 0 {
		t.Fatal("no kill fell in the middle of a change: the test proves nothing")
	}
}

func eqBytes(a, b []byte) bool { return string(a) == string(b) }
