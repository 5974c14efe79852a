package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/configs"
	"github.com/caravan-consortium/caravan/devnet"
	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testnet"
	"github.com/caravan-consortium/caravan/journal"
)

// phyto reads a file of the phytosanitary example (configs/examples).
func phyto(t *testing.T, name string) []byte {
	t.Helper()
	ex, err := configs.Example("phytosanitary")
	if err != nil {
		t.Fatal(err)
	}
	data, err := fs.ReadFile(ex, name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// An agency's own schema, end to end with no rebuild: customs-kz registers
// it while customs-cn's gateway is down, a policy on its attributes is
// refused (naming its line) until it is registered, certificates are
// published from CSV, and customs-cn, restarted, catches the schema up,
// lists the dataset and fetches exactly what the policy permits, every
// record validated against the schema on receipt.
func TestOwnSchemaCaughtUpByAPartnerThatMissedIt(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	nodes := []*gateway.Gateway{c.Start(0), c.Start(1), c.Start(2)}
	kz, err := api.NewClient(c.Dir(1))
	if err != nil {
		t.Fatal(err)
	}
	testnet.RegisterDemoSchemas(t, nodes, kz)
	nodes[0].Close() // customs-cn misses everything that follows

	// A policy on attributes that no schema declares yet is refused at
	// reload, naming the file and the line of the expression.
	policyFile := filepath.Join(policyDir(c, 1), "plant-health.cedar")
	writeFile(t, policyFile, string(phyto(t, "plant-health.cedar")))
	poll.Until(t, func() bool { return nodes[1].Services().Policies.Policy().Refused > 0 }, "the undeclared attribute refused")
	if msg := nodes[1].Services().Policies.Policy().LastError; !strings.Contains(msg, "plant-health.cedar:14") || !strings.Contains(msg, "pest_free") {
		t.Fatalf("the refusal does not name the expression's line and attribute: %s", msg)
	}

	info, err := kz.RegisterSchema(context.Background(), api.SchemaRequest{}, phyto(t, "phytosanitary-certificate.json"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Owner != "customs-kz" || info.Name != "phytosanitary-certificate" || info.Version != "1.0" || info.Statement == "" {
		t.Fatalf("registered %+v", info)
	}
	poll.Until(t, func() bool {
		_, err := datadir.FindEntry(context.Background(), c.Dir(1), "schema entry", func(e []byte) bool {
			ev, err := journal.Decode(e)
			return err == nil && ev.Type == journal.TypeSchema && ev.Schema == "phytosanitary-certificate@1.0" && ev.Document == info.CID
		})
		return err == nil
	}, "the registration in customs-kz's journal")
	poll.Until(t, func() bool {
		_, err := nodes[2].Services().Registry.Schema("customs-kz/phytosanitary-certificate")
		return err == nil
	}, "the schema gossiped to logistics-az")
	bundle := nodes[1].Policies().CID()
	writeFile(t, policyFile, string(phyto(t, "plant-health.cedar"))+"\n")
	poll.Until(t, func() bool { return nodes[1].Policies().CID() != bundle }, "the policy in force once the schema is registered")

	sum, err := kz.Publish(context.Background(), api.PublishRequest{Dataset: "phyto", Schema: "phytosanitary-certificate",
		Format: "csv", Purposes: []string{"phytosanitary-control"}}, bytes.NewReader(phyto(t, "certificates.csv")), nil)
	if err != nil {
		t.Fatal(err)
	}

	cn := c.Start(0)
	poll.Until(t, func() bool {
		list, _ := cn.Services().Sharing.Catalog(api.CatalogQuery{Org: "customs-kz"})
		return len(list) == 1 && list[0].CID == sum.CID
	}, "the restarted customs-cn to list the dataset (its schema caught up)")
	poll.Until(t, func() bool { return testnet.ConnectedTo(cn, "customs-kz") }, "connected")
	out := filepath.Join(t.TempDir(), "phyto.jsonl")
	res, err := cn.Services().Fetching.Fetch(context.Background(), api.FetchRequest{Manifest: sum.CID, Purpose: "phytosanitary-control", Out: out}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := devnet.PermittedCertificates(bytes.NewReader(phyto(t, "certificates.csv")), "CN", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got, err := devnet.FetchedCertificates(out)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) || res.Permitted != uint64(len(want)) || len(want) == 0 {
		t.Fatalf("customs-cn received %v (%+v); plant-health.cedar permits %v", got, res, want)
	}
}

// A new gateway whose policies read attributes that its registry does not
// hold yet starts with every fetch denied and says why; the bundle goes
// into force when the schemas arrive. A new minor version that narrows a
// field is refused naming the pointer; a new major version is accepted.
func TestPoliciesWaitForSchemasAndVersionsRise(t *testing.T) {
	c := testnet.NewCluster(t, 1)
	n := c.Start(0)
	st := n.Services().Admin.Status().Policy
	if st.Waiting == "" || !strings.Contains(st.Waiting, "attribute") {
		t.Fatalf("policies in force with no schema registered: %+v", st)
	}
	cl, err := api.NewClient(c.Dir(0))
	if err != nil {
		t.Fatal(err)
	}
	testnet.RegisterDemoSchemas(t, []*gateway.Gateway{n}, cl)
	if len(n.Policies().Policies()) == 0 {
		t.Fatal("the demo policies are not in force after the schemas arrived")
	}

	doc := phyto(t, "phytosanitary-certificate.json")
	if _, err := cl.RegisterSchema(context.Background(), api.SchemaRequest{}, doc); err != nil {
		t.Fatal(err)
	}
	narrowed := bytes.Replace(doc, []byte(`"maxItems": 20`), []byte(`"maxItems": 10`), 1)
	_, err = cl.RegisterSchema(context.Background(), api.SchemaRequest{Version: "1.1"}, narrowed)
	var se *api.StatusError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "/properties/items/maxItems") {
		t.Fatalf("a narrowing minor version: %v", err)
	}
	v2, err := cl.RegisterSchema(context.Background(), api.SchemaRequest{Version: "2.0"}, narrowed)
	if err != nil {
		t.Fatal(err)
	}
	if latest, err := n.Services().Registry.Schema("phytosanitary-certificate"); err != nil || latest.Version != v2.Version {
		t.Fatalf("the latest version is %+v (%v), want %s", latest, err, v2.Version)
	}
}

// 'policy explain' answered an empty body for any record with a date
// attribute: a Cedar datetime(...) literal was put where JSON belongs and
// the encoding error dropped. It now explains records with attributes of
// every type in Cedar's JSON form.
func TestExplainWorksForEveryAttributeType(t *testing.T) {
	c := testnet.NewCluster(t, 2)
	n := c.Start(1) // customs-kz
	cl, err := api.NewClient(c.Dir(1))
	if err != nil {
		t.Fatal(err)
	}
	testnet.RegisterDemoSchemas(t, []*gateway.Gateway{n}, cl)
	if _, err := cl.RegisterSchema(context.Background(), api.SchemaRequest{}, phyto(t, "phytosanitary-certificate.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Publish(context.Background(), api.PublishRequest{Dataset: "phyto", Schema: "phytosanitary-certificate",
		Format: "csv", Purposes: []string{"phytosanitary-control"}}, bytes.NewReader(phyto(t, "certificates.csv")), nil); err != nil {
		t.Fatal(err)
	}
	bundle := n.Policies().CID()
	writeFile(t, filepath.Join(policyDir(c, 1), "plant-health.cedar"), string(phyto(t, "plant-health.cedar")))
	poll.Until(t, func() bool { return n.Policies().CID() != bundle }, "plant-health.cedar in force")
	rec := `{"certificate_no":"PC-KZ-000001","issued_on":"2026-10-01","valid_until":"2020-01-01","exporting_country":"KZ",
		"destination_country":"CN","commodity_class":"fruit","pest_free":true,"treatments":["heat"],"exporter":{"name":"x"},
		"items":[{"hs_code":"080810","description":"apples","net_mass_kg":1}]}`
	res, err := cl.Explain(context.Background(), api.ExplainRequest{Org: "customs-cn", Dataset: "phyto", Purpose: "phytosanitary-control",
		Record: json.RawMessage(rec)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Decision != "deny" || len(res.Policies) != 1 || res.Policies[0].ID != "certificate-still-valid" {
		t.Fatalf("an expired certificate: %+v", res)
	}
	// The attributes the bundle reads, each in Cedar's JSON form.
	for _, a := range []string{"valid_until", "pest_free", "destination_country"} {
		if _, ok := res.Attributes[a]; !ok {
			t.Errorf("attribute %s missing from %v", a, res.Attributes)
		}
	}
}
