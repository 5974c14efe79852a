package console_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/devnet"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testkit"
)

// chromium finds Debian's Chromium. Without it the browser tests skip,
// except under CI=true, where a missing browser fails the run (.ci/run
// installs it).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("browser tests: no Chromium on this machine, and CI=true: install it (apt-get install chromium)")
	}
	t.Skip("browser tests skipped: no Chromium on this machine (apt-get install chromium)")
	return ""
}

// artifacts is where the browser tests write their screenshots and
// downloads: $CARAVAN_ARTIFACTS/console, else a directory under the
// system's temporary one, kept after the test.
func artifacts(t *testing.T) string {
	root := os.Getenv("CARAVAN_ARTIFACTS")
	if root == "" {
		root = filepath.Join(os.TempDir(), "caravan-artifacts")
	}
	dir := filepath.Join(root, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots and downloads: %s", dir)
	return dir
}

// tab is one browser context (its own cookies) on one gateway's console,
// which records every console error and uncaught exception of its pages.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	name string // for screenshots
	dir  string

	mu     sync.Mutex
	errors []string
}

func newTab(t *testing.T, alloc context.Context, base, name, dir string) *tab {
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx, base: base, name: name, dir: dir}
	// Console API errors, uncaught exceptions and the browser log's errors
	// (a failed request among them), in the order they come.
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				tb.mu.Lock()
				tb.errors = append(tb.errors, fmt.Sprintf("%s (%s:%d)", m.Text, m.URL, m.Line+1))
				tb.mu.Unlock()
			}
		}
	}()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, BrowserContextID: chromedp.FromContext(ctx).BrowserContextID, DownloadPath: dir}); err != nil {
		t.Fatal(err)
	}
	return tb
}

func (tb *tab) run(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.failed(err)
	}
}

// failed ends the test with a screenshot of the page and its text.
func (tb *tab) failed(err error) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	if png, e := chromedp.Run(ctx, chromedp.FullScreenshot(100)); e == nil {
		_ = os.WriteFile(filepath.Join(tb.dir, tb.name+"-failure.png"), png, 0o644)
	}
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	tb.t.Fatalf("%s: %v\npage: %.3000s\nconsole errors: %v", tb.name, err, text, tb.takeErrors())
}

// get runs one action that returns a value.
func get[T any](tb *tab, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.failed(err)
	}
	return v
}

// takeErrors returns the errors seen since the last call.
func (tb *tab) takeErrors() []string {
	time.Sleep(100 * time.Millisecond) // the messages of the last action arrive
	tb.mu.Lock()
	defer tb.mu.Unlock()
	e := tb.errors
	tb.errors = nil
	return e
}

