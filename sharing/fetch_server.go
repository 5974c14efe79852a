package sharing

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/p2p"
)

// FetchAuthorizer decides and journals fetches for the provider. The node
// implements it with the policy engine and the journal; sharing imports
// neither.
type FetchAuthorizer interface {
	// Authorize starts deciding one request from org for manifest m.
	Authorize(ctx context.Context, req *FetchRequest, org string, m *Manifest) (FetchDecider, error)
}

// FetchDecider decides the records of one request.
type FetchDecider interface {
	// Decide appends one decision per record (true: permit) to out.
	Decide(recs []FetchRecord, out []bool) ([]bool, error)
	// Commit journals the decision and returns once it is durable: the
	// journal's origin, the entry's index and the policy bundle CID.
	Commit(ctx context.Context, d Decision) (origin string, index uint64, bundle string, err error)
	// Checkpoint returns a signed checkpoint of the journal that covers
	// entry index, or "" if there is none.
	Checkpoint(ctx context.Context, index uint64) string
}

// FetchRecord is a record as the provider decides it.
type FetchRecord struct {
	Index uint64
	CID   cid.Cid
	// Data is the canonical JSON object of the record's policy attributes
	// (stored at publish time), or the whole record for datasets stored
	// before that: either way, the policy attributes are its top-level
	// members.
	Data []byte
}

// Decision is what a provider journals about one request.
type Decision struct {
	Requester, Dataset, Manifest, Purpose string
	Permitted, Denied                     uint64
	Commitment                            string // hex SHA-256(salt || permitted CIDs in order)
	Request                               string // hex SHA-256 of the signed request
	NotOffered                            bool   // the purpose is not offered: nothing was decided
}

// FetchConfig configures a FetchServer.
type FetchConfig struct {
	Host       host.Host
	Store      *Store
	Catalog    *Catalog
	Members    Members
	Key        crypto.PrivKey
	Org        string
	Authorizer FetchAuthorizer
	Log        *zap.Logger
	// MaxPerPeer bounds concurrent fetches from one peer (default 2).
	MaxPerPeer int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// FetchServer answers /caravan/fetch/1.0.0 for this org's datasets.
type FetchServer struct {
	cfg    FetchConfig
	mu     sync.Mutex
	active map[peer.ID]int
	closed bool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // running handlers
}

// Memory bounds of a response.
const (
	fetchWriteBuffer = 256 << 10
	maxChunkBytes    = 1 << 20 // record bytes per chunk
)

// Errors a requester sees in an error frame, and the server's log.
var (
	ErrReplay      = errors.New("request replayed: its nonce was already used")
	ErrStale       = errors.New("request time outside the accepted window")
	ErrNotMember   = errors.New("requester is not a member node of the org it claims")
	ErrBusy        = errors.New("too many concurrent fetches from this peer")
	ErrNotProvider = errors.New("this gateway does not publish that manifest")
)

// NewFetchServer registers the fetch protocol handler on cfg.Host.
func NewFetchServer(cfg FetchConfig) *FetchServer {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.MaxPerPeer <= 0 {
		cfg.MaxPerPeer = 2
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	fs := &FetchServer{cfg: cfg, active: map[peer.ID]int{}}
	fs.ctx, fs.cancel = context.WithCancel(context.Background())
	// Nonces outlive their window by FetchSkew; older ones can go.
	if n, err := cfg.Store.PurgeNonces(cfg.Now()); err != nil {
		cfg.Log.Warn("purging expired fetch nonces", zap.Error(err))
	} else if n > 0 {
		cfg.Log.Debug("purged expired fetch nonces", zap.Int("count", n))
	}
	cfg.Host.SetStreamHandler(FetchProtocol, fs.serve)
	return fs
}

// Close removes the handler, resets the streams being answered and waits
// for their handlers to return, so that the store can close after it. It
// may be called more than once.
func (fs *FetchServer) Close() {
	fs.cfg.Host.RemoveStreamHandler(FetchProtocol)
	fs.mu.Lock()
	fs.closed = true
	fs.mu.Unlock()
	fs.cancel()
	fs.wg.Wait()
}

// enter registers a running handler, unless the server is closed.
func (fs *FetchServer) enter() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.closed {
		return false
	}
	fs.wg.Add(1)
	return true
}

func (fs *FetchServer) acquire(p peer.ID) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.active[p] >= fs.cfg.MaxPerPeer {
		return false
	}
	fs.active[p]++
	return true
}

