package rules_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/caravan-consortium/caravan/"

// allowed lists, for every package of this module, the packages of this
// module it may import (non-test files), as Go's go/build deps_test.go
// does: an import not listed fails, so no edge appears unforeseen. The
// direction (DESIGN.md): cmd -> {api, gateway, devnet}; gateway (the assembly)
// -> {api's server, sharing/*, policy, journal, journal/witness} -> {p2p,
// consortium, schemas} -> internal/*. Edges marked "issue 25" are to go.
var allowed = map[string][]string{
	// Leaves.
	"configs":              nil,
	"internal/atomicfile":  nil,
	"internal/clusterconn": nil,
	"internal/dirwatch":    nil,
	"internal/cids":        nil,
	"internal/jcs":         nil,
	"internal/keyfile":     nil,
	"internal/logging":     nil,
	"internal/poll":        nil,
	"internal/ratelimit":   nil,
	"internal/yamlfile":    nil,
	"schemas/sample":       nil,

	// The cluster's servers, run as local processes for the cluster tests
	// and the devnet.
	"internal/clusterenv":             {"internal/clusterconn"},
	"internal/clusterenv/withservers": {"internal/clusterenv"},

	// The lower layer: formats and the network.
	"schemas":                 {"internal/cids", "internal/jcs"},
	"consortium":              {"internal/jcs", "internal/yamlfile"},
	"consortium/edit":         {"consortium"},
	"p2p":                     {"internal/ratelimit"},
	"sharing/manifest":        {"internal/cids", "internal/jcs"},
	"sharing/store":           {"sharing/manifest"},
	"sharing/store/cluster":   {"internal/clusterconn", "sharing/manifest", "sharing/store"},
	"sharing/store/storetest": {"internal/cids", "sharing/manifest", "sharing/store"},

	// The middle layer: one flow each, on plain values.
	"policy":          {"internal/atomicfile", "internal/cids", "internal/jcs", "internal/yamlfile", "schemas"},
	"journal/event":   {"internal/jcs"},
	"journal":         {"internal/atomicfile", "internal/clusterconn", "journal/event"},
	"journal/witness": {"consortium", "journal", "p2p"},
	"sharing/catalog": {"internal/cids", "p2p", "sharing/manifest", "sharing/store"},
	"sharing/fetch":   {"internal/atomicfile", "internal/cids", "internal/jcs", "journal/event", "p2p", "schemas", "sharing/manifest", "sharing/store"},
	"sharing/publish": {"internal/cids", "internal/jcs", "schemas", "sharing/manifest", "sharing/store"},

	// The API: wire types and the client, light enough to embed; the
	// server (routes, auth, tokens, OpenAPI) over the gateway's services;
	// the console over the same services.
	"api":         {"journal/event", "sharing/manifest"},
	"api/server":  {"api", "internal/atomicfile", "internal/ratelimit"},
	"api/console": {"api", "api/server", "journal/event"},

	// The assembly: the services over the parts, served by api/server (the
	// console is handed to it by whoever starts the gateway).
	"gateway/datadir": {"api", "consortium", "internal/atomicfile", "internal/clusterconn", "internal/keyfile", "internal/logging", "internal/yamlfile",
		"journal", "p2p", "sharing/catalog", "sharing/fetch"},
	"gateway/policies": {"api", "internal/atomicfile", "internal/cids", "internal/dirwatch", "policy"},
	"gateway/keys":     {"consortium", "gateway/datadir", "internal/keyfile", "journal"},
	"gateway/roster":   {"api", "consortium", "gateway/datadir", "internal/atomicfile", "internal/dirwatch", "p2p", "policy"},
	"gateway/storage": {"gateway/datadir", "gateway/policies", "gateway/roster", "internal/atomicfile", "internal/clusterconn", "journal", "policy", "sharing/store",
		"sharing/store/cluster"},
	"gateway/metrics": {"api", "consortium", "journal", "journal/witness", "p2p", "sharing/catalog"},
	"gateway": {"api", "api/server", "consortium", "gateway/datadir", "gateway/keys", "gateway/metrics", "gateway/policies", "gateway/roster", "gateway/storage",
		"internal/cids", "internal/dirwatch", "internal/jcs", "internal/keyfile", "internal/logging", "journal", "journal/witness", "p2p", "policy",
		"schemas", "sharing/catalog", "sharing/fetch", "sharing/manifest", "sharing/publish", "sharing/store"},

	// Tools above the assembly.
	"devnet": {"api", "api/server", "configs", "consortium", "internal/atomicfile", "internal/clusterconn", "internal/clusterenv", "internal/cids", "internal/keyfile", "journal",
		"journal/witness", "gateway", "gateway/datadir", "gateway/roster", "p2p", "schemas", "schemas/sample", "sharing/catalog", "sharing/fetch",
		"sharing/manifest", "sharing/store"},
	"cmd/caravan": {"api", "api/console", "api/server", "consortium", "consortium/edit", "devnet", "internal/atomicfile", "internal/keyfile", "internal/logging", "journal",
		"gateway", "gateway/datadir", "p2p", "policy", "schemas", "schemas/sample", "sharing/publish"},

	// Test fixtures (imported by tests only): leaf fixtures, light; the
	// in-process consortium, which imports the assembly and the tools.
	"internal/testkit": {"schemas", "schemas/sample", "sharing/manifest"},
	"internal/testnet": {"api", "api/console", "api/server", "consortium", "devnet", "gateway", "gateway/datadir", "gateway/roster",
		"internal/atomicfile", "internal/cids", "internal/jcs", "internal/keyfile", "internal/poll", "internal/testkit", "policy",
		"schemas", "sharing/manifest"},
	"internal/rules": nil,
}