// visit loads a page, checks that it drew with no console error, and
// takes its screenshots at 1280 px and at a phone's 390 px, where nothing
// may overflow the page's width (wide tables scroll in their own box).
func (tb *tab) visit(path, page string) {
	tb.t.Helper()
	tb.run(chromedp.EmulateViewport(1280, 900), chromedp.Navigate(tb.base+path), chromedp.WaitVisible("main h1"))
	tb.shot(page + "-1280")
	tb.run(chromedp.EmulateViewport(390, 844), chromedp.Sleep(100*time.Millisecond))
	overflow := get(tb, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	tb.shot(page + "-phone")
	if overflow {
		tb.t.Errorf("%s %s: wider than a phone's screen", tb.name, path)
	}
	if errs := tb.takeErrors(); len(errs) > 0 {
		tb.t.Errorf("%s %s: console errors: %v", tb.name, path, errs)
	}
	tb.run(chromedp.EmulateViewport(1280, 900))
}

func (tb *tab) shot(name string) {
	tb.t.Helper()
	png := get(tb, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(tb.dir, tb.name+"-"+name+".png"), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

func (tb *tab) login(token string) {
	tb.t.Helper()
	tb.run(chromedp.Navigate(tb.base+"/console/"), chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#token", token), chromedp.Submit("#token"), chromedp.WaitVisible("main h1"))
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return get(tb, chromedp.Text(sel, chromedp.NodeVisible))
}

// The console in Debian's Chromium, against three gateways: log in, every
// page draws without a console error at desktop and phone widths, a file
// published through one console's upload form appears in another's
// catalog, a decision is explained, a broken policy upload is refused at
// its file and line, a fetch runs with live progress, and an evidence file
// downloaded from the journal page verifies offline with caravan verify
// and on the page. A bad token is refused.
func TestConsoleInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests skipped in -short mode")
	}
	exe := chromium(t)
	dir := artifacts(t)
	nt, cn, kz, recs := browserDevnet(t)
	cnBase, kzBase := strings.TrimSuffix(cn.URL, "/console/"), strings.TrimSuffix(kz.URL, "/console/")
	cnClient, err := api.NewClient(nt.Orgs[0].Dir)
	if err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.IgnoreCertErrors,
		chromedp.NoSandbox, chromedp.Flag("disable-dev-shm-usage", true))
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	// The browser, started once; each tab has a browser context of its own
	// (its own cookies: the gateways share a host and differ by port).
	first, cancelFirst := chromedp.NewContext(alloc)
	t.Cleanup(cancelFirst)
	if err := chromedp.Do(first); err != nil {
		t.Fatal(err)
	}
	alloc = first

	// A bad token is refused.
	cnTab := newTab(t, alloc, cnBase, "customs-cn", dir)
	cnTab.login("cvn_this-is-not-a-token")
	if s := cnTab.text("p.error"); !strings.Contains(s, "unknown, expired or revoked") {
		t.Fatalf("a bad token: %q", s)
	}
	cnTab.shot("login-refused")
	cnTab.takeErrors() // the refused login's 401 is expected

	cnTab.login(cn.Token)
	kzTab := newTab(t, alloc, kzBase, "customs-kz", dir)
	kzTab.login(kz.Token)

	// Publish through customs-cn's upload form...
	records := filepath.Join(t.TempDir(), "browser-declarations.jsonl")
	if err := os.WriteFile(records, testkit.JSONL(t, "customs-declaration", 25, 11), 0o600); err != nil {
		t.Fatal(err)
	}
	cnTab.run(chromedp.Navigate(cnTab.base+"/console/catalog"), chromedp.WaitVisible("#publish"),
		chromedp.SendKeys(`#publish input[name=dataset]`, "browser-declarations"),
		chromedp.SetValue(`#publish select[name=schema]`, "customs-cn/customs-declaration@1.0"),
		chromedp.SendKeys(`#publish input[name=purpose]`, "customs-clearance"),
		chromedp.SetUploadFiles(`#publish input[name=file]`, []string{records}),
		chromedp.Click(`#publish button[type=submit]`), chromedp.WaitVisible(`#publish output.ok`))
	if s := cnTab.text("#publish output"); !strings.Contains(s, "browser-declarations version 1: 25 records") {
		t.Fatalf("publish: %q", s)
	}
	cnTab.shot("published")
	// ...and see it in customs-kz's catalog.
	deadline := time.Now().Add(30 * time.Second)
	for {
		kzTab.run(chromedp.Navigate(kzTab.base+"/console/catalog?q=browser-declarations"), chromedp.WaitVisible("#catalog"))
		if get(kzTab, chromedp.Evaluate[bool](`document.querySelector('#catalog').innerText.includes('customs-cn/browser-declarations')`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the dataset published on customs-cn's console never reached customs-kz's catalog page")
		}
		time.Sleep(300 * time.Millisecond)
	}
	kzTab.shot("catalog-after-publish")

	// A fetch from customs-kz's console, with its progress.
	kzTab.run(chromedp.Navigate(kzTab.base+"/console/fetches"), chromedp.WaitVisible("#fetch"),
		chromedp.SendKeys(`#fetch input[name=manifest]`, "customs-cn/declarations"),
		chromedp.SendKeys(`#fetch input[name=purpose]`, "customs-clearance"),
		chromedp.Click(`#fetch button[type=submit]`),
		chromedp.WaitVisible(`#fetches-out tr[data-state=done]`))
	if s := kzTab.text(`#fetches-out tr[data-state=done] .progress`); !strings.Contains(s, "received") {
		t.Fatalf("the fetch's row: %q", s)
	}
	kzTab.shot("fetched")

	// Explain a decision on the owner's console.
	cnTab.run(chromedp.Navigate(cnTab.base+"/console/policies"), chromedp.WaitVisible("#explain form"),
		chromedp.SetValue(`#explain select[name=org]`, "customs-kz"),
		chromedp.SendKeys(`#explain input[name=dataset]`, "customs-cn/declarations"),
		chromedp.SendKeys(`#explain input[name=purpose]`, "customs-clearance"),
		chromedp.SetValue(`#explain textarea[name=record]`, recs[0]),
		chromedp.Submit(`#explain textarea[name=record]`), chromedp.WaitVisible("#explained .verdict"))
	if v := cnTab.text("#explained .verdict"); v != "PERMIT" && v != "DENY" && v != "permit" && v != "deny" {
		t.Fatalf("the verdict: %q", v)
	}
	cnTab.shot("explained")

	// A broken bundle is refused at its file and line, and changes nothing.
	policyCID := func() string {
		p, err := cnClient.Policy(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return p.Bundle
	}
	before := policyCID()
	broken := filepath.Join(t.TempDir(), "broken.cedar")
	if err := os.WriteFile(broken, []byte("@id(\"b\")\npermit (principal, action, resource)\nwhen { resource. };\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cnTab.run(chromedp.SetUploadFiles(`#upload input[name=files]`, []string{broken}),
		chromedp.Click(`#upload button[value=apply]`), chromedp.WaitVisible("#problems"))
	if s := cnTab.text("#problems tbody"); !strings.Contains(s, "broken.cedar") || !strings.Contains(s, "3") {
		t.Fatalf("the refused upload's problems: %q", s)
	}
	if policyCID() != before {
		t.Fatal("a broken upload changed the bundle in force")
	}
	cnTab.shot("policy-refused")
	cnTab.takeErrors() // the refusal's 422 is expected

	// Every page, on both consoles.
	for _, tb := range []*tab{cnTab, kzTab} {
		for _, p := range []struct{ path, name string }{
			{"/console/", "overview"}, {"/console/catalog", "catalog"}, {"/console/datasets/customs-cn/declarations", "dataset"},
			{"/console/policies", "policies"}, {"/console/journal", "journal"}, {"/console/fetches", "fetches"}, {"/console/members", "members"},
		} {
			tb.visit(p.path, p.name)
		}
	}

	// Download an evidence file from the journal page: the newest entry
	// whose checkpoint is witnessed (the receipt of the fetch above).
	var entry string
	kzTab.run(chromedp.Navigate(kzTab.base+"/console/journal"), chromedp.WaitVisible("#entries"))
	deadline = time.Now().Add(30 * time.Second)
	var proof string
	for proof == "" {
		entry = get(kzTab, chromedp.Evaluate[string](`(() => { const r = [...document.querySelectorAll('#entries tbody tr')].find(r => r.innerText.includes('receipt')); return r ? r.cells[0].innerText : ''; })()`))
		if entry != "" {
			_ = os.Remove(filepath.Join(dir, "entry.tlog-proof"))
			kzTab.run(chromedp.Click(fmt.Sprintf(`#entries a[href$="entry=%s"]`, entry)))
			for i := 0; i < 50 && proof == ""; i++ {
				if _, err := os.Stat(filepath.Join(dir, "entry.tlog-proof")); err == nil {
					proof = filepath.Join(dir, "entry.tlog-proof")
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		if proof == "" {
			if time.Now().After(deadline) {
				t.Fatalf("no evidence file was downloaded (entry %q)", entry)
			}
			kzTab.run(chromedp.Reload(), chromedp.WaitVisible("#entries"))
		}
	}
	kzTab.takeErrors()
	out, err := exec.Command(caravanBinary(t), "verify", proof, "--roster", nt.Roster).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "receipt") {
		t.Fatalf("caravan verify %s: %v\n%s", proof, err, out)
	}
	// The same file verifies on the page.
	kzTab.run(chromedp.SetUploadFiles(`#verify input[name=evidence]`, []string{proof}),
		chromedp.Click(`#verify button[type=submit]`), chromedp.WaitVisible("#verify-result"))
	if s := kzTab.text("#verify-result .verdict"); !strings.Contains(strings.ToLower(s), "verifies") {
		t.Fatalf("the page's verification: %q", s)
	}
	kzTab.shot("verified")

	// Two gateways on one host keep their sessions apart in one browser
	// (cookies are kept by host, not by port: each listener names its own).
	cnTab.run(chromedp.Navigate(kzBase+"/console/"), chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#token", kz.Token), chromedp.Submit("#token"), chromedp.WaitVisible("main h1"),
		chromedp.Navigate(cnBase+"/console/members"), chromedp.WaitVisible("#members"))
	if s := cnTab.text("a.brand span"); s != "customs-cn" {
		t.Fatalf("after logging in to customs-kz in the same browser, customs-cn's console shows %q", s)
	}
	if errs := append(cnTab.takeErrors(), kzTab.takeErrors()...); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}

// browserDevnet runs a devnet of three gateways, each its own OS process
// of the caravan binary: customs-cn has published 500 declarations
// ("declarations"), which the others list. It returns customs-cn's and
// customs-kz's consoles, and the declarations' lines.
func browserDevnet(t *testing.T) (*devnet.Net, devnet.Console, devnet.Console, []string) {
	t.Helper()
	nt, err := devnet.Create(filepath.Join(t.TempDir(), "net"), 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := nt.Start(caravanBinary(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nt.Stop(10 * time.Second) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := nt.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	var clients []*api.Client
	for _, o := range nt.Orgs {
		cl, err := api.NewClient(o.Dir)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cl)
	}
	if err := devnet.RegisterDemoSchemas(ctx, clients[0]); err != nil {
		t.Fatal(err)
	}
	for _, cl := range clients {
		poll.Until(t, func() bool {
			st, err := cl.Status(ctx)
			return err == nil && st.Policy.Count > 0 && st.Policy.Waiting == ""
		}, "the demo's policies in force on every gateway")
	}
	body := testkit.JSONL(t, "customs-declaration", 500, 3)
	res, err := clients[0].Publish(ctx, api.PublishRequest{Dataset: "declarations", Schema: "customs-declaration", Format: "jsonl",
		Purposes: []string{"customs-clearance", "transit-planning"}}, bytes.NewReader(body), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, cl := range clients[1:] {
		poll.Until(t, func() bool { _, err := cl.CatalogItem(ctx, res.CID); return err == nil }, "the declarations listed")
	}
	consoles, err := nt.OpenConsoles(ctx)
	if err != nil || len(consoles) != 3 {
		t.Fatalf("consoles: %v %v", consoles, err)
	}
	return nt, consoles[0], consoles[1], strings.Split(strings.TrimSpace(string(body)), "\n")
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// caravanBinary builds the caravan command once: the devnet's gateways
// and the offline check run it.
func caravanBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() { built, buildErr = buildCaravan() })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func buildCaravan() (string, error) {
	dir, err := os.MkdirTemp("", "caravan-browser-test-")
	if err != nil {
		return "", err
	}
	exe := filepath.Join(dir, "caravan")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.Command("go", "build", "-o", exe, "./cmd/caravan")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/caravan: %v\n%s", err, out)
	}
	return exe, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built != "" {
		os.RemoveAll(filepath.Dir(built))
	}
	os.Exit(code)
}
