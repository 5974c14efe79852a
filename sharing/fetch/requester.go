package fetch

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/internal/atomicfile"
	"github.com/caravan-consortium/caravan/journal/event"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// The requester's errors, beside those its Resolve port returns.
var (
	// ErrBadRequest: the request is malformed (a purpose, a selection, an
	// out path); a *RequestError names its field.
	ErrBadRequest = errors.New("bad fetch request")
	// ErrInProgress: a fetch of the same version, purpose and selection is in
	// progress on this gateway.
	ErrInProgress = errors.New("a fetch of this version, purpose and selection is in progress")
)

// RequestError is an ErrBadRequest about one field of the Order.
type RequestError struct {
	Field string // "purpose", "select" or "out"
	Err   error
}

func (e *RequestError) Error() string   { return e.Err.Error() }
func (e *RequestError) Unwrap() []error { return []error{ErrBadRequest, e.Err} }

// Order is a fetch this org makes of a partner's dataset version.
type Order struct {
	Manifest string // what Resolve resolves: a CID or OWNER/DATASET[@VERSION]
	Purpose  string
	Select   string // ParseSelection's form; empty: every record
	Out      string // an absolute path to write the received records to, as JSONL
}

// Target is what a Request names, as the Resolve port finds it: the
// manifest and a connected node of its publisher.
type Target struct {
	ID       cid.Cid
	Manifest *manifest.Manifest
	Peer     peer.ID
	// Nodes is how many nodes the provider's org has: a fetch that loses
	// one fails over to another only if there is another.
	Nodes int
}

// Summary is what a fetch did.
type Summary struct {
	Manifest   string
	Provider   string
	Purpose    string
	Permitted  uint64
	Withheld   uint64
	Received   uint64
	Bytes      uint64
	Took       time.Duration
	Resumed    uint64    // the record the last request started at: where the fetch resumed, after a failure or on another node
	Decision   event.Ref // the provider's decision entry
	Receipt    uint64    // this org's receipt entry
	Bundle     string
	Out        string
	Written    uint64
	NotOffered bool // the dataset does not offer the purpose
	Offered    []string
	// Nodes are the provider's nodes that served the fetch, in order: the
	// first asked, then each one it resumed through.
	Nodes []string
}

// RequesterConfig are a Requester's ports and places.
type RequesterConfig struct {
	Client *Client // asks the provider; its Store keeps what is received
	// ResumePath names the file that keeps the resume point of a fetch of
	// a manifest, purpose and selection (Selection.Key); Receipts holds the
	// providers' signed receipts; Evidence the frames that failed
	// verification.
	ResumePath         func(manifest, purpose, selection string) string
	Receipts, Evidence string
	// Resolve finds what a request names (the catalog, the roster and the
	// connections); its errors reach the caller as they are.
	Resolve func(ctx context.Context, ref string) (Target, error)
	// Schema is the schema t's manifest pins (the registry, catching up
	// with t.Peer if it has not reached it yet).
	Schema func(ctx context.Context, t Target) (*schemas.Schema, error)
	// Journal appends this org's receipt of res and returns its index.
	Journal func(ctx context.Context, t Target, purpose string, res *Result) (uint64, error)
	// Observe, if set, is told how each fetch that asked a partner ended:
	// "ok", "denied" or "failed".
	Observe func(provider, result string, received, bytes uint64, took time.Duration)
	Log     *zap.Logger
}

// Requester makes this org's fetches of partners' datasets: it checks a
// request, resolves it, asks the provider, verifies and keeps what comes
// back (Client), resumes an interrupted fetch where it stopped, keeps the
// receipt and any tamper evidence, journals its receipt, and writes the
// records out. One fetch of a version, purpose and selection runs at a
// time. Its jobs (jobs.go) are the fetches it ran since it started.
type Requester struct {
	cfg  RequesterConfig
	busy sync.Map // manifest, purpose and selection -> struct{}
	jobs jobs
}

