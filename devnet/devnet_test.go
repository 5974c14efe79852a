package devnet_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/devnet"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/schemas/sample"
	"github.com/caravan-consortium/caravan/sharing/store"
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
	// -pgo=off: the tests need no PGO, and it would compile every
	// dependency once more (the vet build's cache serves this one).
	build := exec.Command("go", "build", "-pgo=off", "-o", binary, "github.com/caravan-consortium/caravan/cmd/caravan")
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

// SIGHUP reloads the roster and does not stop the gateway (unhandled, it
// would kill the process). A newer roster written while the gateway runs is
// in force afterwards.
func TestSIGHUPReloadsRoster(t *testing.T) {
	nt, err := devnet.Create(filepath.Join(t.TempDir(), "net"), 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := nt.Start(binary); err != nil {
		t.Fatal(err)
	}
	defer nt.Stop(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := nt.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	o := nt.Orgs[0]
	if err := syscall.Kill(o.PID(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	poll.UntilLogged(t, o.Log(), "SIGHUP: reloading the roster")
	time.Sleep(200 * time.Millisecond)
	if !o.Running() {
		t.Fatal("the gateway exited on SIGHUP")
	}
	if _, err := o.Status(ctx); err != nil {
		t.Fatalf("status after SIGHUP: %v", err)
	}
}

func TestPublishBenchScenario(t *testing.T) {
	nt, err := devnet.Create(filepath.Join(t.TempDir(), "net"), 1)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	env := &devnet.Env{Net: nt, Binary: binary, Out: &out, Records: 3000}
	if _, err := devnet.RunScenario(context.Background(), "publish-bench", env); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("3000 records in")) {
		t.Fatalf("no publish figure:\n%s", out.String())
	}
}

// The fetch-bench scenario runs end to end on a small dataset: both
// transports, every fetch complete (the scenario checks received ==
// permitted), and each side's CPU reported.
func TestFetchBenchScenario(t *testing.T) {
	nt, err := devnet.Create(filepath.Join(t.TempDir(), "net"), 2)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	env := &devnet.Env{Net: nt, Binary: binary, Out: &out, Records: 500}
	if _, err := devnet.RunScenario(context.Background(), "fetch-bench", env); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"fetches over TCP of", "fetches over QUIC of", "QUIC: provider CPU per fetch", "TCP: requester CPU per fetch"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("no %q in the output:\n%s", want, out.String())
		}
	}
}

// kill -9 in the middle of a publish loses nothing committed and leaves
// nothing half-written: after a restart the store holds exactly the
// earlier dataset.
func TestKill9DuringPublish(t *testing.T) {
	nt, err := devnet.Create(filepath.Join(t.TempDir(), "net"), 1)
	if err != nil {
		t.Fatal(err)
	}
	o := nt.Orgs[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := func() {
		t.Helper()
		if err := nt.Start(binary); err != nil {
			t.Fatal(err)
		}
		if err := nt.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	start()
	defer nt.Stop(5 * time.Second)
	cl, _ := api.NewClient(o.Dir)
	if err := devnet.RegisterDemoSchema(ctx, cl, "shipment-event"); err != nil {
		t.Fatal(err)
	}
	publish := func(n int, onEvent func(api.PublishEvent)) (*api.PublishSummary, error) {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(sample.Write(pw, "shipment-event", n, 3, nil)) }()
		defer pr.Close()
		return cl.Publish(ctx, api.PublishRequest{Dataset: "events", Schema: "shipment-event"}, pr, onEvent)
	}
	if _, err := publish(1000, nil); err != nil {
		t.Fatal(err)
	}

	killed := make(chan struct{})
	var once sync.Once
	_, err = publish(300000, func(ev api.PublishEvent) {
		if ev.Progress >= 20000 {
			once.Do(func() {
				o.Kill() // SIGKILL, mid-publish
				close(killed)
			})
		}
	})
	select {
	case <-killed:
	default:
		t.Fatalf("the publish ended before the kill: %v", err)
	}
	if err == nil {
		t.Fatal("the publish succeeded although the gateway was killed")
	}

	storeDir := datadir.Dir(o.Dir).Store()
	before := halfWritten(t, storeDir)

	start()
	st, err := o.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Catalog.Statements != 2 {
		t.Fatalf("after the restart the catalog holds %d statements, want 2 (the schema's registration and the first dataset)", st.Catalog.Statements)
	}
	if r := o.Stop(5 * time.Second); r.ExitCode != 0 {
		t.Fatalf("stop: %+v", r)
	}
	after, err := store.ReadStats(datadir.Dir(o.Dir).Store())
	if err != nil {
		t.Fatal(err)
	}
	if after != (store.Stats{Statements: 2, Records: 1000}) {
		t.Fatalf("after restart: %+v, want the schema's registration and exactly the first dataset (2 statements, 1000 records)", after)
	}
	if left, _ := filepath.Glob(filepath.Join(storeDir, "staging", "*")); len(left) != 0 {
		t.Fatalf("staging files left after restart: %v", left)
	}
	t.Logf("staged at the kill: %+v; after restart: %+v", before, after)
}

// halfWritten checks what a kill in the middle of a publish left: the
// broken publish pending, its records (and their attribute projections)
// half-written in staging sstables outside the database.
func halfWritten(t *testing.T, storeDir string) store.Stats {
	t.Helper()
	before, err := store.ReadStats(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	staged, _ := filepath.Glob(filepath.Join(storeDir, "staging", "*.sst"))
	if before.Pending != 1 || len(staged) != 2 {
		t.Fatalf("after the kill: %+v, staging files %v; want one pending publish with its two staging files", before, staged)
	}
	records := staged[0]
	if strings.HasSuffix(records, ".attrs.sst") {
		records = staged[1]
	}
	if fi, err := os.Stat(records); err != nil || fi.Size() == 0 {
		t.Fatalf("the records' staging file is empty: %v", err)
	}
	return before
}

// The hostile scenario's attackers, each a process of its own: the member
// connects and waits, attacks once told, pauses and resumes, reports what
// it did, and both it and the outsider are gone once stopped, with their
// counts.
func TestHostileMemberProcess(t *testing.T) {
	nt, err := devnet.Create(filepath.Join(t.TempDir(), "net"), 4)
	if err != nil {
		t.Fatal(err)
	}
	honest := nt.Orgs[:3]
	for _, o := range honest {
		if err := nt.StartOrg(binary, o); err != nil {
			t.Fatal(err)
		}
	}
	defer nt.Stop(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := nt.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	target, err := devnet.Publish(ctx, honest[0], "target", "customs-declaration", 20, 1, []string{"bench"})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := devnet.Publish(ctx, honest[0], "gone", "customs-declaration", 5, 2, []string{"bench"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := devnet.StartMember(ctx, binary, nt, honest, target.CID, gone.CID)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	counts, err := a.Counted()
	if err != nil || len(counts) != 0 {
		t.Fatalf("before it is told to start, the member did %v (%v)", counts, err)
	}
	if err := a.Begin(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, func() bool {
		counts, err = a.Counted()
		return err == nil && counts["60 KiB statements gossiped"] > 0 && counts["fetches refused or failed"] > 0
	}, "the member's floods and fetches under way")
	// Paused, it does nothing more; resumed, it attacks again.
	if err := a.Pause(); err != nil {
		t.Fatal(err)
	}
	paused, _ := a.Counted()
	time.Sleep(300 * time.Millisecond)
	if still, _ := a.Counted(); still["60 KiB statements gossiped"] != paused["60 KiB statements gossiped"] {
		t.Fatalf("paused, the member went on: %v then %v", paused, still)
	}
	if err := a.Begin(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, func() bool {
		counts, err = a.Counted()
		return err == nil && counts["60 KiB statements gossiped"] > paused["60 KiB statements gossiped"]
	}, "the floods resumed")
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	final := a.Final()
	if final["60 KiB statements gossiped"] < counts["60 KiB statements gossiped"] || final["idle connections opened"] == 0 {
		t.Fatalf("final counts %v (earlier %v)", final, counts)
	}
	if !a.Exited() {
		t.Fatal("an attacker still runs after stop")
	}
}