func (fs *FetchServer) release(p peer.ID) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.active[p]--; fs.active[p] <= 0 {
		delete(fs.active, p)
	}
}

func (fs *FetchServer) serve(str network.Stream) {
	if !fs.enter() {
		str.Reset()
		return
	}
	defer fs.wg.Done()
	remote := str.Conn().RemotePeer()
	log := fs.cfg.Log.With(zap.Stringer("peer", remote))
	if !fs.acquire(remote) {
		writeFetchError(str, ErrBusy)
		str.Close()
		return
	}
	defer fs.release(remote)
	// What a response holds at once: the write buffer and one chunk.
	const reserve = fetchWriteBuffer + maxChunkBytes + 64<<10
	if err := str.Scope().ReserveMemory(reserve, network.ReservationPriorityLow); err != nil {
		writeFetchError(str, fmt.Errorf("resources: %w", err))
		str.Close()
		return
	}
	defer str.Scope().ReleaseMemory(reserve)
	ctx, cancel := context.WithTimeout(fs.ctx, 30*time.Minute)
	defer cancel()
	// Closing the server (or the deadline) resets the stream, which ends
	// the answer at its next read or write.
	stop := context.AfterFunc(ctx, func() { str.Reset() })
	defer stop()
	err := fs.answer(ctx, str)
	var refusal *fetchRefusal
	switch {
	case err == nil:
		str.Close()
	case errors.As(err, &refusal):
		log.Info("fetch refused", zap.Error(err))
		writeFetchError(str, err)
		str.Close()
	default:
		log.Warn("fetch failed", zap.Error(err))
		str.Reset()
	}
}

// fetchRefusal is a refusal the requester is told about.
type fetchRefusal struct{ err error }

func (r *fetchRefusal) Error() string { return r.err.Error() }
func (r *fetchRefusal) Unwrap() error { return r.err }

func refuse(format string, args ...any) error { return &fetchRefusal{fmt.Errorf(format, args...)} }

func writeFetchError(str network.Stream, err error) {
	_ = str.SetWriteDeadline(time.Now().Add(5 * time.Second))
	b, _ := json.Marshal(map[string]string{"error": err.Error()})
	_ = p2p.WriteFrame(str, append([]byte{frameError}, b...))
}