// NewRequester returns a Requester over cfg.
func NewRequester(cfg RequesterConfig) *Requester {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	r := &Requester{cfg: cfg}
	r.jobs.base, r.jobs.stop = context.WithCancel(context.Background())
	return r
}

type resumeState struct {
	Next uint64 `json:"next"`
}

// Fetch fetches a partner's dataset version for a purpose: the records the
// owner's policy permits, each verified against the signed manifest, then
// journals a receipt. An interrupted fetch resumes where it stopped when
// called again with the same manifest, purpose and selection. progress, if
// set, gets the records received and permitted so far, first (0, 0) as the
// partner is asked.
func (r *Requester) Fetch(ctx context.Context, req Order, progress func(received, permitted uint64)) (sum *Summary, err error) {
	began, provider := time.Now(), "" // the provider once a partner is asked
	defer func() {
		if provider != "" && r.cfg.Observe != nil {
			r.cfg.Observe(provider, outcome(sum, err), sum.received(), sum.bytes(), time.Since(began))
		}
	}()
	if !manifest.ValidPurpose(req.Purpose) {
		return nil, &RequestError{"purpose", fmt.Errorf("purpose %.80q: %s", req.Purpose, manifest.PurposeRule)}
	}
	if req.Out != "" && !filepath.IsAbs(req.Out) {
		return nil, &RequestError{"out", fmt.Errorf("out %q: must be an absolute path (the gateway writes it)", req.Out)}
	}
	t, err := r.cfg.Resolve(ctx, req.Manifest)
	if err != nil {
		return nil, err
	}
	schema, err := r.cfg.Schema(ctx, t)
	if err != nil {
		return nil, err
	}
	byIndex, byCID, err := ParseSelection(req.Select)
	if err != nil {
		return nil, &RequestError{"select", fmt.Errorf("select: %w", err)}
	}
	sel := NewSelection(byIndex, byCID)
	var out *os.File
	if req.Out != "" { // before anything is asked, so that a bad path costs nothing
		if out, err = createOut(req.Out); err != nil {
			return nil, &RequestError{"out", fmt.Errorf("out: %w", err)}
		}
		defer func() { out.Close(); os.Remove(out.Name()) }() // renamed away if written
	}
	// One fetch of a version, purpose and selection at a time: a second
	// would stage the same records and share the resume point.
	key := t.ID.String() + "\x00" + req.Purpose + "\x00" + sel.Key()
	if _, busy := r.busy.LoadOrStore(key, struct{}{}); busy {
		return nil, fmt.Errorf("%w: %s for %q, on this gateway", ErrInProgress, t.ID, req.Purpose)
	}
	defer r.busy.Delete(key)
	resume := r.cfg.ResumePath(t.ID.String(), req.Purpose, sel.Key())
	from := readResume(resume)
	provider = t.Manifest.Publisher
	if progress != nil {
		progress(0, 0) // asking the partner now
	}
	start := time.Now()
	res, last, served, err := r.ask(ctx, &t, req.Manifest, resume, Options{Manifest: t.ID, Purpose: req.Purpose, Select: byIndex,
		SelectCIDs: byCID, From: from, Progress: progress, Schema: schema})
	if err != nil {
		return nil, r.failed(t, resume, last, res, err)
	}
	_ = os.Remove(resume)
	if err := r.saveReceipt(res); err != nil {
		return nil, fmt.Errorf("keeping the provider's receipt: %w", err)
	}
	idx, err := r.cfg.Journal(ctx, t, req.Purpose, res)
	if err != nil {
		return nil, fmt.Errorf("journaling the receipt: %w", err)
	}
	sum = &Summary{Manifest: t.ID.String(), Provider: provider, Purpose: req.Purpose, Permitted: res.Permitted,
		Withheld: res.Denied, Received: res.Received, Bytes: res.Bytes, Took: time.Since(start), Resumed: last,
		Decision: event.Ref{Origin: res.Origin, Index: res.Index}, Receipt: idx, Bundle: res.Bundle,
		NotOffered: res.NotOffered, Offered: res.Offered, Nodes: served}
	if req.Out != "" {
		if sum.Written, err = r.writeOut(t.ID, req.Purpose, sel, out, req.Out); err != nil {
			return sum, err
		}
		sum.Out = req.Out
	}
	return sum, nil
}

