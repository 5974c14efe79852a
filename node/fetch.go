package node

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/internal/atomicfile"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing/fetch"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

type resumeState struct {
	Next uint64 `json:"next"`
}

// Fetch fetches a partner's dataset version for a purpose: the records the
// owner's policy permits, each verified against the signed manifest, then
// journals a receipt. An interrupted fetch resumes where it stopped when
// called again with the same manifest and purpose. progress, if set, gets
// the records received and permitted so far.
func (n *Node) Fetch(ctx context.Context, req api.FetchRequest, progress func(received, permitted uint64)) (sum *api.FetchSummary, err error) {
	began, provider := time.Now(), "" // the provider once a partner is asked
	defer func() {
		if provider == "" {
			return
		}
		result, received, bytes := "ok", uint64(0), uint64(0)
		switch {
		case err != nil:
			result = "failed"
		case sum.Permitted == 0 && sum.Withheld > 0:
			result = "denied"
		}
		if sum != nil {
			received, bytes = sum.Received, sum.Bytes
		}
		n.metrics.fetched(provider, result, received, bytes, time.Since(began))
	}()
	id, err := n.manifestRef(req.Manifest)
	if err != nil {
		return nil, err
	}
	if !manifest.ValidPurpose(req.Purpose) {
		return nil, api.FieldErrorf(http.StatusBadRequest, "purpose", "purpose %.80q: %s", req.Purpose, manifest.PurposeRule)
	}
	if req.Out != "" && !filepath.IsAbs(req.Out) {
		return nil, api.FieldErrorf(http.StatusBadRequest, "out", "out %q: must be an absolute path (the gateway writes it)", req.Out)
	}
	m, p, err := n.fetchTarget(id)
	if err != nil {
		return nil, err
	}
	schema, err := n.schemaOf(ctx, m, p)
	if err != nil {
		return nil, err
	}
	byIndex, byCID, err := fetch.ParseSelection(req.Select)
	if err != nil {
		return nil, fmt.Errorf("select: %w", err)
	}
	sel := fetch.NewSelection(byIndex, byCID)
	var out *os.File
	if req.Out != "" { // before anything is asked, so that a bad path costs nothing
		if out, err = createOut(req.Out); err != nil {
			return nil, api.FieldErrorf(http.StatusBadRequest, "out", "out: %v", err)
		}
		defer func() { out.Close(); os.Remove(out.Name()) }() // renamed away if written
	}
	// One fetch of a version, purpose and selection at a time: a second
	// would stage the same records and share the resume point.
	key := id.String() + "\x00" + req.Purpose + "\x00" + sel.Key()
	if _, busy := n.fetching.LoadOrStore(key, struct{}{}); busy {
		return nil, api.Errorf(http.StatusConflict, "a fetch of %s for %q with this selection is in progress on this gateway", id, req.Purpose)
	}
	defer n.fetching.Delete(key)
	resume := n.dir.Resume(id.String(), req.Purpose, sel.Key())
	var from uint64
	if data, err := os.ReadFile(resume); err == nil {
		var rs resumeState
		if json.Unmarshal(data, &rs) == nil {
			from = rs.Next
		}
	}
	provider = m.Publisher
	if progress != nil {
		progress(0, 0) // asking the partner now
	}
	c := &fetch.Client{Host: n.host, Key: n.signer, Org: n.cfg.Org, Store: n.store, VerifyCheckpoint: n.verifyReceiptCheckpoint}
	start := time.Now()
	res, err := c.Fetch(ctx, p, m, fetch.Options{Manifest: id, Purpose: req.Purpose, Select: byIndex, SelectCIDs: byCID, From: from, Progress: progress, Schema: schema})
	var te *fetch.TamperError
	switch {
	case errors.As(err, &te):
		path := n.saveTamperEvidence(id, p, te)
		n.log.Named("fetch").Error("fetched records failed verification; nothing of the response was kept",
			zap.String("manifest", id.String()), zap.Stringer("provider", p), zap.Error(err), zap.String("evidence", path))
		return nil, fmt.Errorf("%w (evidence: %s)", err, path)
	case err != nil:
		if res != nil && res.Next > from {
			data, _ := json.Marshal(resumeState{Next: res.Next})
			_ = os.MkdirAll(n.dir.Fetch(), 0o700)
			_ = atomicfile.Write(resume, data, 0o600)
			return nil, fmt.Errorf("%w; %d records are kept, and running the same fetch again resumes at record %d", err, res.Received, res.Next)
		}
		return nil, err
	}
	_ = os.Remove(resume)
	if err := n.saveReceipt(res); err != nil {
		return nil, fmt.Errorf("keeping the provider's receipt: %w", err)
	}
	decision := journal.Ref{Origin: res.Origin, Index: res.Index}
	idx, err := n.Append(ctx, &journal.Event{Type: journal.TypeReceipt, Provider: m.Publisher, Dataset: n.datasetName(id, m.Dataset),
		Manifest: id.String(), Purpose: req.Purpose, Permitted: res.Received, Denied: res.Denied,
		Commitment: res.ReceiptBody.Commitment, Request: res.Request, Decision: &decision})
	if err != nil {
		return nil, fmt.Errorf("journaling the receipt: %w", err)
	}
	sum = &api.FetchSummary{Manifest: id.String(), Provider: m.Publisher, Purpose: req.Purpose, Permitted: res.Permitted,
		Withheld: res.Denied, Received: res.Received, Bytes: res.Bytes, Took: time.Since(start), Resumed: from,
		Decision: decision, Receipt: idx, Bundle: res.Bundle, NotOffered: res.NotOffered, Offered: res.Offered}
	if req.Out != "" {
		if sum.Written, err = n.writeFetched(id, req.Purpose, sel, out, req.Out); err != nil {
			return sum, err
		}
		sum.Out = req.Out
	}
	return sum, nil
}

