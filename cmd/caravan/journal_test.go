package main

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/consortium"
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
