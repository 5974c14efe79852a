package testkit_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/caravan-consortium/caravan/"

// deps returns every package pkg depends on (transitively), by import path.
func deps(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", module+"...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	all := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		all[p.ImportPath] = p.Deps
	}
	return all
}

// The layout's dependencies run one way (README, Architecture):
// cmd -> api client; node -> {sharing/*, policy, journal, journal/witness}
// -> {p2p, consortium, schemas}; policy, journal, sharing/manifest and api
// import no libp2p.
func TestDependencyDirection(t *testing.T) {
	all := deps(t)
	type rule struct {
		from   string   // a package, or a prefix ending in "/"
		never  []string // packages (or prefixes ending in "/") it must not depend on
		reason string
	}
	lower := []string{"p2p", "consortium", "schemas"}
	middle := []string{"sharing/", "policy", "journal", "journal/"}
	top := []string{"node", "api", "devnet", "cmd/"}
	rules := []rule{
		{"policy", []string{"!github.com/libp2p/", "sharing/", "consortium"}, "policy takes plain values"},
		{"journal", []string{"!github.com/libp2p/", "consortium", "sharing/"}, "journal takes plain keys"},
		{"sharing/manifest", []string{"!github.com/libp2p/"}, "offline commands check statements without libp2p"},
		{"sharing/publish", []string{"!github.com/libp2p/go-libp2p-pubsub", "sharing/catalog"}, "'caravan cid' builds without gossip"},
		{"api", []string{"!github.com/libp2p/", "node", "sharing/store", "sharing/publish", "sharing/catalog", "sharing/fetch", "journal/witness", "p2p"}, "the API's client is cheap to embed"},
		{"p2p", []string{"consortium"}, "the gater takes a plain set of PeerIDs"},
	}
	for _, l := range lower {
		rules = append(rules, rule{l, append(append([]string{}, middle...), top...), "the lower layer is imported, never importing"})
	}
	for _, m := range middle {
		rules = append(rules, rule{m, top, "node wires the middle layer, not the other way"})
	}
	rules = append(rules, rule{"node", []string{"devnet", "cmd/"}, "node is below the tools that drive it"})
	for _, r := range rules {
		for pkg, ds := range all {
			name := strings.TrimPrefix(pkg, module)
			if !matches(name, r.from) {
				continue
			}
			for _, d := range ds {
				for _, never := range r.never {
					external, ok := strings.CutPrefix(never, "!")
					switch {
					case ok && strings.HasPrefix(d, external):
					case !ok && strings.HasPrefix(d, module) && matches(strings.TrimPrefix(d, module), never):
					default:
						continue
					}
					t.Errorf("%s depends on %s (%s)", name, d, r.reason)
				}
			}
		}
	}
}

// matches reports whether package name is pattern, or under it when the
// pattern ends in "/" ("sharing/" is every package under sharing).
func matches(name, pattern string) bool {
	if strings.HasSuffix(pattern, "/") {
		return strings.HasPrefix(name, pattern)
	}
	return name == pattern
}
