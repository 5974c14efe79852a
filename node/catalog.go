package node

import (
	"context"
	"net/http"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/sharing/catalog"
)

// Catalog lists catalog entries; with q.As, only this org's datasets that
// org may discover under the policies in force. A dataset whose schema has
// not reached this gateway's registry yet is not listed until it has.
func (n *Node) Catalog(q api.CatalogQuery) ([]api.CatalogEntry, error) {
	list := n.listed(catalog.Filter{Org: q.Org, Schema: q.Schema, Label: q.Label, All: q.All})
	if q.As != "" {
		var err error
		if list, err = n.discoverable(q.As, list); err != nil {
			return nil, err
		}
	}
	out := make([]api.CatalogEntry, len(list))
	for i, e := range list {
		out[i] = entryOf(e)
	}
	return out, nil
}

// CatalogItem returns one statement by CID, with its entry.
func (n *Node) CatalogItem(text string) (*api.CatalogItem, error) {
	id, err := cid.Decode(text)
	if err != nil {
		return nil, api.Errorf(http.StatusBadRequest, "not a CID: %s", text)
	}
	st, ok := n.catalog.Statement(id)
	if !ok {
		return nil, api.Errorf(http.StatusNotFound, "the catalog holds no statement %s", id)
	}
	item := &api.CatalogItem{Statement: st.Marshal()}
	if e, ok := n.catalog.Entry(id); ok {
		ae := entryOf(e)
		item.Entry = &ae
	}
	return item, nil
}

// AwaitCatalogItem returns once the catalog holds the statement text
// names, or ctx's error if ctx ends first.
func (n *Node) AwaitCatalogItem(ctx context.Context, text string) error {
	id, err := cid.Decode(text)
	if err != nil {
		return api.Errorf(http.StatusBadRequest, "not a CID: %s", text)
	}
	return n.catalog.Await(ctx, id)
}

// Retract retracts one of this org's datasets.
func (n *Node) Retract(dataset, reason string) (*api.CatalogItem, error) {
	st, err := n.publisher.Retract(dataset, reason)
	if err != nil {
		return nil, err
	}
	return &api.CatalogItem{Statement: st.Marshal()}, nil
}

// listed is the catalog's list, less the manifests whose schema the
// registry lacks.
func (n *Node) listed(f catalog.Filter) []catalog.Entry {
	list := n.catalog.List(f)
	out := list[:0]
	for _, e := range list {
		if _, err := n.schemaFor(e.Manifest); err == nil {
			out = append(out, e)
		}
	}
	return out
}

func entryOf(e catalog.Entry) api.CatalogEntry {
	return api.CatalogEntry{CID: e.CID, Manifest: e.Manifest, Signer: e.Signer, Head: e.Head, Retracted: e.Retracted}
}

// DatasetVersions lists every version the catalog holds of owner's dataset
// name, oldest first, retracted ones included (marked).
func (n *Node) DatasetVersions(owner, name string) ([]api.CatalogEntry, error) {
	var out []api.CatalogEntry
	for _, e := range n.catalog.Versions(owner, name) {
		if _, err := n.schemaFor(e.Manifest); err == nil {
			out = append(out, entryOf(e))
		}
	}
	if len(out) == 0 {
		return nil, api.Errorf(http.StatusNotFound, "the catalog lists no dataset %s/%s", owner, name)
	}
	return out, nil
}
