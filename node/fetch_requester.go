package node

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/internal/atomicfile"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/sharing"
)

// FetchDir holds resume state and tamper evidence of fetches.
const FetchDir = "fetch"

// FetchOptions are the parameters of Node.Fetch.
type FetchOptions struct {
	Manifest string   `json:"manifest"`
	Purpose  string   `json:"purpose"`
	Select   []uint64 `json:"select,omitempty"`
	// SelectCIDs are records wanted by CID (with Select: their union).
	SelectCIDs []string `json:"select_cids,omitempty"`
	Out        string   `json:"out,omitempty"` // write the received records as JSONL here
	// Progress, if set, gets the records received and permitted so far.
	Progress func(received, permitted uint64) `json:"-"`
}

// FetchSummary is what a fetch did.
type FetchSummary struct {
	Manifest  string        `json:"manifest"`
	Provider  string        `json:"provider"`
	Purpose   string        `json:"purpose"`
	Permitted uint64        `json:"permitted"`
	Withheld  uint64        `json:"withheld"`
	Received  uint64        `json:"received"`
	Bytes     uint64        `json:"bytes"`
	Took      time.Duration `json:"took"`
	Resumed   uint64        `json:"resumed_from,omitempty"`
	Decision  journal.Ref   `json:"decision"` // the provider's decision entry
	Receipt   uint64        `json:"receipt"`  // our receipt entry
	Bundle    string        `json:"bundle"`
	Out       string        `json:"out,omitempty"`
	Written   uint64        `json:"written,omitempty"`
	// NotOffered: the dataset does not offer the purpose, so everything was denied.
	NotOffered bool     `json:"not_offered,omitempty"`
	Offered    []string `json:"offered,omitempty"`
}

type resumeState struct {
	Next uint64 `json:"next"`
}

func (n *Node) resumePath(manifest, purpose string) string {
	return filepath.Join(n.dir, FetchDir, manifest+"."+purpose+".resume")
}

// Fetch fetches a partner's dataset version for a purpose: the records the
// owner's policy permits, each verified against the signed manifest, then
// journals a receipt. An interrupted fetch resumes where it stopped when
// called again with the same manifest and purpose.
func (n *Node) Fetch(ctx context.Context, o FetchOptions) (*FetchSummary, error) {
	id, err := cid.Decode(o.Manifest)
	if err != nil {
		return nil, fmt.Errorf("manifest %q is not a CID (see 'caravan catalog'): %w", o.Manifest, err)
	}
	st, ok := n.sharing.Catalog.Statement(id)
	if !ok {
		return nil, fmt.Errorf("manifest %s is not in this gateway's catalog (see 'caravan catalog')", id)
	}
	m, err := st.Manifest()
	if err != nil {
		return nil, fmt.Errorf("%s is not a manifest: %w", id, err)
	}
	if m.Publisher == n.cfg.Org {
		return nil, fmt.Errorf("%s is this org's own dataset", id)
	}
	p, err := n.providerNode(m.Publisher)
	if err != nil {
		return nil, err
	}
	var from uint64
	if data, err := os.ReadFile(n.resumePath(id.String(), o.Purpose)); err == nil {
		var rs resumeState
		if json.Unmarshal(data, &rs) == nil {
			from = rs.Next
		}
	}
	f := &sharing.Fetcher{Host: n.host, Key: n.key, Org: n.cfg.Org, Store: n.store}
	start := time.Now()
	var byCID []cid.Cid
	for k, text := range o.SelectCIDs {
		c, err := cid.Decode(text)
		if err != nil {
			return nil, fmt.Errorf("select: %q (CID %d) is not a CID: %w", text, k+1, err)
		}
		byCID = append(byCID, c)
	}
	res, err := f.Fetch(ctx, p, m, sharing.FetchOptions{Manifest: id, Purpose: o.Purpose, Select: o.Select, SelectCIDs: byCID, From: from, Progress: o.Progress})
	var te *sharing.TamperError
	switch {
	case errors.As(err, &te):
		path := n.saveTamperEvidence(id, p, te)
		n.log.Named("fetch").Error("fetched records failed verification; nothing of the response was kept",
			zap.String("manifest", id.String()), zap.Stringer("provider", p), zap.Error(err), zap.String("evidence", path))
		return nil, fmt.Errorf("%w (evidence: %s)", err, path)
	case err != nil:
		if res != nil && res.Next > from {
			data, _ := json.Marshal(resumeState{Next: res.Next})
			_ = os.MkdirAll(filepath.Join(n.dir, FetchDir), 0o700)
			_ = atomicfile.Write(n.resumePath(id.String(), o.Purpose), data, 0o600)
			return nil, fmt.Errorf("%w; %d records are kept, and running the same fetch again resumes at record %d", err, res.Received, res.Next)
		}
		return nil, err
	}
	_ = os.Remove(n.resumePath(id.String(), o.Purpose))
	if err := n.saveReceipt(res); err != nil {
		return nil, fmt.Errorf("keeping the provider's receipt: %w", err)
	}
	idx, err := n.Append(ctx, &journal.Event{Type: journal.TypeReceipt, Provider: m.Publisher, Dataset: m.Dataset,
		Manifest: id.String(), Purpose: o.Purpose, Permitted: res.Received, Denied: res.Denied,
		Commitment: res.ReceiptBody.Commitment, Request: res.Request, Decision: &journal.Ref{Origin: res.Origin, Index: res.Index}})
	if err != nil {
		return nil, fmt.Errorf("journaling the receipt: %w", err)
	}
	sum := &FetchSummary{Manifest: id.String(), Provider: m.Publisher, Purpose: o.Purpose, Permitted: res.Permitted,
		Withheld: res.Denied, Received: res.Received, Bytes: res.Bytes, Took: time.Since(start), Resumed: from,
		Decision: journal.Ref{Origin: res.Origin, Index: res.Index}, Receipt: idx, Bundle: res.Bundle,
		NotOffered: res.NotOffered, Offered: res.Offered}
	if o.Out != "" {
		if sum.Written, err = n.writeFetched(id, o.Purpose, o.Select, byCID, o.Out); err != nil {
			return sum, err
		}
		sum.Out = o.Out
	}
	return sum, nil
}