// never lists external modules a package must not reach, even
// transitively: the layers that take plain values stay cheap to embed
// and to check offline.
var never = map[string][]string{
	"internal/testkit": {"github.com/libp2p/"},
	"policy":           {"github.com/libp2p/"},
	"journal":          {"github.com/libp2p/"},
	"sharing/manifest": {"github.com/libp2p/"},
	"sharing/publish":  {"github.com/libp2p/go-libp2p-pubsub"},
	"api":              {"github.com/libp2p/", "github.com/cedar-policy/", "github.com/transparency-dev/tessera", "github.com/getkin/"},
	"journal/event":    {"github.com/transparency-dev/tessera", "github.com/libp2p/"},
}

type listed struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func packages(t *testing.T) []listed {
	t.Helper()
	out, err := exec.Command("go", "list", "-pgo=off", "-json", module+"...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	var all []listed
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		all = append(all, p)
	}
	return all
}

func TestImportsAreAllowed(t *testing.T) {
	pkgs := packages(t)
	seen := map[string]bool{}
	for _, p := range pkgs {
		name := strings.TrimPrefix(p.ImportPath, module)
		seen[name] = true
		allow, known := allowed[name]
		if !known {
			t.Errorf("package %s is not in the allow-list: add it to internal/rules/deps_test.go with the packages it may import", name)
			continue
		}
		var got []string
		for _, imp := range p.Imports {
			if dep, ok := strings.CutPrefix(imp, module); ok {
				got = append(got, dep)
				if !slices.Contains(allow, dep) {
					t.Errorf("%s imports %s, which its allow-list does not name", name, dep)
				}
			}
		}
		for _, a := range allow {
			if !slices.Contains(got, a) {
				t.Errorf("%s's allow-list names %s, which it no longer imports: drop it", name, a)
			}
		}
		for _, ext := range never[name] {
			for _, d := range p.Deps {
				if strings.HasPrefix(d, ext) {
					t.Errorf("%s depends on %s (it must not reach %s)", name, d, ext)
					break
				}
			}
		}
	}
	var stale []string
	for name := range allowed {
		if !seen[name] {
			stale = append(stale, name)
		}
	}
	sort.Strings(stale)
	for _, name := range stale {
		t.Errorf("the allow-list names %s, which is no package", name)
	}
}

// Testing a package of the lower layer compiles what it needs, not the
// gateway: the in-process consortium is internal/testnet, not the leaf
// fixtures (go test ./sharing/manifest compiled about 860 packages).
func TestLowerLayersTestLight(t *testing.T) {
	for _, pkg := range []string{"sharing/manifest", "schemas", "internal/jcs"} {
		out, err := exec.Command("go", "list", "-pgo=off", "-deps", "-test", module+pkg).Output()
		if err != nil {
			t.Skipf("go list: %v", err)
		}
		if n := strings.Count(string(out), "\n"); n > 250 {
			t.Errorf("go test ./%s compiles %d packages (at most 250)", pkg, n)
		} else {
			t.Logf("go test ./%s compiles %d packages", pkg, n)
		}
	}
}
