package devnet_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/devnet"
)

var binary string

// TestMain builds the caravan executable once: scenarios run each gateway
// as its own OS process, exactly as 'make demo' does.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "caravan-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "caravan")
	build := exec.Command("go", "build", "-o", binary, "github.com/caravan-consortium/caravan/cmd/caravan")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		panic("building caravan: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func runScenario(t *testing.T, name string, orgs int, idle time.Duration) *devnet.Env {
	t.Helper()
	nt, err := devnet.Create(filepath.Join(t.TempDir(), "net"), orgs)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	env := &devnet.Env{Net: nt, Binary: binary, Out: &out, Idle: idle}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	results, err := devnet.RunScenario(ctx, name, env)
	if err != nil {
		for _, o := range nt.Orgs {
			if log, rerr := os.ReadFile(o.Log()); rerr == nil {
				t.Logf("%s log:\n%s", o.Org, log)
			}
		}
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, r := range results {
		if r.Err != nil {
			t.Fatalf("step %q: %v", r.Name, r.Err)
		}
	}
	for _, o := range nt.Orgs {
		if o.Running() {
			t.Fatalf("%s is still running after the scenario", o.Org)
		}
	}
	return env
}

func TestDemoScenario(t *testing.T) {
	runScenario(t, "demo", 3, 0)
}

func TestFootprintScenario(t *testing.T) {
	env := runScenario(t, "footprint", 3, time.Second)
	if len(env.Figures) < 2 {
		t.Fatalf("figures %+v", env.Figures)
	}
}

func TestCreateRefusesExistingNet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	if _, err := devnet.Create(dir, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := devnet.Create(dir, 2); err == nil {
		t.Fatal("Create over an existing consortium succeeded")
	}
	nt, err := devnet.CreateOrOpen(dir, 2)
	if err != nil || len(nt.Orgs) != 2 || nt.Orgs[0].Port == 0 {
		t.Fatalf("CreateOrOpen of the existing net: %v %+v", err, nt)
	}
	if _, err := devnet.CreateOrOpen(dir, 3); err == nil {
		t.Fatal("CreateOrOpen with another org count succeeded")
	}
}

func TestUnknownScenario(t *testing.T) {
	nt, _ := devnet.Create(filepath.Join(t.TempDir(), "net"), 1)
	_, err := devnet.RunScenario(context.Background(), "nope", &devnet.Env{Net: nt, Binary: binary, Out: &bytes.Buffer{}})
	if err == nil {
		t.Fatal("an unknown scenario ran")
	}
}