// providerNode picks a connected node of the publisher.
func (n *Node) providerNode(org string) (peer.ID, error) {
	m := n.roster.Load().Member(org)
	if m == nil {
		return "", fmt.Errorf("the publisher %s is not in the roster", org)
	}
	for _, nd := range m.Nodes {
		if p, err := peer.Decode(nd.PeerID); err == nil && n.host.Network().Connectedness(p) == network.Connected {
			return p, nil
		}
	}
	return "", fmt.Errorf("no node of %s is connected", org)
}

// writeFetched writes as JSONL, in order, the records held for a manifest
// and a purpose (all that were permitted for it, this time or before), or
// with a selection those selected by index or CID.
func (n *Node) writeFetched(id cid.Cid, purpose string, byIndex []uint64, byCID []cid.Cid, path string) (uint64, error) {
	sel := sharing.NewSelection(byIndex, byCID)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var count uint64
	err = n.store.Fetched(id, purpose, func(i uint64, data []byte) error {
		if !sel.WantsRecord(i, data) {
			return nil
		}
		count++
		if _, err := w.Write(data); err != nil {
			return err
		}
		return w.WriteByte('\n')
	})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	return count, os.Rename(tmp, path)
}

// saveTamperEvidence keeps the frame that failed verification.
func (n *Node) saveTamperEvidence(id cid.Cid, p peer.ID, te *sharing.TamperError) string {
	dir := filepath.Join(n.dir, FetchDir, "evidence")
	_ = os.MkdirAll(dir, 0o700)
	path := filepath.Join(dir, fmt.Sprintf("%s-%s-%d.frame", time.Now().UTC().Format("20060102T150405Z"), id, te.Begin))
	header := fmt.Sprintf("caravan fetch tamper evidence v1\nmanifest %s\nprovider %s\nrange %d %d\nerror %v\n\n", id, p, te.Begin, te.End, te.Err)
	_ = atomicfile.Write(path, append([]byte(header), te.Frame...), 0o600)
	return path
}

// saveReceipt keeps the provider's signed receipt and the commitment's salt
// in DIR/fetch/receipts/REQUEST.json: with them the requester can later show
// what it was given, and open the commitment the provider journaled.
func (n *Node) saveReceipt(res *sharing.FetchResult) error {
	dir := filepath.Join(n.dir, FetchDir, "receipts")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(struct {
		Receipt json.RawMessage `json:"receipt"`
		Salt    string          `json:"salt"`
	}{res.Receipt.Marshal(), res.Salt}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, res.Request+".json"), data, 0o600)
}
