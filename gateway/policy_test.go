package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/gateway/policies"

	"github.com/caravan-consortium/caravan/api"

	"go.uber.org/zap/zaptest"

	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testnet"
	"github.com/caravan-consortium/caravan/policy"
	"github.com/caravan-consortium/caravan/schemas/sample"
)

func policyDir(c *testnet.Cluster, i int) string { return filepath.Join(c.Dir(i), "policies") }

func TestPolicyHotReload(t *testing.T) {
	c := testnet.NewCluster(t, 1)
	c.RegisterDemoSchemasOffline(0)
	var mu sync.Mutex
	var changes []policies.Change
	n, err := gateway.Start(context.Background(), gateway.Options{Dir: c.Dir(0), Logger: zaptest.NewLogger(t),
		OnPolicyChange: func(ch policies.Change) {
			mu.Lock()
			defer mu.Unlock()
			changes = append(changes, ch)
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	first := n.Policies()
	if len(first.Policies()) == 0 {
		t.Fatal("the demo policies are not in force")
	}
	// A session that starts now finishes on this bundle, whatever happens.
	inFlight := first.Fetch(policy.Request{Org: policy.Org{ID: "logistics-az", Groups: []string{"logistics-operators"}},
		Dataset: policy.Dataset{Owner: "customs-cn", Name: "d", Purposes: []string{"transit-planning"}},
		Purpose: "transit-planning", Time: time.Now()}, nil)

	// 1. A valid change is put in force, and the hook sees it.
	extra := `@id("deny-all-transit")
forbid (principal, action == Action::"fetch", resource) when { context.purpose == "transit-planning" };
`
	writeFile(t, filepath.Join(policyDir(c, 0), "extra.cedar"), extra)
	poll.Until(t, func() bool { return n.Policies().CID() != first.CID() }, "the new bundle")
	second := n.Policies()
	if second.Policy("deny-all-transit") == nil {
		t.Fatal("the new policy is not in the bundle in force")
	}
	if inFlight.Bundle() != first {
		t.Error("a session in flight moved to the new bundle")
	}
	mu.Lock()
	if len(changes) != 2 || changes[0].Old != "" || changes[0].New != first.CID() ||
		changes[1].Old != first.CID() || changes[1].New != second.CID() {
		t.Errorf("changes = %+v", changes)
	}
	mu.Unlock()

	// 2. A syntax error is refused: the old bundle stays, counted and logged.
	writeFile(t, filepath.Join(policyDir(c, 0), "broken.cedar"), "@id(\"b\")\npermit (principal, action, resource)\nwhen { resource. };\n")
	poll.Until(t, func() bool { return n.Services().Admin.Status().Policy.Refused == 1 }, "the refusal")
	st := n.Services().Admin.Status().Policy
	if st.Bundle != second.CID() || n.Policies() != second {
		t.Errorf("bundle in force changed to %s after a broken file", st.Bundle)
	}
	if !strings.Contains(st.LastError, "broken.cedar:3: syntax error") {
		t.Errorf("last error %q does not name the file and line", st.LastError)
	}

	// 3. A policy that does not match the schema is refused too.
	if err := os.Remove(filepath.Join(policyDir(c, 0), "broken.cedar")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(policyDir(c, 0), "typo.cedar"), "@id(\"t\")\npermit (principal, action == Action::\"fetch\", resource)\nwhen { resource.clasification == \"public\" };\n")
	poll.Until(t, func() bool { return n.Services().Admin.Status().Policy.Refused >= 2 }, "the second refusal")
	if n.Policies() != second {
		t.Error("a schema-invalid bundle was put in force")
	}
	if e := n.Services().Admin.Status().Policy.LastError; !strings.Contains(e, "typo.cedar:3:") || !strings.Contains(e, "clasification") {
		t.Errorf("last error %q", e)
	}

	// 4. The counters are on /metrics.
	metrics := getControl(t, c.Dir(0), "/metrics")
	for _, w := range []string{`caravan_policy_reloads_total{result="accepted"} 1`, `caravan_policy_reloads_total{result="refused"} 2`,
		`caravan_policy_bundle_info{cid="` + second.CID() + `"} 1`} {
		if !strings.Contains(metrics, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}

	// 5. Fixing the file puts the fixed bundle in force.
	writeFile(t, filepath.Join(policyDir(c, 0), "typo.cedar"), "@id(\"t\")\npermit (principal, action == Action::\"fetch\", resource)\nwhen { resource has classification };\n")
	poll.Until(t, func() bool { return n.Policies().Policy("t") != nil }, "the fixed bundle")
	if st := n.Services().Admin.Status().Policy; st.LastError != "" || st.Accepted != 2 {
		t.Errorf("after the fix: %+v", st)
	}
}

func TestStartRefusesInvalidPolicies(t *testing.T) {
	c := testnet.NewCluster(t, 1)
	writeFile(t, filepath.Join(policyDir(c, 0), "bad.cedar"), "permit (principal, action, resource);\n")
	_, err := c.TryStart(0)
	if !errors.Is(err, policy.ErrInvalid) || !strings.Contains(err.Error(), "bad.cedar:1: policy has no @id") {
		t.Fatalf("start: %v", err)
	}
}

func TestExplainAndDiscoverThroughControlSocket(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	n := c.Start(0) // customs-cn
	cl, err := api.NewClient(c.Dir(0))
	if err != nil {
		t.Fatal(err)
	}
	testnet.RegisterDemoSchemas(t, []*gateway.Gateway{n}, cl)
	ctx := context.Background()
	var body bytes.Buffer
	if err := sample.Write(&body, "customs-declaration", 20, 1, nil); err != nil {
		t.Fatal(err)
	}
	for _, ds := range []struct {
		name   string
		labels []string
	}{{"declarations-2026", []string{"customs"}}, {"enforcement-cases", []string{"restricted-catalog"}}} {
		if _, err := cl.Publish(ctx, api.PublishRequest{Dataset: ds.name, Schema: "customs-declaration", Format: "jsonl",
			Labels: ds.labels, Purposes: []string{"customs-clearance", "transit-planning"}}, bytes.NewReader(body.Bytes()), nil); err != nil {
			t.Fatal(err)
		}
	}

	// Discover: logistics-az does not see the restricted-catalog dataset.
	names := func(as string) []string {
		t.Helper()
		entries, err := cl.Catalog(ctx, api.CatalogQuery{As: as})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Manifest.Dataset)
		}
		return out
	}
	if got := strings.Join(names("customs-kz"), ","); got != "declarations-2026,enforcement-cases" {
		t.Errorf("customs-kz discovers %q", got)
	}
	if got := strings.Join(names("logistics-az"), ","); got != "declarations-2026" {
		t.Errorf("logistics-az discovers %q", got)
	}
	if _, err := cl.Catalog(ctx, api.CatalogQuery{As: "nobody"}); err == nil || !strings.Contains(err.Error(), `org "nobody" is not a member`) {
		t.Errorf("unknown org: %v", err)
	}

	// Explain: a confidential record is withheld from partner customs.
	rec := `{"declaration_type":"export","origin_country":"CN","destination_country":"KZ","classification":"confidential","total_value_usd":10}`
	res, err := cl.Explain(ctx, api.ExplainRequest{Org: "customs-kz", Dataset: "declarations-2026", Purpose: "customs-clearance",
		Time: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), Record: json.RawMessage(rec)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Decision != "deny" || len(res.Policies) != 1 || res.Policies[0].ID != "no-confidential" || res.Policies[0].File != "guards.cedar" {
		t.Errorf("explain: %+v", res)
	}
	if res.Bundle != n.Policies().CID() || res.Dataset != "customs-cn/declarations-2026" || res.Org.Country != "KZ" {
		t.Errorf("explain context: %+v", res)
	}
	if string(res.Attributes["classification"].(string)) != "confidential" {
		t.Errorf("attributes: %v", res.Attributes)
	}
	// A bad record names the field.
	_, err = cl.Explain(ctx, api.ExplainRequest{Org: "customs-kz", Dataset: "declarations-2026", Purpose: "p",
		Record: json.RawMessage(`{"total_value_usd":"lots"}`)})
	if err == nil || !strings.Contains(err.Error(), `field "total_value_usd"`) {
		t.Errorf("bad record: %v", err)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// getControl GETs a path on a gateway's control socket.
func getControl(t *testing.T, dir, path string) string {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", datadir.Dir(dir).Socket())
	}}}
	resp, err := hc.Get("http://caravan" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
