package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/consortium"
)

// Every edit the consortium needs, from the command line: each makes the
// next version, changes only what it names, and a wrong one names its
// field and leaves the file as it was.
func TestRosterEdits(t *testing.T) {
	dir := t.TempDir()
	roster := filepath.Join(dir, "consortium.yaml")
	var admins []string
	keyLine := regexp.MustCompile(`--admin (\S+)`)
	for _, name := range []string{"ann", "bob"} {
		out := mustCaravan(t, "consortium", "keygen", "--name", name, "--out", filepath.Join(dir, name+".key"))
		admins = append(admins, "--admin", keyLine.FindStringSubmatch(out)[1])
	}
	mustCaravan(t, append([]string{"consortium", "new", "--name", "silk", "--threshold", "1", "--out", roster}, admins...)...)
	gw := filepath.Join(dir, "gw")
	mustCaravan(t, "init", "--org", "customs-cn", "--dir", gw)
	mustCaravan(t, "consortium", "add-member", "--roster", roster, "--org", "customs-cn", "--name", "Customs CN",
		"--country", "CN", "--sector", "customs", "--role", "publisher", "--role", "witness", "--group", "belt-and-road",
		"--node-dir", gw, "--addr", "/ip4/127.0.0.1/tcp/4001")
	mustCaravan(t, "consortium", "sign", "--roster", roster, "--key", filepath.Join(dir, "ann.key"))

	show := func() *consortium.Roster {
		t.Helper()
		var r consortium.Roster
		if err := json.Unmarshal([]byte(mustCaravan(t, "consortium", "show", "--roster", roster, "--json")), &r); err != nil {
			t.Fatal(err)
		}
		return &r
	}
	out := mustCaravan(t, "consortium", "update-member", "--roster", roster, "--org", "customs-cn", "--sector", "revenue")
	if !strings.Contains(out, "version 2 is unsigned") {
		t.Fatalf("update-member on a signed roster:\n%s", out)
	}
	if m := show().Member("customs-cn"); m.Sector != "revenue" || !slices.Equal(m.Roles, []string{"publisher", "witness"}) ||
		!slices.Equal(m.Groups, []string{"belt-and-road"}) || len(m.Nodes) != 1 || m.Name != "Customs CN" {
		t.Fatalf("update-member --sector changed more than the sector: %+v", m)
	}
	mustCaravan(t, "consortium", "update-member", "--roster", roster, "--org", "customs-cn", "--role", "requester")
	if m := show().Member("customs-cn"); !slices.Equal(m.Roles, []string{"requester"}) || m.Sector != "revenue" {
		t.Fatalf("update-member --role: %+v", m)
	}

	other := "12D3KooWGvtegKApw6t8WRTpQkfc8CR6EBAWcqoGLat8YWH65dsj"
	mustCaravan(t, "consortium", "add-node", "--roster", roster, "--org", "customs-cn", "--peer", other, "--addr", "/ip4/127.0.0.1/tcp/4002")
	if n := show().Member("customs-cn").Nodes; len(n) != 2 {
		t.Fatalf("add-node: %+v", n)
	}
	mustCaravan(t, "consortium", "remove-node", "--roster", roster, "--org", "customs-cn", "--peer", other)
	mustCaravan(t, "consortium", "add-member", "--roster", roster, "--org", "customs-kz", "--name", "Customs KZ", "--country", "KZ", "--sector", "customs")
	mustCaravan(t, "consortium", "remove-member", "--roster", roster, "--org", "customs-kz")
	if r := show(); len(r.Members) != 1 || len(r.Member("customs-cn").Nodes) != 1 || r.Version != 2 {
		t.Fatalf("after the node and member edits: version %d, %+v", r.Version, r.Members)
	}

	before := show()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"add-member", "--org", "customs-cn", "--name", "X", "--country", "CN", "--sector", "customs"}, "change it with update-member"},
		{[]string{"add-member", "--org", "new-org", "--name", "X", "--country", "XX", "--sector", "trade"}, "members[1].country"},
		{[]string{"add-member", "--org", "new-org", "--name", "X", "--country", "CN", "--sector", "trade", "--role", "superuser"}, "members[1].roles[0]"},
		{[]string{"update-member", "--org", "customs-cn", "--country", "cn"}, "members[0].country"},
		{[]string{"update-member", "--org", "nobody", "--name", "X"}, "org: \"nobody\" is not a member"},
		{[]string{"add-node", "--org", "customs-cn", "--peer", other, "--addr", "localhost:4001"}, "members[0].nodes[1].addrs[0]"},
		{[]string{"remove-node", "--org", "customs-cn", "--peer", other}, "lists no node"},
		{[]string{"set-threshold", "--admins", "3"}, "admins.threshold: 3 is out of range 1..2"},
		{[]string{"rotate-admin", "--name", "cat", "--key", before.Admins.Keys[0].Key}, "not an admin"},
		{[]string{"update-member", "--org", "customs-cn", "--sector", "revenue"}, "changes nothing"},
	} {
		if _, err := caravan(t, append([]string{"consortium"}, append(c.args, "--roster", roster)...)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("consortium %v: %v, want an error with %q", c.args, err, c.want)
		}
	}
	if after := show(); after.Version != before.Version || len(after.Members) != len(before.Members) {
		t.Fatal("a refused edit changed the file")
	}

	// admin-key prints the line keygen printed; rotate-admin takes it.
	mustCaravan(t, "consortium", "keygen", "--name", "bob", "--out", filepath.Join(dir, "bob2.key"))
	out = mustCaravan(t, "consortium", "admin-key", "--key", filepath.Join(dir, "ann.key"), "--roster", roster)
	if !strings.Contains(out, "--admin "+admins[1]) {
		t.Fatalf("admin-key of ann:\n%s", out)
	}
	newKey := regexp.MustCompile(`ed25519:\S+`).FindString(mustCaravan(t, "consortium", "admin-key", "--key", filepath.Join(dir, "bob2.key"), "--roster", roster))
	mustCaravan(t, "consortium", "rotate-admin", "--roster", roster, "--name", "bob", "--key", newKey)
	mustCaravan(t, "consortium", "set-threshold", "--roster", roster, "--admins", "2")
	mustCaravan(t, "consortium", "set-expiry", "--roster", roster, "--expires", "2020-01-01T00:00:00Z")
	if r := show(); r.Admins.Keys[1].Key != newKey || r.Admins.Threshold != 2 {
		t.Fatalf("rotate-admin and set-threshold: %+v", r.Admins)
	}
	mustCaravan(t, "consortium", "sign", "--roster", roster, "--key", filepath.Join(dir, "ann.key"))
	mustCaravan(t, "consortium", "sign", "--roster", roster, "--key", filepath.Join(dir, "bob2.key"))
	// A gateway's kept versions: --dir and --version.
	kept := filepath.Join(gw, "state", "rosters")
	if err := os.MkdirAll(kept, 0o700); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(roster)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(kept, "2.yaml"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustCaravan(t, "consortium", "show", "--dir", gw, "--version", "2"); !strings.Contains(out, "version 2, signed by ann, bob") {
		t.Fatalf("show --dir --version 2:\n%s", out)
	}
	if _, err := caravan(t, "consortium", "show", "--dir", gw, "--version", "7"); err == nil {
		t.Fatal("show of a version the gateway never kept")
	}
	// propose: the next version of the roster a gateway has in force.
	if err := os.WriteFile(filepath.Join(gw, "state", "roster.yaml"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	proposal := filepath.Join(dir, "v3.proposal.yaml")
	out = mustCaravan(t, "consortium", "propose", "update-member", "--dir", gw, "--out", proposal, "--org", "customs-cn", "--sector", "customs")
	if !strings.Contains(out, "roster version 3 is unsigned") {
		t.Fatalf("propose:\n%s", out)
	}
	if p, err := consortium.Load(proposal); err != nil || p.Version != 3 || p.Member("customs-cn").Sector != "customs" || len(p.Signatures) != 0 {
		t.Fatalf("the proposal: %v", err)
	}
	if _, err := caravan(t, "consortium", "propose", "remove-member", "--dir", gw, "--out", proposal, "--org", "customs-cn"); err == nil ||
		!strings.Contains(err.Error(), "already exists") {
		t.Fatalf("a proposal over another: %v", err)
	}
	mustCaravan(t, "consortium", "sign", "--roster", proposal, "--key", filepath.Join(dir, "ann.key"))
	mustCaravan(t, "consortium", "sign", "--roster", proposal, "--key", filepath.Join(dir, "bob2.key"))
	mustCaravan(t, "consortium", "verify", "--roster", proposal, "--trusted", filepath.Join(gw, "state", "roster.yaml"))

	out = mustCaravan(t, "consortium", "show", "--roster", roster)
	for _, want := range []string{"version 2, signed by ann, bob (threshold 2)", "EXPIRED at 2020-01-01T00:00:00Z", "customs-cn: Customs CN, CN, revenue; roles: requester; groups: belt-and-road", "node 12D3KooW"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
}

// From the roster in force to the next version in force, with no file
// copied: propose, sign where the admin is, submit to the gateway.
func TestProposeSignSubmit(t *testing.T) {
	dir, n := oneGateway(t)
	proposal := filepath.Join(t.TempDir(), "next.yaml")
	mustCaravan(t, "consortium", "propose", "update-member", "--dir", dir, "--out", proposal, "--org", "customs-cn", "--sector", "revenue")
	if _, err := caravan(t, "consortium", "submit", proposal, "--dir", dir); err != nil {
		t.Fatalf("an unsigned proposal is held, not refused: %v", err)
	}
	if out := mustCaravan(t, "status", "--dir", dir); !strings.Contains(out, "version 2 proposed: signed by none") {
		t.Fatalf("status with a proposal pending:\n%s", out)
	}
	mustCaravan(t, "consortium", "sign", "--roster", proposal, "--key", filepath.Join(dir, "admin.key"))
	out := mustCaravan(t, "consortium", "submit", proposal, "--dir", dir)
	if !strings.Contains(out, "version 2 adopted") || n.Roster().Version != 2 || n.Roster().Member("customs-cn").Sector != "revenue" {
		t.Fatalf("submit of the signed proposal:\n%s (in force: version %d)", out, n.Roster().Version)
	}
	if _, err := caravan(t, "consortium", "submit", proposal, "--dir", dir); err != nil {
		t.Fatalf("submitting the version in force again: %v", err)
	}
}
