package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/internal/testnet"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/sharing/fetch"
	"github.com/ipfs/go-cid"
)

// The attack: a member the owner's discover policy excludes reads a
// restricted dataset's name, description and counts anyway, because every
// signed manifest reached every member (discover only filtered the owner's
// own 'catalog --as' view). Such a dataset is now announced by a sealed
// statement (owner, CID, time); the members the policy permits get the
// manifest from the owner, who journals the disclosure. The excluded
// member's gateway holds no manifest, no name in its catalog or journal
// mirrors, and the owner refuses it a fetch of the manifest's CID.
func TestRestrictedDatasetIsSealed(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	cn, kz, az := c.Start(0), c.Start(1), c.Start(2)
	cl, err := api.NewClient(c.Dir(0))
	if err != nil {
		t.Fatal(err)
	}
	testnet.RegisterDemoSchemas(t, []*gateway.Gateway{cn, kz, az}, cl)
	res, err := cl.Publish(context.Background(), api.PublishRequest{Dataset: "smuggling-probe-2026", Schema: "customs-declaration",
		Format: "jsonl", Labels: []string{"restricted-catalog"}, Purposes: []string{"risk-analysis"},
		Description: "open enforcement cases"}, bytes.NewReader(testkit.JSONL(t, "customs-declaration", 200, 4)), nil)
	if err != nil {
		t.Fatal(err)
	}
	listed := func(n *gateway.Gateway) bool {
		entries, _ := n.Services().Sharing.Catalog(api.CatalogQuery{All: true})
		for _, e := range entries {
			if e.Manifest.Dataset == "smuggling-probe-2026" {
				return true
			}
		}
		return false
	}
	poll.Until(t, func() bool { return listed(kz) }, "customs-kz (permitted) to list the dataset")
	poll.Until(t, func() bool {
		return az.Services().Admin.Status().Catalog.Digest == cn.Services().Admin.Status().Catalog.Digest && kz.Services().Admin.Status().Catalog.Digest == cn.Services().Admin.Status().Catalog.Digest
	}, "the three catalogs to converge")
	if listed(az) {
		t.Fatal("logistics-az lists a dataset its discover policy excludes")
	}
	if _, err := az.Services().Sharing.CatalogItem(res.CID); err == nil {
		t.Fatal("logistics-az holds the sealed manifest")
	}
	// customs-kz fetches it as usual.
	poll.Until(t, func() bool { return testnet.ConnectedTo(kz, "customs-cn") }, "connected")
	if _, err := kz.Services().Fetching.Fetch(context.Background(), api.FetchRequest{Manifest: res.CID, Purpose: "risk-analysis"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	// logistics-az, had it learned the manifest elsewhere, is refused a
	// fetch of its CID before anything is decided.
	f := &fetch.Client{Host: az.Host(), Key: c.NodeKey(2), Org: "logistics-az", Store: az.Store()}
	_, err = f.Fetch(context.Background(), cn.PeerID(), res.Manifest, fetch.Options{Manifest: cidOf(t, res.CID), Purpose: "risk-analysis"})
	var re *fetch.RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("logistics-az fetching the sealed manifest: %v", err)
	}
	// The owner journaled the sealed publish and the disclosure to
	// customs-kz, and no entry names the dataset.
	poll.Until(t, func() bool {
		var sealed, disclosed bool
		_, _ = datadir.FindEntry(context.Background(), c.Dir(0), "", func(e []byte) bool {
			ev, err := journal.Decode(e)
			if err != nil {
				return false
			}
			sealed = sealed || ev.Type == journal.TypeSealed && ev.Manifest == res.CID
			disclosed = disclosed || ev.Type == journal.TypeDisclose && ev.Requester == "customs-kz"
			if strings.Contains(string(e), "smuggling-probe-2026") {
				t.Errorf("journal entry names the sealed dataset: %s", e)
			}
			return false
		})
		return sealed && disclosed
	}, "the sealed publish and the disclosure in customs-cn's journal")
	// Nothing under logistics-az's directory names it: its catalog, store
	// and mirrors of the others' journals.
	_ = filepath.WalkDir(c.Dir(2), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if data, err := os.ReadFile(path); err == nil && bytes.Contains(data, []byte("smuggling-probe-2026")) {
			t.Errorf("%s names the sealed dataset", path)
		}
		return nil
	})
}

func cidOf(t *testing.T, s string) cid.Cid {
	t.Helper()
	c, err := cid.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
