package gateway_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testnet"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// hostileRegistration is a registration that org i signs with its own key
// outside any gateway's checks: route typed as a Long.
func hostileRegistration(t *testing.T, c *testnet.Cluster, i int, name string, created time.Time) []byte {
	t.Helper()
	return signedRegistration(t, c, i, name, created, c.OrgKey(i))
}

// signedRegistration is such a registration of org i signed by key.
func signedRegistration(t *testing.T, c *testnet.Cluster, i int, name string, created time.Time, key ed25519.PrivateKey) []byte {
	t.Helper()
	s, err := schemas.Compile([]byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
		"properties":{"route":{"type":"integer","x-caravan-policy-attribute":true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	st, err := manifest.SignStatement(&manifest.Registration{Type: manifest.TypeRegistration, Publisher: c.Net.Orgs[i].Org,
		Name: name, Version: "1.0", Created: created.UTC().Truncate(time.Second), Document: s.Canonical}, key)
	if err != nil {
		t.Fatal(err)
	}
	return st.Marshal()
}

func setAside(n *gateway.Gateway) []string {
	var out []string
	for _, a := range n.Services().Admin.Status().SchemasSetAside {
		out = append(out, a.Schema)
	}
	return out
}

// One member's registration cannot stop another member's gateway: a
// registration that retypes a policy attribute another member registered
// before is set aside by the victim (said in its status), whose policy
// stays in force, also after a restart; and even a registration signed as
// if earlier (which wins the name on every gateway alike) leaves the
// victim's gateway starting, denying every fetch, and saying why.
func TestHostileRegistrationCannotStopAGateway(t *testing.T) {
	c := testnet.NewCluster(t, 2)
	dir := policyDir(c, 1)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.Remove(filepath.Join(dir, e.Name()))
	}
	writeFile(t, filepath.Join(dir, "permits.cedar"), `@id("almaty")
permit (principal, action == Action::"fetch", resource)
when { resource has route && resource.route == "Almaty-Khorgos" };`)
	kz := c.Start(1)
	cl, err := api.NewClient(c.Dir(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.RegisterSchema(context.Background(), api.SchemaRequest{Name: "road-permit", Version: "1.0"},
		[]byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
		"properties":{"route":{"type":"string","x-caravan-policy-attribute":true}}}`)); err != nil {
		t.Fatal(err)
	}
	inForce := func(n *gateway.Gateway) bool {
		st := n.Services().Admin.Status().Policy
		return st.Waiting == "" && st.Count == 1
	}
	poll.Until(t, func() bool { return inForce(kz) }, "customs-kz's policy in force")

	// customs-cn turns hostile (its gateway is not running; its key is).
	hs := c.Hostile(0, kz)
	hs.Gossip(t, "catalog", hostileRegistration(t, c, 0, "trap", time.Now().Add(time.Minute)))
	poll.Until(t, func() bool { return slices.Contains(setAside(kz), "customs-cn/trap@1.0") }, "the retyping registration set aside")
	if !inForce(kz) {
		t.Fatalf("customs-kz's policy left force: %+v", kz.Services().Admin.Status().Policy)
	}
	kz.Close()
	hs.Host.Close()
	kz = c.Start(1) // it failed to start here: the first schema in registry order decided the type
	if !inForce(kz) || !slices.Contains(setAside(kz), "customs-cn/trap@1.0") {
		t.Fatalf("after a restart: policy %+v, set aside %v", kz.Services().Admin.Status().Policy, setAside(kz))
	}
	hs = c.Hostile(0, kz)

	// Signed as if a year ago, the registration wins "route" everywhere
	// alike; customs-kz's own is set aside, and its gateway still starts.
	hs.Gossip(t, "catalog", hostileRegistration(t, c, 0, "backdated", time.Now().AddDate(-1, 0, 0)))
	poll.Until(t, func() bool { return slices.Contains(setAside(kz), "customs-kz/road-permit@1.0") }, "customs-kz's registration set aside")
	kz.Close()
	kz = c.Start(1)
	st := kz.Services().Admin.Status()
	if st.Policy.Waiting == "" || st.Policy.Count != 0 || !strings.Contains(st.Policy.LastError, "permits.cedar:1") {
		t.Fatalf("the gateway does not say why every fetch is denied: %+v", st.Policy)
	}
}
