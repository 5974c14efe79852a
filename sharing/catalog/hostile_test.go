package catalog_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/node"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// The attack: one member gossips thousands of statements of 60 KiB (3,000
// cost 614 MiB of heap on every gateway, for ever). Each org now has a
// catalog quota (statements and bytes, in the config); what is beyond it is
// neither kept nor passed on, and a peer's gossip is rate-limited. The
// other members' statements still get through.
func TestOneMemberCannotFillTheCatalogs(t *testing.T) {
	c := testkit.NewCluster(t, 3)
	for i := range 2 { // a quota of 2 MiB per org on the honest gateways
		path := filepath.Join(c.Dir(i), "caravan.yaml")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.Replace(data, []byte("megabytes_per_org: 64"), []byte("megabytes_per_org: 2"), 1)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a, b := c.Start(0), c.Start(1)
	evil := c.Hostile(2, a, b)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	key := c.NodeKey(2)
	for i := range 300 {
		m := testkit.Manifest()
		m.Publisher, m.Dataset = "logistics-az", fmt.Sprintf("junk-%d", i)
		m.Description = strings.Repeat("x", 60<<10)
		st, err := manifest.SignStatement(m, key)
		if err != nil {
			t.Fatal(err)
		}
		evil.Gossip(t, "catalog", st.Marshal())
	}
	time.Sleep(2 * time.Second)
	for _, g := range []struct {
		name  string
		count func() int
	}{{"customs-cn", func() int { return a.Status().Catalog.Statements }}, {"customs-kz", func() int { return b.Status().Catalog.Statements }}} {
		if n := g.count(); n < 20 || n > 40 {
			t.Fatalf("%s keeps %d statements; a quota of 2 MiB holds about 33 of the flood's 60 KiB", g.name, n)
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 64<<20 {
		t.Fatalf("the heap grew by %d MB", grown>>20)
	}
	// An honest member's statements still get through.
	cl, err := api.NewClient(c.Dir(0))
	if err != nil {
		t.Fatal(err)
	}
	testkit.RegisterDemoSchemas(t, []*node.Node{a, b}, cl)
}