// fetchTarget finds a partner's manifest in the catalog and a connected
// node of its publisher.
func (n *Node) fetchTarget(id cid.Cid) (*manifest.Manifest, peer.ID, error) {
	st, ok := n.catalog.Statement(id)
	if !ok {
		return nil, "", fmt.Errorf("manifest %s is not in this gateway's catalog (see 'caravan catalog')", id)
	}
	m, err := st.Manifest()
	if err != nil {
		return nil, "", fmt.Errorf("%s is not a manifest: %w", id, err)
	}
	if m.Publisher == n.cfg.Org {
		return nil, "", fmt.Errorf("%s is this org's own dataset", id)
	}
	x := n.index.Load()
	if !x.HasOrg(m.Publisher) {
		return nil, "", fmt.Errorf("the publisher %s is not in the roster", m.Publisher)
	}
	p, ok := p2p.ConnectedPeer(n.host, x.NodesOf(m.Publisher))
	if !ok {
		return nil, "", fmt.Errorf("no node of %s is connected", m.Publisher)
	}
	return m, p, nil
}

// verifyReceiptCheckpoint checks the checkpoint a provider's receipt
// carries: a checkpoint of provider's journal (origin), signed by its log
// key in the roster in force, that covers the decision entry.
func (n *Node) verifyReceiptCheckpoint(provider, origin string, index uint64, raw []byte) error {
	r := n.Roster()
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

// schemaOf returns the schema a partner's manifest pins. If it has not
// reached the registry yet, it catches up with the provider's node p (its
// owner's gateway holds it) before it gives up.
func (n *Node) schemaOf(ctx context.Context, m *manifest.Manifest, p peer.ID) (*schemas.Schema, error) {
	s, err := n.schemaFor(m)
	if err == nil {
		return s, nil
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, cerr := n.gossip.CatchUp(cctx, p); cerr != nil {
		return nil, fmt.Errorf("%w (catching up with %s: %v)", err, m.Publisher, cerr)
	}
	return n.schemaFor(m)
}

// createOut creates the temporary file a fetch's records are written to,
// beside path: mode 0600, O_EXCL (so never through a link someone placed),
// renamed onto path once written.
func createOut(path string) (*os.File, error) {
	if st, err := os.Lstat(path); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s is a directory", path)
	}
	return os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
}

// writeFetched writes to f as JSONL, in order, the records held for a
// manifest and a purpose (all that were permitted for it, this time or
// before) that sel selects, then renames f onto path.
func (n *Node) writeFetched(id cid.Cid, purpose string, sel fetch.Selection, f *os.File, path string) (uint64, error) {
	w := bufio.NewWriterSize(f, 1<<20)
	var count uint64
	err := n.store.Fetched(id, purpose, func(i uint64, data []byte) error {
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
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return 0, err
	}
	return count, os.Rename(f.Name(), path)
}

// saveTamperEvidence keeps the frame that failed verification.
func (n *Node) saveTamperEvidence(id cid.Cid, p peer.ID, te *fetch.TamperError) string {
	dir := n.dir.Evidence()
	_ = os.MkdirAll(dir, 0o700)
	path := filepath.Join(dir, fmt.Sprintf("%s-%s-%d.frame", time.Now().UTC().Format("20060102T150405Z"), id, te.Begin))
	header := fmt.Sprintf("caravan fetch tamper evidence v1\nmanifest %s\nprovider %s\nrange %d %d\nerror %v\n\n", id, p, te.Begin, te.End, te.Err)
	_ = atomicfile.Write(path, append([]byte(header), te.Frame...), 0o600)
	return path
}

// saveReceipt keeps the provider's signed receipt and the commitment's salt
// in DIR/fetch/receipts/REQUEST.json: with them the requester can later show
// what it was given, and open the commitment the provider journaled.
func (n *Node) saveReceipt(res *fetch.Result) error {
	dir := n.dir.Receipts()
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

// manifestRef resolves what a fetch names: a manifest's CID, or
// OWNER/DATASET (the newest version the catalog lists) or
// OWNER/DATASET@VERSION.
func (n *Node) manifestRef(ref string) (cid.Cid, error) {
	if id, err := cid.Decode(ref); err == nil {
		return id, nil
	}
	owner, dataset, ok := strings.Cut(ref, "/")
	if !ok || owner == "" || dataset == "" {
		return cid.Undef, api.FieldErrorf(http.StatusBadRequest, "manifest", "%q is neither a manifest CID nor OWNER/DATASET[@VERSION] (see 'caravan catalog')", ref)
	}
	dataset, version, pinned := strings.Cut(dataset, "@")
	if !pinned {
		id, _, ok := n.catalog.Head(owner, dataset)
		if !ok {
			return cid.Undef, api.Errorf(http.StatusNotFound, "the catalog lists no dataset %s/%s (see 'caravan catalog')", owner, dataset)
		}
		return id, nil
	}
	v, err := strconv.ParseUint(version, 10, 64)
	if err != nil {
		return cid.Undef, api.FieldErrorf(http.StatusBadRequest, "manifest", "%q: the version after @ is a number, such as @2", ref)
	}
	for _, e := range n.catalog.Versions(owner, dataset) {
		if e.Manifest.Version == v {
			if e.Retracted {
				return cid.Undef, api.Errorf(http.StatusGone, "%s/%s@%d is retracted by its owner", owner, dataset, v)
			}
			return cid.Decode(e.CID)
		}
	}
	return cid.Undef, api.Errorf(http.StatusNotFound, "the catalog lists no version %d of %s/%s (see 'caravan catalog --all')", v, owner, dataset)
}

// Fetched writes, one a line in index order, the records this gateway
// received and verified of a dataset version (a CID or
// OWNER/DATASET[@VERSION]) for a purpose; it returns how many.
func (n *Node) Fetched(ctx context.Context, ref, purpose string, w io.Writer) (uint64, error) {
	id, err := n.manifestRef(ref)
	if err != nil {
		return 0, err
	}
	if !manifest.ValidPurpose(purpose) {
		return 0, api.FieldErrorf(http.StatusBadRequest, "purpose", "purpose %.80q: %s", purpose, manifest.PurposeRule)
	}
	var count uint64
	err = n.store.Fetched(id, purpose, func(_ uint64, data []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		count++
		if _, err := w.Write(data); err != nil {
			return err
		}
		_, err := w.Write([]byte{'\n'})
		return err
	})
	return count, err
}
