package gateway

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/gateway/roster"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing/catalog"
	"github.com/caravan-consortium/caravan/sharing/fetch"
)

// fetchPorts are what the Requester asks of the gateway: which manifest
// and node a request names, the schema a manifest pins, the journal's
// receipt, and the roster's keys for a receipt's checkpoint.
type fetchPorts struct {
	org      string
	host     host.Host
	catalog  *catalog.Catalog
	gossip   *catalog.Service
	registry *schemas.Registry
	roster   *roster.Keeper
	journal  *journaler
	turn     atomic.Uint64 // the next fetch's turn among a partner's nodes
}

// resolve finds a partner's manifest in the catalog and a connected node
// of its publisher.
func (p *fetchPorts) resolve(_ context.Context, ref string) (fetch.Target, error) {
	id, err := manifestRef(p.catalog, ref)
	if err != nil {
		return fetch.Target{}, err
	}
	st, ok := p.catalog.Statement(id)
	if !ok {
		return fetch.Target{}, fmt.Errorf("manifest %s is not in this gateway's catalog (see 'caravan catalog')", id)
	}
	m, err := st.Manifest()
	if err != nil {
		return fetch.Target{}, fmt.Errorf("%s is not a manifest: %w", id, err)
	}
	if m.Publisher == p.org {
		return fetch.Target{}, fmt.Errorf("%s is this org's own dataset", id)
	}
	x := p.roster.Index()
	if !x.HasOrg(m.Publisher) {
		return fetch.Target{}, fmt.Errorf("the publisher %s is not in the roster", m.Publisher)
	}
	// Fetches are spread across the org's connected nodes, in turn.
	nodes := p2p.ConnectedPeers(p.host, x.NodesOf(m.Publisher))
	if len(nodes) == 0 {
		return fetch.Target{}, fmt.Errorf("no node of %s is connected", m.Publisher)
	}
	node := nodes[p.turn.Add(1)%uint64(len(nodes))]
	return fetch.Target{ID: id, Manifest: m, Peer: node, Nodes: len(x.NodesOf(m.Publisher))}, nil
}

// schema returns the schema a partner's manifest pins. If it has not
// reached the registry yet, it catches up with the provider's node (its
// owner's gateway holds it) before it gives up.
func (p *fetchPorts) schema(ctx context.Context, t fetch.Target) (*schemas.Schema, error) {
	s, err := schemaFor(p.registry, t.Manifest)
	if err == nil {
		return s, nil
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, cerr := p.gossip.CatchUp(cctx, t.Peer); cerr != nil {
		return nil, fmt.Errorf("%w (catching up with %s: %v)", err, t.Manifest.Publisher, cerr)
	}
	return schemaFor(p.registry, t.Manifest)
}

// receipt journals this org's receipt of a fetch.
func (p *fetchPorts) receipt(ctx context.Context, t fetch.Target, purpose string, res *fetch.Result) (uint64, error) {
	decision := journal.Ref{Origin: res.Origin, Index: res.Index}
	return p.journal.Append(ctx, &journal.Event{Type: journal.TypeReceipt, Provider: t.Manifest.Publisher,
		Dataset: datasetName(p.catalog, t.ID, t.Manifest.Dataset), Manifest: t.ID.String(), Purpose: purpose,
		Permitted: res.Received, Denied: res.Denied, Commitment: res.ReceiptBody.Commitment, Request: res.Request, Decision: &decision})
}

// verifyReceiptCheckpoint checks the checkpoint a provider's receipt
// carries: a checkpoint of provider's journal (origin), signed by its log
// key in the roster in force, that covers the decision entry.
func (p *fetchPorts) verifyReceiptCheckpoint(provider, origin string, index uint64, raw []byte) error {
	r := p.roster.Index().Members()
	t, err := journal.TrustOf(r.Consortium, r)
	if err != nil {
		return err
	}
	got, _, _, err := t.Check(raw)
	if err != nil {
		return err
	}
	if lk, _ := t.Log(got); got != origin || lk.Org != provider {
		return fmt.Errorf("a checkpoint of %s, not of %s's journal %s", got, provider, origin)
	}
	cp, err := journal.ParseCheckpoint(raw)
	if err != nil {
		return err
	}
	if cp.Size <= index {
		return fmt.Errorf("of size %d, which does not cover entry %d", cp.Size, index)
	}
	return nil
}

// manifestRef resolves what a fetch names: a manifest's CID, or
// OWNER/DATASET (the newest version the catalog lists) or
// OWNER/DATASET@VERSION.
func manifestRef(cat *catalog.Catalog, ref string) (cid.Cid, error) {
	if id, err := cid.Decode(ref); err == nil {
		return id, nil
	}
	owner, dataset, ok := strings.Cut(ref, "/")
	if !ok || owner == "" || dataset == "" {
		return cid.Undef, api.FieldErrorf(api.ErrInvalid, "manifest", "%q is neither a manifest CID nor OWNER/DATASET[@VERSION] (see 'caravan catalog')", ref)
	}
	dataset, version, pinned := strings.Cut(dataset, "@")
	if !pinned {
		id, _, ok := cat.Head(owner, dataset)
		if !ok {
			return cid.Undef, api.Errorf(api.ErrNotFound, "the catalog lists no dataset %s/%s (see 'caravan catalog')", owner, dataset)
		}
		return id, nil
	}
	v, err := strconv.ParseUint(version, 10, 64)
	if err != nil {
		return cid.Undef, api.FieldErrorf(api.ErrInvalid, "manifest", "%q: the version after @ is a number, such as @2", ref)
	}
	for _, e := range cat.Versions(owner, dataset) {
		if e.Manifest.Version == v {
			if e.Retracted {
				return cid.Undef, api.Errorf(api.ErrGone, "%s/%s@%d is retracted by its owner", owner, dataset, v)
			}
			return cid.Decode(e.CID)
		}
	}
	return cid.Undef, api.Errorf(api.ErrNotFound, "the catalog lists no version %d of %s/%s (see 'caravan catalog --all')", v, owner, dataset)
}
