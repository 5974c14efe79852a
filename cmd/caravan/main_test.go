package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/api/server"
	"github.com/caravan-consortium/caravan/devnet"
	"github.com/caravan-consortium/caravan/gateway"
	"go.uber.org/zap/zaptest"
)

// caravan runs the command line in-process and returns what it printed.
func caravan(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, &out, &out)
	return out.String(), err
}

func mustCaravan(t *testing.T, args ...string) string {
	t.Helper()
	out, err := caravan(t, args...)
	if err != nil {
		t.Fatalf("caravan %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestInitPrintsPeerIDAndRefusesOverwrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gw")
	out := mustCaravan(t, "init", "--org", "customs-cn", "--dir", dir)
	if !regexp.MustCompile(`peer id: 12D3KooW\w+`).MatchString(out) {
		t.Fatalf("init did not print a PeerID:\n%s", out)
	}
	if !regexp.MustCompile(`API certificate \(self-signed, for api.listen\): SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}`).MatchString(out) {
		t.Fatalf("init did not print the API certificate's fingerprint:\n%s", out)
	}
	if _, err := caravan(t, "init", "--org", "customs-cn", "--dir", dir); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second init: %v", err)
	}
}

// The roster workflow of the README, command by command.
func TestConsortiumWorkflow(t *testing.T) {
	dir := t.TempDir()
	roster := filepath.Join(dir, "consortium.yaml")
	var admins []string
	for _, name := range []string{"ann", "bob", "cat"} {
		out := mustCaravan(t, "consortium", "keygen", "--name", name, "--out", filepath.Join(dir, name+".key"))
		m := regexp.MustCompile(`--admin (\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("keygen printed no admin key:\n%s", out)
		}
		admins = append(admins, "--admin", m[1])
	}
	mustCaravan(t, append([]string{"consortium", "new", "--name", "silk", "--threshold", "2", "--out", roster}, admins...)...)
	gw := filepath.Join(dir, "gw")
	mustCaravan(t, "init", "--org", "customs-cn", "--dir", gw)
	mustCaravan(t, "consortium", "add-member", "--roster", roster, "--org", "customs-cn", "--name", "Customs CN",
		"--country", "CN", "--sector", "customs", "--role", "publisher", "--node-dir", gw, "--addr", "/ip4/127.0.0.1/tcp/4001")

	if _, err := caravan(t, "consortium", "verify", "--roster", roster); err == nil || !strings.Contains(err.Error(), "0 of the 2") {
		t.Fatalf("verify of an unsigned roster: %v", err)
	}
	mustCaravan(t, "consortium", "sign", "--roster", roster, "--key", filepath.Join(dir, "ann.key"))
	mustCaravan(t, "consortium", "sign", "--roster", roster, "--key", filepath.Join(dir, "cat.key"))
	out := mustCaravan(t, "consortium", "verify", "--roster", roster)
	if !strings.Contains(out, "version 1") || !strings.Contains(out, "signed by 2 of 3 admins (threshold 2): ann, cat") {
		t.Fatalf("verify:\n%s", out)
	}
	v1 := filepath.Join(dir, "v1.yaml")
	data, _ := os.ReadFile(roster)
	os.WriteFile(v1, data, 0o644)

	// Editing a signed roster starts version 2, unsigned.
	out = mustCaravan(t, "consortium", "add-member", "--roster", roster, "--org", "customs-kz", "--name", "Customs KZ",
		"--country", "KZ", "--sector", "customs")
	if !strings.Contains(out, "version 2 is unsigned") {
		t.Fatalf("add-member on a signed roster:\n%s", out)
	}
	mustCaravan(t, "consortium", "sign", "--roster", roster, "--key", filepath.Join(dir, "bob.key"))
	mustCaravan(t, "consortium", "sign", "--roster", roster, "--key", filepath.Join(dir, "cat.key"))
	mustCaravan(t, "consortium", "verify", "--roster", roster, "--trusted", v1)
	if _, err := caravan(t, "consortium", "verify", "--roster", v1, "--trusted", roster); err == nil || !strings.Contains(err.Error(), "downgrade") {
		t.Fatalf("verify of a downgrade: %v", err)
	}

	// A key that is not an admin's cannot sign.
	stranger := filepath.Join(dir, "stranger.key")
	mustCaravan(t, "consortium", "keygen", "--out", stranger)
	if _, err := caravan(t, "consortium", "sign", "--roster", roster, "--key", stranger); err == nil {
		t.Fatal("a stranger's key signed the roster")
	}
}

func TestStatusWithoutGateway(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gw")
	mustCaravan(t, "init", "--org", "customs-cn", "--dir", dir)
	_, err := caravan(t, "status", "--dir", dir)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 3 || !strings.Contains(err.Error(), "no gateway is running") {
		t.Fatalf("status without a gateway: %v", err)
	}
	// A directory that holds no gateway at all says how to make one.
	_, err = caravan(t, "status", "--dir", t.TempDir())
	if !errors.As(err, &ee) || ee.code != 3 || !strings.Contains(err.Error(), "caravan init") {
		t.Fatalf("status on a directory with no gateway: %v", err)
	}
}

func TestRunRefusesMissingRoster(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gw")
	mustCaravan(t, "init", "--org", "customs-cn", "--dir", dir)
	_, err := caravan(t, "run", "--dir", dir)
	if err == nil || !strings.Contains(err.Error(), "consortium.yaml") {
		t.Fatalf("run without a roster: %v", err)
	}
}

// caravan version names the module and the Go version, in text and JSON.
func TestVersion(t *testing.T) {
	out := mustCaravan(t, "version")
	if !strings.HasPrefix(out, "caravan ") || !strings.Contains(out, "go      go1.") {
		t.Fatalf("version:\n%s", out)
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(mustCaravan(t, "version", "--json")), &v); err != nil || v.Module != "github.com/caravan-consortium/caravan" || v.Go == "" {
		t.Fatalf("version --json: %v %+v", err, v)
	}
}

// oneGateway starts the gateway of a one-org devnet in-process and returns
// its data directory; the gateway stops with the test.
func oneGateway(t *testing.T) (string, *gateway.Gateway) {
	t.Helper()
	nt, err := devnet.Create(filepath.Join(t.TempDir(), "net"), 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := nt.Orgs[0].Dir
	n, err := gateway.Start(context.Background(), gateway.Options{Dir: dir, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return dir, n
}

// caravan token create prints a secret once; list shows names and scopes
// only; revoke marks it revoked; bad scopes and names are refused.
func TestTokenCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gw")
	mustCaravan(t, "init", "--org", "customs-cn", "--dir", dir)
	secret := strings.TrimSpace(mustCaravan(t, "token", "create", "--dir", dir, "--name", "case-system", "--scope", "read,fetch", "--expires", "24h"))
	if !strings.HasPrefix(secret, "cvn_") || len(secret) < 40 {
		t.Fatalf("token create printed %q", secret)
	}
	list := mustCaravan(t, "token", "list", "--dir", dir)
	if !strings.Contains(list, "case-system") || !strings.Contains(list, "read,fetch") || strings.Contains(list, secret) {
		t.Fatalf("token list:\n%s", list)
	}
	if _, err := caravan(t, "token", "create", "--dir", dir, "--name", "x", "--scope", "root"); err == nil || !strings.Contains(err.Error(), `scope "root"`) {
		t.Fatalf("a bad scope: %v", err)
	}
	if _, err := caravan(t, "token", "create", "--dir", dir, "--name", "case-system", "--scope", "read"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("a second token of one name: %v", err)
	}
	mustCaravan(t, "token", "revoke", "--dir", dir, "case-system")
	var tokens []server.Token
	if err := json.Unmarshal([]byte(mustCaravan(t, "token", "list", "--dir", dir, "--json")), &tokens); err != nil || len(tokens) != 1 || !tokens[0].Revoked {
		t.Fatalf("token list --json after revoke: %v %+v", err, tokens)
	}
}

// A mistyped subcommand of a command group fails and names itself: cobra
// printed the group's help and exited 0, so a script's typo passed for a
// done step (found by the README's own test).
func TestUnknownSubcommandFails(t *testing.T) {
	for _, args := range [][]string{{"consortium", "verifyx"}, {"schema", "lits"}, {"journal", "proove"}, {"token", "delete", "x"}} {
		out, err := caravan(t, args...)
		if err == nil || !strings.Contains(err.Error(), "unknown command") || !strings.Contains(err.Error(), args[1]) {
			t.Errorf("caravan %v: %v\n%s", args, err, out)
		}
	}
	if out, err := caravan(t, "consortium"); err != nil || !strings.Contains(out, "Available Commands") {
		t.Errorf("a group alone prints its help: %v\n%s", err, out)
	}
}