// answer checks a request, decides, journals, streams and signs a receipt.
func (fs *FetchServer) answer(ctx context.Context, str network.Stream) error {
	remote := str.Conn().RemotePeer()
	_ = str.SetReadDeadline(time.Now().Add(10 * time.Second))
	raw, err := p2p.ReadFrame(bufio.NewReader(str), MaxFetchRequest)
	if err != nil {
		return refuse("reading the request: %w", err)
	}
	req, reqHash, err := fs.checkRequest(raw, remote)
	if err != nil {
		return err
	}
	id, err := cid.Decode(req.Manifest)
	if err != nil {
		return refuse("manifest %q: %w", req.Manifest, err)
	}
	sel, err := newSelection(req)
	if err != nil {
		return refuse("%v", err)
	}
	st, ok := fs.cfg.Catalog.Statement(id)
	if !ok {
		return refuse("%w: %s", ErrNotProvider, id)
	}
	m, err := st.Manifest()
	if err != nil || m.Publisher != fs.cfg.Org {
		return refuse("%w: %s", ErrNotProvider, id)
	}
	dec, err := fs.cfg.Authorizer.Authorize(ctx, req, req.Org, m)
	if err != nil {
		return refuse("%v", err)
	}
	offered := slices.Contains(m.Purposes, req.Purpose)

	// First pass: decide the selected records, and grow the record tree
	// (for the proofs) from every record's CID. One goroutine reads, one
	// grows the tree, this one decides.
	permitted := newBitmap(m.Records)
	var nPermitted, nDenied uint64
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	commit := sha256.New()
	commit.Write(salt)
	tree := newLeafTree(m.Records)
	leafc := make(chan []cid.Cid, 4)
	grown := make(chan struct{})
	go func() {
		defer close(grown)
		for cids := range leafc {
			for _, c := range cids {
				tree.addLeaf(c)
			}
		}
	}()
	var verdicts []bool
	err = pipeline(2, func(send func([]FetchRecord) error) error {
		defer close(leafc)
		var batch []FetchRecord
		var arena []byte // the batch's record bytes; a new one per batch
		var cids []cid.Cid
		flush := func() error {
			if len(cids) > 0 {
				leafc <- cids
				cids = nil
			}
			if len(batch) == 0 {
				return nil
			}
			err := send(batch)
			batch, arena = nil, make([]byte, 0, len(arena))
			return err
		}
		take := func(i uint64, c cid.Cid, data []byte) error {
			if cids == nil {
				cids = make([]cid.Cid, 0, 4096)
			}
			if cids = append(cids, c); len(cids) == cap(cids) {
				leafc <- cids
				cids = nil
			}
			if sel.wants(i, c) {
				// The iterator reuses data: the batch keeps a copy.
				start := len(arena)
				arena = append(arena, data...)
				batch = append(batch, FetchRecord{Index: i, CID: c, Data: arena[start:len(arena):len(arena)]})
				if len(batch) == 4096 {
					return flush()
				}
			}
			return nil
		}
		// The attribute projections stored at publish time are enough to
		// decide; datasets stored before them are read whole.
		err := fs.cfg.Store.Attributes(id, take)
		if errors.Is(err, ErrNoAttributes) {
			err = fs.cfg.Store.Records(id, func(i uint64, data []byte) error { return take(i, recordCID(data), data) })
		}
		if err != nil {
			return err
		}
		return flush()
	}, func(batch []FetchRecord) error {
		if offered {
			var err error
			if verdicts, err = dec.Decide(batch, verdicts[:0]); err != nil {
				return err
			}
		} else {
			verdicts = append(verdicts[:0], make([]bool, len(batch))...)
		}
		for i, ok := range verdicts {
			if ok {
				permitted.set(batch[i].Index)
				commit.Write(batch[i].CID.Bytes())
				nPermitted++
			} else {
				nDenied++
			}
		}
		return nil
	})
	<-grown
	if err != nil {
		return fmt.Errorf("deciding: %w", err)
	}
	if n := tree.size(); n != m.Records {
		return fmt.Errorf("the store holds %d records of %s, the manifest says %d", n, id, m.Records)
	}
	// The first chunks are read and encoded while the decision is
	// journaled; none is written before it is durable.
	var chunks *pipe[[]byte]
	frames := make(framePool, 8) // written frames go back to be reused
	if nPermitted > 0 {
		chunks = startPipe(4, func(send func([]byte) error) error {
			return fs.stream(id, m, tree, permitted, frames, send)
		})
		defer chunks.cancel()
	}
	commitment := hex.EncodeToString(commit.Sum(nil))
	if err := fs.cfg.Store.PutSalt(reqHash, salt); err != nil {
		return err
	}
	origin, index, bundle, err := dec.Commit(ctx, Decision{Requester: req.Org, Dataset: m.Dataset, Manifest: id.String(),
		Purpose: req.Purpose, Permitted: nPermitted, Denied: nDenied, Commitment: commitment, Request: reqHash, NotOffered: !offered})
	if err != nil {
		return fmt.Errorf("journaling the decision: %w", err)
	}

	// The receipt carries a checkpoint covering the decision entry: get it
	// while the records stream.
	cpc := make(chan string, 1)
	go func() { cpc <- dec.Checkpoint(ctx, index) }()
	w := bufio.NewWriterSize(str, fetchWriteBuffer)
	write := func(frame []byte) error {
		_ = str.SetWriteDeadline(time.Now().Add(30 * time.Second))
		return p2p.WriteFrame(w, frame)
	}
	h := fetchHeader{Permitted: nPermitted, Denied: nDenied, Size: m.Records, Decision: origin, Index: index, Bundle: bundle}
	if !offered {
		h.NotOffered, h.Offered = true, m.Purposes
	}
	hdr, _ := json.Marshal(h)
	if err := write(append([]byte{frameHeader}, hdr...)); err != nil {
		return err
	}
	if chunks != nil {
		// One goroutine reads and encodes chunks while this one writes (and
		// so encrypts) them.
		if err := chunks.drain(func(frame []byte) error {
			err := write(frame)
			frames.put(frame)
			return err
		}); err != nil {
			return err
		}
	}
	rc := FetchReceipt{Type: TypeFetchReceipt, Request: reqHash, Manifest: id.String(), Provider: fs.cfg.Org,
		Requester: req.Org, Purpose: req.Purpose, Permitted: nPermitted, Denied: nDenied, Commitment: commitment,
		Origin: origin, Index: index, Checkpoint: <-cpc}
	signed, err := SignStatement(rc, fs.cfg.Key)
	if err != nil {
		return err
	}
	// The salt travels beside the signed receipt, so that the requester can
	// open the journaled commitment later.
	tail, _ := json.Marshal(struct {
		Receipt json.RawMessage `json:"receipt"`
		Salt    string          `json:"salt"`
	}{signed.Marshal(), hex.EncodeToString(salt)})
	if err := write(append([]byte{frameReceipt}, tail...)); err != nil {
		return err
	}
	return w.Flush()
}

