package testnet

import (
	"bytes"
	"context"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/gateway/roster"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/policy"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// FetchNet is a cluster of 3 gateways in which customs-cn has published
// generated customs declarations, listed by the two others, offered for
// customs-clearance and transit-planning.
type FetchNet struct {
	C     *Cluster
	Nodes []*gateway.Gateway
	CID   string
	M     *manifest.Manifest
	Recs  [][]byte // canonical records, in order
}

// NewFetchNet starts 3 gateways; customs-cn publishes n declarations.
// Each option changes the cluster before the gateways start (WithAPI).
func NewFetchNet(t testing.TB, n int, options ...func(*Cluster)) *FetchNet {
	t.Helper()
	c := NewCluster(t, 3)
	for _, o := range options {
		o(c)
	}
	fn := &FetchNet{C: c}
	for i := range 3 {
		fn.Nodes = append(fn.Nodes, c.Start(i))
	}
	body := bytes.NewBuffer(testkit.JSONL(t, "customs-declaration", n, 3))
	for _, line := range bytes.Split(bytes.TrimSpace(body.Bytes()), []byte("\n")) {
		canon, err := jcs.Canonicalize(line)
		if err != nil {
			t.Fatal(err)
		}
		fn.Recs = append(fn.Recs, canon)
	}
	cl, err := api.NewClient(c.Dir(0))
	if err != nil {
		t.Fatal(err)
	}
	RegisterDemoSchemas(t, fn.Nodes, cl)
	res, err := cl.Publish(context.Background(), api.PublishRequest{Dataset: "declarations", Schema: "customs-declaration",
		Format: "jsonl", Purposes: []string{"customs-clearance", "transit-planning"}}, body, nil)
	if err != nil {
		t.Fatal(err)
	}
	fn.CID, fn.M = res.CID, res.Manifest
	for i := 1; i < 3; i++ {
		poll.Until(t, func() bool { _, err := fn.Nodes[i].Services().Sharing.CatalogItem(fn.CID); return err == nil }, "the manifest listed")
		poll.Until(t, func() bool { return ConnectedTo(fn.Nodes[i], "customs-cn") }, "connected")
	}
	return fn
}

// Manifest is the published manifest's CID.
func (fn *FetchNet) Manifest() cid.Cid { return cid.MustParse(fn.CID) }

// Org is org i's policy entity.
func (fn *FetchNet) Org(i int) policy.Org {
	return roster.OrgEntity(fn.Nodes[i].Roster().Member(fn.C.Net.Orgs[i].Org))
}

// Expected decides the records directly with the provider's bundle: the
// sorted CIDs of those org may fetch for purpose.
func (fn *FetchNet) Expected(t testing.TB, org policy.Org, purpose string) []string {
	t.Helper()
	b := fn.Nodes[0].Policies()
	s, err := fn.Nodes[0].Registry().Lookup("customs-declaration")
	if err != nil {
		t.Fatal(err)
	}
	ex := b.Vocabulary().ExtractorFor(s)
	owner := roster.OrgEntity(fn.Nodes[0].Roster().Member("customs-cn"))
	sess := b.Fetch(policy.Request{Org: org, Dataset: policy.Dataset{Owner: "customs-cn", Name: "declarations",
		Schema: "customs-declaration", Labels: []string{}, Purposes: fn.M.Purposes}, Owner: &owner, Purpose: purpose, Time: time.Now()}, nil)
	var out []string
	var parser jcs.Parser
	for _, data := range fn.Recs {
		v, err := parser.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ex.RecordValue(cids.OfJSON(data).String(), &v)
		if err != nil {
			t.Fatal(err)
		}
		if sess.Decide([]policy.Record{r}, nil)[0].Permit {
			out = append(out, r.ID)
		}
	}
	sort.Strings(out)
	return out
}

// Received returns the sorted CIDs of the records of a JSONL file.
func Received(t testing.TB, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(line) > 0 {
			out = append(out, cids.OfJSON(line).String())
		}
	}
	sort.Strings(out)
	return out
}
