package fetch

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// The provider answers a request in five steps, each a function below:
// check the request, decide its records, commit the decision to the
// journal, stream the permitted records, and sign a receipt. Nothing
// readable leaves before the decision is durable.

// checked is a request that passed the checks.
type checked struct {
	req     *Request
	hash    string // hex SHA-256 of the signed request
	id      cid.Cid
	m       *manifest.Manifest
	sel     requested
	offered bool // the manifest offers the request's purpose
}

// decided is what deciding a request's records came to.
type decided struct {
	dec                 Decider
	permitted           bitmap
	nPermitted, nDenied uint64
	salt                []byte
	commitment          string   // hex SHA-256(salt || permitted CIDs in order)
	tree                subtrees // nil if nothing is permitted
}

// answer runs the steps for the request on str.
func (s *Server) answer(ctx context.Context, str network.Stream) error {
	c, err := s.check(str)
	if err != nil {
		return err
	}
	d, err := s.decide(ctx, c)
	if err != nil {
		return err
	}
	// The first chunks are read and encoded while the decision is
	// journaled; none is written before it is durable.
	frames := make(framePool, 8) // written frames go back to be reused
	var chunks *pipe[[]byte]
	if d.nPermitted > 0 {
		chunks = startPipe(4, func(send func([]byte) error) error { return s.stream(c, d, frames, send) })
		defer chunks.cancel()
	}
	j, err := s.commit(ctx, c, d)
	if err != nil {
		return err
	}
	// The receipt carries a checkpoint covering the decision entry: get it
	// while the records stream.
	cpc := make(chan string, 1)
	go func() { cpc <- d.dec.Checkpoint(ctx, j.Index) }()
	w := bufio.NewWriterSize(str, writeBuffer)
	write := func(frame []byte) error {
		_ = str.SetWriteDeadline(time.Now().Add(30 * time.Second))
		return p2p.WriteFrame(w, frame)
	}
	if err := write(headerFrame(c, d, j)); err != nil {
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
	receipt, err := s.receipt(c, d, j, <-cpc)
	if err != nil {
		return err
	}
	if err := write(receipt); err != nil {
		return err
	}
	return w.Flush()
}

// decide decides the selected records and gets the record tree (for the
// proofs). A selection of indices only reads the selected records'
// attributes and, as the proofs need them, the tree nodes the publisher
// stored. Anything else reads every record's CID: one goroutine reads, one
// grows the tree, this one decides. A purpose the dataset does not offer
// reads nothing: every selected record is denied.
func (s *Server) decide(ctx context.Context, c *checked) (*decided, error) {
	selected, err := s.countSelected(c)
	if err != nil {
		return nil, err
	}
	cost := uint64(selected)
	if selected == 0 {
		cost = c.m.Records - min(c.sel.from, c.m.Records)
	}
	if err := s.spendRecords(c.req.Org, cost); err != nil {
		return nil, err
	}
	dec, err := s.cfg.Authorizer.Authorize(ctx, c.req, c.m, selected)
	if err != nil {
		return nil, refuse("%v", err)
	}
	d := &decided{dec: dec, permitted: newBitmap(c.m.Records), salt: s.saltOf(c.hash)}
	commit := sha256.New()
	commit.Write(d.salt)
	var verdicts []bool
	take := func(batch []Record) error {
		if verdicts, err = dec.Decide(batch, verdicts[:0]); err != nil {
			return err
		}
		for i, ok := range verdicts {
			if ok {
				d.permitted.set(batch[i].Index)
				commit.Write(batch[i].CID.Bytes())
				d.nPermitted++
			} else {
				d.nDenied++
			}
		}
		return nil
	}
	switch indices := c.sel.indices(c.m.Records); {
	case !c.offered:
		d.nDenied = cost
	case indices != nil:
		stored, serr := s.cfg.Store.Subtrees(c.id, c.m.Records)
		if serr == nil {
			d.tree = stored
			err = s.decideAt(c, indices, take)
			break
		}
		if !errors.Is(serr, store.ErrNoSubtrees) {
			return nil, serr
		}
		fallthrough // a dataset stored before its tree was
	default:
		built := manifest.NewSubtrees(c.m.Records)
		d.tree = built
		if err = s.decideAll(c, built, take); err == nil && built.Size() != c.m.Records {
			return nil, fmt.Errorf("the store holds %d records of %s, the manifest says %d", built.Size(), c.id, c.m.Records)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("deciding: %w", err)
	}
	d.commitment = hex.EncodeToString(commit.Sum(nil))
	return d, nil
}

// decideAll reads every record's CID into the tree and decides the
// selected ones, reading and deciding side by side.
func (s *Server) decideAll(c *checked, tree *manifest.Subtrees, take func([]Record) error) error {
	leafc := make(chan []cid.Cid, 4)
	grown := make(chan struct{})
	go func() {
		defer close(grown)
		for leaves := range leafc {
			for _, c := range leaves {
				tree.AddCID(c)
			}
		}
	}()
	err := pipeline(2, func(send func([]Record) error) error {
		defer close(leafc)
		return s.readForDecision(c, leafc, send)
	}, take)
	<-grown
	return err
}

// decideAt reads the attributes of the records at indices only, and
// decides them in batches.
func (s *Server) decideAt(c *checked, indices []uint64, take func([]Record) error) error {
	var batch []Record
	var arena []byte
	err := s.cfg.Store.AttributesAt(c.id, slices.Values(indices), func(i uint64, id cid.Cid, projection []byte) error {
		start := len(arena)
		arena = append(arena, projection...) // the iterator reuses its memory
		batch = append(batch, Record{Index: i, CID: id, Data: arena[start:len(arena):len(arena)]})
		if len(batch) == 4096 {
			err := take(batch)
			batch, arena = nil, nil
			return err
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = take(batch)
	}
	return err
}

// countSelected resolves how many records the request selects: indices in
// the dataset and at or past From, and the records whose CID it names,
// each record once. A request that names none selects every record: 0.
func (s *Server) countSelected(c *checked) (int, error) {
	if c.sel.set == nil {
		return 0, nil
	}
	n := 0
	if len(c.sel.cids) == 0 {
		for i := range c.sel.set {
			if i >= c.sel.from && i < c.m.Records {
				n++
			}
		}
		return n, nil
	}
	count := func(i uint64, id cid.Cid, _ []byte) error {
		if c.sel.wants(i, id) {
			n++
		}
		return nil
	}
	err := s.cfg.Store.Attributes(c.id, count)
	if errors.Is(err, store.ErrNoAttributes) {
		err = s.cfg.Store.Records(c.id, func(i uint64, data []byte) error { return count(i, cids.OfJSON(data), nil) })
	}
	return n, err
}

// readForDecision reads every record's CID (to leafc, for the tree) and,
// in batches to send, the selected records' attribute projections: stored
// at publish time, they are enough to decide; datasets stored before them
// are read whole.
func (s *Server) readForDecision(c *checked, leafc chan<- []cid.Cid, send func([]Record) error) error {
	var batch []Record
	var arena []byte // the batch's record bytes; a new one per batch
	var leaves []cid.Cid
	flush := func() error {
		if len(leaves) > 0 {
			leafc <- leaves
			leaves = nil
		}
		if len(batch) == 0 {
			return nil
		}
		err := send(batch)
		batch, arena = nil, make([]byte, 0, len(arena))
		return err
	}
	take := func(i uint64, id cid.Cid, data []byte) error {
		if leaves == nil {
			leaves = make([]cid.Cid, 0, 4096)
		}
		if leaves = append(leaves, id); len(leaves) == cap(leaves) {
			leafc <- leaves
			leaves = nil
		}
		if c.sel.wants(i, id) {
			// The iterator reuses data: the batch keeps a copy.
			start := len(arena)
			arena = append(arena, data...)
			batch = append(batch, Record{Index: i, CID: id, Data: arena[start:len(arena):len(arena)]})
			if len(batch) == 4096 {
				return flush()
			}
		}
		return nil
	}
	err := s.cfg.Store.Attributes(c.id, take)
	if errors.Is(err, store.ErrNoAttributes) {
		err = s.cfg.Store.Records(c.id, func(i uint64, data []byte) error { return take(i, cids.OfJSON(data), data) })
	}
	if err != nil {
		return err
	}
	return flush()
}

// commit journals the decision; it returns where.
func (s *Server) commit(ctx context.Context, c *checked, d *decided) (Journaled, error) {
	j, err := d.dec.Commit(ctx, Decision{Requester: c.req.Org, Dataset: c.m.Dataset, Manifest: c.id.String(),
		Purpose: c.req.Purpose, Permitted: d.nPermitted, Denied: d.nDenied, Commitment: d.commitment, Request: c.hash,
		NotOffered: !c.offered})
	if err != nil {
		return Journaled{}, fmt.Errorf("journaling the decision: %w", err)
	}
	return j, nil
}

// saltOf is the salt of the commitment to a request's permitted CIDs:
// HMAC-SHA256, keyed with a secret derived from the node key, of the
// request hash, cut to 16 bytes. Only this provider can make it, and it
// can make it again for any decision it journaled (to open a commitment
// in a dispute) without keeping it: a random salt, stored, cost a synced
// write per decision.
func (s *Server) saltOf(request string) []byte {
	secret := sha256.Sum256(append([]byte("caravan/fetch-salt/v1\n"), s.cfg.Key.Seed()...))
	mac := hmac.New(sha256.New, secret[:])
	mac.Write([]byte(request))
	return mac.Sum(nil)[:16]
}

func headerFrame(c *checked, d *decided, j Journaled) []byte {
	h := header{Permitted: d.nPermitted, Denied: d.nDenied, Size: c.m.Records, Decision: j.Origin, Index: j.Index, Bundle: j.Bundle}
	if !c.offered {
		h.NotOffered, h.Offered = true, c.m.Purposes
	}
	b, _ := json.Marshal(h)
	return append([]byte{frameHeader}, b...)
}

// stream sends the frames of the chunks that hold permitted records, made
// in buffers from frames. Only the permitted records are read.
func (s *Server) stream(c *checked, d *decided, frames framePool, send func([]byte) error) error {
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
			cur.Gaps = gapsOf(cur, d.tree)
			cur.Left = rangeHashes(d.tree, 0, cur.Begin)
			cur.Right = rangeHashes(d.tree, cur.End, d.tree.Size())
			if t, ok := d.tree.(interface{ Err() error }); ok && t.Err() != nil {
				return t.Err() // a proof with a node that could not be read: send nothing
			}
			if err := send(encodeChunk(frames.get(size+4096), cur)); err != nil {
				return err
			}
		}
		cur, arena = nil, arena[:0]
		return nil
	}
	err := s.cfg.Store.RecordsAt(c.id, d.permitted.each(c.m.Records), func(i uint64, data []byte) error {
		if cur != nil && i >= cur.End {
			if err := emit(); err != nil {
				return err
			}
		}
		if cur == nil {
			begin := i - i%ChunkWidth
			cur = &chunk{Begin: begin, End: min(begin+ChunkWidth, c.m.Records)}
			size = 0
		}
		if arena == nil {
			arena = make([]byte, 0, max(maxChunkBytes, len(data)))
		}
		start := len(arena)
		arena = append(arena, data...)
		cur.Records = append(cur.Records, chunkRecord{Index: i, Data: arena[start:len(arena):len(arena)]})
		size += len(data)
		if size >= maxChunkBytes && i+1 < cur.End {
			// Large records: end this chunk here, the next starts at i+1.
			next := cur.End
			cur.End = i + 1
			if err := emit(); err != nil {
				return err
			}
			cur, size = &chunk{Begin: i + 1, End: next}, 0
		}
		return nil
	})
	if err != nil {
		return err
	}
	return emit()
}

// receipt signs the receipt and makes the last frame: the salt travels
// beside the signed receipt, so that the requester can open the journaled
// commitment later.
func (s *Server) receipt(c *checked, d *decided, j Journaled, checkpoint string) ([]byte, error) {
	rc := Receipt{Type: TypeReceipt, Request: c.hash, Manifest: c.id.String(), Provider: s.cfg.Org,
		Requester: c.req.Org, Purpose: c.req.Purpose, Permitted: d.nPermitted, Denied: d.nDenied, Commitment: d.commitment,
		Origin: j.Origin, Index: j.Index, Checkpoint: checkpoint}
	signed, err := manifest.SignStatement(rc, s.cfg.Key)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(receiptFrame{Receipt: signed.Marshal(), Salt: hex.EncodeToString(d.salt)})
	if err != nil {
		return nil, err
	}
	return append([]byte{frameReceipt}, b...), nil
}
