package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/journal"
)

// testRoster writes a roster whose customs-cn and customs-kz nodes have the
// fixed keys journal/testdata was written with (seeds of 1s and 2s).
func testRoster(t *testing.T) string {
	t.Helper()
	r := &consortium.Roster{Consortium: "silk-test", Version: 1}
	_, admin, _ := ed25519.GenerateKey(nil)
	r.Admins = consortium.Admins{Threshold: 1, Keys: []consortium.AdminKey{{Name: "admin", Key: consortium.EncodePublicKey(admin.Public().(ed25519.PublicKey))}}}
	for i, org := range []string{"customs-cn", "customs-kz"} {
		priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, 32))
		pk, err := crypto.UnmarshalEd25519PublicKey(priv.Public().(ed25519.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		id, err := peer.IDFromPublicKey(pk)
		if err != nil {
			t.Fatal(err)
		}
		r.Members = append(r.Members, consortium.Member{Org: org, Name: org, Country: "CN", Sector: "customs",
			Roles: []string{"witness"}, Nodes: []consortium.Node{{PeerID: id.String(), Addrs: []string{"/ip4/127.0.0.1/tcp/4001"}}}})
	}
	if _, err := r.Sign(admin); err != nil {
		t.Fatal(err)
	}
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "consortium.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifyEvidenceOffline(t *testing.T) {
	roster := testRoster(t)
	evidence := "../../journal/testdata/evidence.tlog-proof"
	out := mustCaravan(t, "verify", evidence, "--roster", roster)
	for _, w := range []string{"VERIFIED", "who         customs-cn", "entry       #1 of caravan/silk-test/customs-cn",
		"witness     customs-kz cosigned", "witnessed   1 of the 1 required"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	data, err := os.ReadFile(evidence)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.tlog-proof")
	data[len("c2sp.org/tlog-proof@v1\nextra ")+10] ^= 1 // a bit of the entry
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := caravan(t, "verify", bad, "--roster", roster); exitCode(err) != 1 || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("tampered evidence: exit %d, %v", exitCode(err), err)
	}
}

func TestJournalAlertsCommand(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "caravan.yaml"), []byte("org: customs-cn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := caravan(t, "journal", "alerts", "--dir", dir)
	if err != nil || !strings.Contains(out, "no fork alerts") {
		t.Fatalf("%v\n%s", err, out)
	}
	fe := &journal.ForkError{Origin: "caravan/silk/customs-kz", Held: []byte("a\n"), Got: []byte("b\n"), Reason: "two roots for size 7"}
	if _, err := journal.SaveAlert(filepath.Join(dir, "journal", "alerts"), fe, time.Now()); err != nil {
		t.Fatal(err)
	}
	out, err = caravan(t, "journal", "alerts", "--dir", dir)
	if exitCode(err) != 2 || !strings.Contains(out, "caravan/silk/customs-kz: two roots for size 7") {
		t.Fatalf("exit %d %v\n%s", exitCode(err), err, out)
	}
}

// journal proof --hash takes the 12 characters that journal log shows, or
// any prefix of 8 or more that only one entry has.
func TestEntryByHashPrefix(t *testing.T) {
	dir, n := oneGateway(t)
	poll.Until(t, func() bool { return n.Services().Admin.Status().Journal.Size >= 2 }, "the gateway's first entries checkpointed")
	log := mustCaravan(t, "journal", "log", "--dir", dir)
	shown := regexp.MustCompile(`(?m)^\s*(\d+)\s.*\[([0-9a-f]{12})\]$`).FindAllStringSubmatch(log, -1)
	if len(shown) < 2 {
		t.Fatalf("journal log:\n%s", log)
	}
	for _, m := range shown {
		idx, err := datadir.EntryByHash(context.Background(), dir, m[2])
		if err != nil || fmt.Sprint(idx) != m[1] {
			t.Fatalf("--hash %s: entry %d, %v; journal log shows it at %s", m[2], idx, err, m[1])
		}
	}
	if _, err := datadir.EntryByHash(context.Background(), dir, "0000000000ff"); !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "no entry") {
		t.Fatalf("a prefix no entry has: %v (not found expected)", err)
	}
	if _, err := datadir.EntryByHash(context.Background(), dir, "abc"); err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Fatalf("a prefix too short: %v", err)
	}
}

// --json: each command that prints results prints JSON that decodes, with
// the same facts.
func TestJSONOutputs(t *testing.T) {
	roster := testRoster(t)
	var v struct {
		Verified bool `json:"verified"`
		Report   struct {
			Org       string `json:"org"`
			Index     uint64 `json:"index"`
			Threshold int    `json:"threshold"`
		} `json:"report"`
	}
	out := mustCaravan(t, "verify", "../../journal/testdata/evidence.tlog-proof", "--roster", roster, "--json")
	if err := json.Unmarshal([]byte(out), &v); err != nil || !v.Verified || v.Report.Org != "customs-cn" || v.Report.Index != 1 {
		t.Fatalf("verify --json: %v %+v\n%s", err, v, out)
	}
	var r struct {
		Valid   bool     `json:"valid"`
		Signers []string `json:"signers"`
	}
	out = mustCaravan(t, "consortium", "verify", "--roster", roster, "--json")
	if err := json.Unmarshal([]byte(out), &r); err != nil || !r.Valid || len(r.Signers) == 0 {
		t.Fatalf("consortium verify --json: %v %+v\n%s", err, r, out)
	}

	dir, n := oneGateway(t)
	poll.Until(t, func() bool { return n.Services().Admin.Status().Journal.Size >= 2 }, "the gateway's first entries checkpointed")
	n.Close()
	lines := strings.Split(strings.TrimSpace(mustCaravan(t, "journal", "log", "--dir", dir, "--json")), "\n")
	for i, l := range lines {
		var e entryJSON
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Index != uint64(i) || len(e.Hash) != 64 || e.Event == nil {
			t.Fatalf("journal log --json line %d: %v %+v", i, err, e)
		}
	}
	var cp map[string]any
	if err := json.Unmarshal([]byte(mustCaravan(t, "journal", "checkpoint", "--dir", dir, "--json")), &cp); err != nil ||
		cp["size"].(float64) != float64(len(lines)) || len(cp["root"].(string)) != 64 {
		t.Fatalf("journal checkpoint --json: %v %v", err, cp)
	}
	var checks []logCheckJSON
	if err := json.Unmarshal([]byte(mustCaravan(t, "journal", "verify", "--dir", dir, "--json")), &checks); err != nil || len(checks) != 1 || !checks[0].OK {
		t.Fatalf("journal verify --json: %v %+v", err, checks)
	}
	var alerts []journal.Alert
	if err := json.Unmarshal([]byte(mustCaravan(t, "journal", "alerts", "--dir", dir, "--json")), &alerts); err != nil || len(alerts) != 0 {
		t.Fatalf("journal alerts --json: %v %+v", err, alerts)
	}
}