// failed keeps what a failed fetch leaves: the tamper evidence of a
// response that failed verification (nothing of it is kept), or the resume
// point of one that broke after verified chunks.
func (r *Requester) failed(t Target, resume string, from uint64, res *Result, err error) error {
	var te *TamperError
	if errors.As(err, &te) {
		path := r.saveTamperEvidence(t, te)
		r.cfg.Log.Error("fetched records failed verification; nothing of the response was kept",
			zap.Stringer("manifest", t.ID), zap.Stringer("provider", t.Peer), zap.Error(err), zap.String("evidence", path))
		return fmt.Errorf("%w (evidence: %s)", err, path)
	}
	if res != nil && res.Next > from {
		data, _ := json.Marshal(resumeState{Next: res.Next})
		_ = os.MkdirAll(filepath.Dir(resume), 0o700)
		_ = atomicfile.Write(resume, data, 0o600)
		return fmt.Errorf("%w; %d records are kept, and running the same fetch again resumes at record %d", err, res.Received, res.Next)
	}
	return err
}

func outcome(sum *Summary, err error) string {
	switch {
	case err != nil:
		return "failed"
	case sum.Permitted == 0 && sum.Withheld > 0:
		return "denied"
	}
	return "ok"
}

func (s *Summary) received() uint64 {
	if s == nil {
		return 0
	}
	return s.Received
}

func (s *Summary) bytes() uint64 {
	if s == nil {
		return 0
	}
	return s.Bytes
}

func readResume(path string) uint64 {
	var rs resumeState
	if data, err := os.ReadFile(path); err == nil && json.Unmarshal(data, &rs) == nil {
		return rs.Next
	}
	return 0
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

// writeOut writes to f as JSONL, in order, the records held for a manifest
// and a purpose (all that were permitted for it, this time or before) that
// sel selects, then renames f onto path.
func (r *Requester) writeOut(id cid.Cid, purpose string, sel Selection, f *os.File, path string) (uint64, error) {
	w := bufio.NewWriterSize(f, 1<<20)
	var count uint64
	err := r.cfg.Client.Store.Fetched(id, purpose, func(i uint64, data []byte) error {
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
func (r *Requester) saveTamperEvidence(t Target, te *TamperError) string {
	_ = os.MkdirAll(r.cfg.Evidence, 0o700)
	path := filepath.Join(r.cfg.Evidence, fmt.Sprintf("%s-%s-%d.frame", time.Now().UTC().Format("20060102T150405Z"), t.ID, te.Begin))
	header := fmt.Sprintf("caravan fetch tamper evidence v1\nmanifest %s\nprovider %s\nrange %d %d\nerror %v\n\n", t.ID, t.Peer, te.Begin, te.End, te.Err)
	_ = atomicfile.Write(path, append([]byte(header), te.Frame...), 0o600)
	return path
}

// saveReceipt keeps the provider's signed receipt and the commitment's
// salt in Receipts/REQUEST.json: with them the requester can later show
// what it was given, and open the commitment the provider journaled.
func (r *Requester) saveReceipt(res *Result) error {
	if err := os.MkdirAll(r.cfg.Receipts, 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(struct {
		Receipt json.RawMessage `json:"receipt"`
		Salt    string          `json:"salt"`
	}{res.Receipt.Marshal(), res.Salt}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(r.cfg.Receipts, res.Request+".json"), data, 0o600)
}