// checkRequest verifies the signed request: signature, membership, time
// window, nonce. It returns the request and the hex SHA-256 of its bytes.
func (fs *FetchServer) checkRequest(raw []byte, remote peer.ID) (*FetchRequest, string, error) {
	st, err := DecodeStatement(raw)
	if err != nil {
		return nil, "", refuse("request: %w", err)
	}
	if err := st.Verify(); err != nil {
		return nil, "", refuse("request: %w", err)
	}
	if st.Signer != remote {
		return nil, "", refuse("%w: signed by %s, sent by %s", ErrNotMember, st.Signer, remote)
	}
	var req FetchRequest
	dec := json.NewDecoder(bytes.NewReader(st.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Type != TypeFetchRequest {
		return nil, "", refuse("request: not a %s body", TypeFetchRequest)
	}
	if org, ok := fs.cfg.Members.OrgOf(remote); !ok || org != req.Org || req.Node != remote.String() {
		return nil, "", refuse("%w: %s claims org %q", ErrNotMember, remote, req.Org)
	}
	now := fs.cfg.Now()
	if d := now.Sub(req.Time); d > FetchSkew || d < -FetchSkew {
		return nil, "", refuse("%w: %s, now %s", ErrStale, req.Time.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if len(req.Nonce) < 16 || len(req.Nonce) > 128 {
		return nil, "", refuse("request: nonce of %d characters", len(req.Nonce))
	}
	fresh, err := fs.cfg.Store.MarkNonce(req.Nonce, req.Time.Add(2*FetchSkew))
	if err != nil {
		return nil, "", err
	}
	if !fresh {
		return nil, "", refuse("%w", ErrReplay)
	}
	sum := sha256.Sum256(raw)
	return &req, hex.EncodeToString(sum[:]), nil
}

// stream writes the chunks that hold permitted records, in frames from
// frames.
func (fs *FetchServer) stream(id cid.Cid, m *Manifest, tree *leafTree, permitted bitmap, frames framePool, write func([]byte) error) error {
	var cur *chunk
	// The current chunk's record bytes (the iterator reuses its own),
	// reused once the chunk is encoded.
	var arena []byte
	size := 0
	emit := func() error {
		if cur == nil {
			return nil
		}
		if len(cur.Records) > 0 {
			cur.Gaps = gapsOf(cur, tree)
			cur.Left = tree.rangeHashes(0, cur.Begin)
			cur.Right = tree.rangeHashes(cur.End, tree.size())
			if err := write(encodeChunk(frames.get(size+4096), cur)); err != nil {
				return err
			}
		}
		cur, arena = nil, arena[:0]
		return nil
	}
	return fs.cfg.Store.Records(id, func(i uint64, data []byte) error {
		if cur != nil && i >= cur.End {
			if err := emit(); err != nil {
				return err
			}
		}
		if cur == nil {
			begin := i - i%ChunkWidth
			cur = &chunk{Begin: begin, End: min(begin+ChunkWidth, m.Records)}
			size = 0
		}
		if permitted.has(i) {
			if arena == nil {
				arena = make([]byte, 0, max(maxChunkBytes, len(data)))
			}
			start := len(arena)
			arena = append(arena, data...)
			cur.Records = append(cur.Records, chunkRecord{Index: i, Data: arena[start:len(arena):len(arena)]})
			size += len(data)
		}
		if size >= maxChunkBytes && i+1 < cur.End {
			// Large records: end this chunk here, the next starts at i+1.
			next := cur.End
			cur.End = i + 1
			if err := emit(); err != nil {
				return err
			}
			cur, size = &chunk{Begin: i + 1, End: next}, 0
			return nil
		}
		if i == m.Records-1 {
			return emit()
		}
		return nil
	})
}

// gapsOf returns the runs of a chunk's range that hold no sent record.
func gapsOf(c *chunk, tree *leafTree) []chunkGap {
	var gaps []chunkGap
	pos := c.Begin
	for _, r := range c.Records {
		if r.Index > pos {
			gaps = append(gaps, chunkGap{Begin: pos, End: r.Index, Hashes: tree.rangeHashes(pos, r.Index)})
		}
		pos = r.Index + 1
	}
	if pos < c.End {
		gaps = append(gaps, chunkGap{Begin: pos, End: c.End, Hashes: tree.rangeHashes(pos, c.End)})
	}
	return gaps
}

// selection is which indices a request wants: its Selection, from From on.
type selection struct {
	from uint64
	Selection
}

func newSelection(r *FetchRequest) (selection, error) {
	var named []cid.Cid
	for k, text := range r.SelectCIDs {
		c, err := cid.Decode(text)
		if err != nil {
			return selection{}, fmt.Errorf("select_cids[%d]: %q is not a CID", k, text)
		}
		named = append(named, c)
	}
	return selection{r.From, NewSelection(r.Select, named)}, nil
}

func (s selection) wants(i uint64, c cid.Cid) bool { return i >= s.from && s.Wants(i, c) }

// Selection is which records a fetch names: the union of indices and CIDs,
// or every record if it names none.
type Selection struct {
	set  map[uint64]bool // nil: every record
	cids map[cid.Cid]bool
}

// NewSelection selects by indices and CIDs.
func NewSelection(indices []uint64, cids []cid.Cid) Selection {
	if len(indices) == 0 && len(cids) == 0 {
		return Selection{}
	}
	s := Selection{set: make(map[uint64]bool, len(indices)), cids: make(map[cid.Cid]bool, len(cids))}
	for _, i := range indices {
		s.set[i] = true
	}
	for _, c := range cids {
		s.cids[c] = true
	}
	return s
}

// Wants reports whether record i, of CID c, is selected.
func (s Selection) Wants(i uint64, c cid.Cid) bool { return s.set == nil || s.set[i] || s.cids[c] }

// WantsRecord is Wants for a record's canonical bytes; it hashes them only
// if the selection names CIDs and not i.
func (s Selection) WantsRecord(i uint64, canonical []byte) bool {
	return s.set == nil || s.set[i] || len(s.cids) > 0 && s.cids[recordCID(canonical)]
}

type bitmap []uint64

func newBitmap(n uint64) bitmap    { return make(bitmap, (n+63)/64) }
func (b bitmap) set(i uint64)      { b[i/64] |= 1 << (i % 64) }
func (b bitmap) has(i uint64) bool { return b[i/64]&(1<<(i%64)) != 0 }
