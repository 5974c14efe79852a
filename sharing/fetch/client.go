package fetch

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// Options of Client.Fetch.
type Options struct {
	Manifest cid.Cid
	Purpose  string
	Select   []uint64 // indices, ascending; with SelectCIDs empty too: all
	// SelectCIDs are records wanted by CID (with Select: their union).
	SelectCIDs []cid.Cid
	From       uint64 // skip indices below (resume)
	// Progress, if set, is called after each verified chunk with the
	// records received so far and the number permitted.
	Progress func(received, permitted uint64)
	// Schema, if set, is the dataset's schema: every record must be
	// canonical and valid under it before it is kept, or the response is
	// refused as a tampered one is.
	Schema *schemas.Schema
}

// Result summarizes a fetch.
type Result struct {
	Permitted, Denied uint64 // as the provider decided (this request)
	Received          uint64 // records received and verified (this request)
	Bytes             uint64 // record bytes received
	Journaled                // the provider's decision entry and policy bundle
	Receipt           *manifest.Statement
	ReceiptBody       Receipt
	Salt              string
	Request           string   // hex SHA-256 of the signed request
	NotOffered        bool     // the manifest does not offer the purpose
	Offered           []string // the purposes it offers (with NotOffered)
	// Next is where a resumed fetch starts: the end of the last verified chunk.
	Next uint64
}

// Client is the requesting side.
type Client struct {
	Host  host.Host
	Key   ed25519.PrivateKey // signs requests: the key of Host
	Org   string
	Store store.FetchedStore
	// VerifyCheckpoint, if set, checks the signed checkpoint a receipt
	// carries: that it is provider's journal (origin) signed under the
	// roster, and covers entry index. The gateway checks it against the
	// roster's journal keys. A receipt without a checkpoint is then
	// refused (ErrNoCheckpoint).
	VerifyCheckpoint func(provider, origin string, index uint64, note []byte) error

	// wrap, if set, wraps each stream (tests put a man in the middle here;
	// export_test.go).
	wrap func(network.Stream) io.ReadWriter
}

// Fetch asks provider p for a manifest's records. Every chunk is verified
// against the manifest's record-tree root before its records are stored.
// If a chunk fails, everything this response stored is deleted and a
// *TamperError is returned. If the stream breaks, the verified records stay
// and the result's Next tells where to resume (with the error).
func (c *Client) Fetch(ctx context.Context, p peer.ID, m *manifest.Manifest, o Options) (*Result, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	req := Request{Type: TypeRequest, Manifest: o.Manifest.String(), Purpose: o.Purpose, Org: c.Org,
		Node: c.Host.ID().String(), Nonce: hex.EncodeToString(nonce), Time: time.Now().UTC(), Select: o.Select,
		SelectCIDs: cidStrings(o.SelectCIDs), From: o.From}
	signed, err := manifest.SignStatement(req, c.Key)
	if err != nil {
		return nil, err
	}
	return c.fetchSigned(ctx, p, m, o, signed.Marshal())
}

// fetchSigned sends a signed request and takes the response in.
func (c *Client) fetchSigned(ctx context.Context, p peer.ID, m *manifest.Manifest, o Options, request []byte) (res *Result, err error) {
	str, err := c.Host.NewStream(ctx, p, ID)
	if err != nil {
		return nil, err
	}
	// Cancelling ctx stops the fetch where it is, on both sides: the
	// stream is reset, so a read waiting here returns and the provider's
	// next write fails.
	defer context.AfterFunc(ctx, func() { str.Reset() })()
	stage, err := c.Store.NewStage(o.Manifest, o.Purpose)
	if err != nil {
		str.Reset()
		return nil, err
	}
	defer func() {
		if err != nil {
			str.Reset()
		} else {
			str.Close()
		}
		// What was verified and kept is durable before Fetch returns (after
		// a failed verification, Abort left nothing to commit).
		if cerr := stage.Commit(); cerr != nil {
			if res != nil {
				res.Next, res.Received, res.Bytes = o.From, 0, 0
			}
			if err == nil {
				err = cerr
			}
		}
	}()
	var rw io.ReadWriter = str
	if c.wrap != nil {
		rw = c.wrap(str)
	}
	_ = str.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := p2p.WriteFrame(rw, request); err != nil {
		return nil, err
	}
	_ = str.CloseWrite()
	sum := sha256.Sum256(request)
	res = &Result{Next: o.From, Request: hex.EncodeToString(sum[:])}
	frames := readFrames(str, bufio.NewReaderSize(rw, 256<<10))
	defer frames.stop()
	defer watchNode(c.Host, p, frames)()
	rs := &response{c: c, res: res, head: m.Tree, th: manifest.NewTreeHasher(), stage: stage, next: o.From, p: p, o: o,
		publisher: m.Publisher}
	if o.Schema != nil {
		rs.valid = &validator{schema: o.Schema}
	}
	for {
		frame, err := frames.next()
		if cerr := ctx.Err(); cerr != nil {
			return res, fmt.Errorf("fetch cancelled after %d records: %w", res.Received, cerr)
		}
		if err != nil {
			return res, fmt.Errorf("fetch interrupted after %d records: %w", res.Received, err)
		}
		done, err := rs.take(frame)
		if err != nil {
			if _, ok := err.(*TamperError); ok {
				return nil, err
			}
			return res, err
		}
		if done {
			return res, nil
		}
		frames.recycle(frame) // staged: nothing refers to it any more
	}
}

// response is the state of one response as the requester takes it in.
type response struct {
	c         *Client
	res       *Result
	head      manifest.TreeHead
	th        *manifest.TreeHasher
	stage     store.Stage
	gotHeader bool
	next      uint64 // records must come in order, once
	p         peer.ID
	o         Options
	valid     *validator // nil: records are not checked against a schema
	publisher string
	received  []byte // the binary CIDs of the records received, in order: the receipt's commitment opens on them
}

// take handles one frame; done means the response ended well. A
// *TamperError means nothing of the response was kept.
func (rs *response) take(frame []byte) (done bool, err error) {
	if len(frame) == 0 {
		return false, fmt.Errorf("%w: empty frame", ErrFrame)
	}
	kind, body := frame[0], frame[1:]
	switch {
	case kind == frameError:
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		return false, &RefusedError{Msg: e.Error}
	case kind == frameHeader && !rs.gotHeader:
		return false, rs.header(body)
	case kind == frameChunk && rs.gotHeader:
		return false, rs.chunk(frame, body)
	case kind == frameReceipt && rs.gotHeader:
		if err := rs.checkReceipt(body); err != nil {
			rs.stage.Abort()
			return false, &TamperError{Frame: frame, Err: err}
		}
		rs.res.Next = rs.head.Size
		return true, nil
	}
	return false, fmt.Errorf("%w: unexpected frame %q", ErrFrame, kind)
}

func (rs *response) header(body []byte) error {
	var h header
	if err := json.Unmarshal(body, &h); err != nil {
		return fmt.Errorf("%w: header: %v", ErrFrame, err)
	}
	if h.Size != rs.head.Size {
		return fmt.Errorf("%w: the provider's tree has %d records, the manifest %d", ErrTampered, h.Size, rs.head.Size)
	}
	rs.gotHeader = true
	res := rs.res
	res.Permitted, res.Denied = h.Permitted, h.Denied
	res.Journaled = Journaled{Origin: h.Decision, Index: h.Index, Bundle: h.Bundle}
	res.NotOffered, res.Offered = h.NotOffered, h.Offered
	return nil
}

// chunk verifies a chunk and stages its records.
func (rs *response) chunk(frame, body []byte) error {
	c, err := decodeChunk(body)
	if err == nil {
		err = c.verify(rs.head, rs.th, &rs.received)
	}
	if err == nil && rs.valid != nil {
		err = rs.valid.check(c.Records)
	}
	if err != nil {
		rs.stage.Abort()
		te := &TamperError{Frame: frame, Err: err}
		if c != nil {
			te.Begin, te.End = c.Begin, c.End
		}
		return te
	}
	if len(c.Records) > 0 && c.Records[0].Index < rs.next {
		return fmt.Errorf("%w: chunk [%d, %d) repeats records before %d", ErrFrame, c.Begin, c.End, rs.next)
	}
	for _, r := range c.Records {
		if err := rs.stage.Put(r.Index, r.Data); err != nil {
			return err
		}
		rs.res.Bytes += uint64(len(r.Data))
	}
	if len(c.Records) > 0 {
		rs.next = c.Records[len(c.Records)-1].Index + 1
	}
	rs.res.Received += uint64(len(c.Records))
	rs.res.Next = c.End
	if rs.o.Progress != nil {
		rs.o.Progress(rs.res.Received, rs.res.Permitted)
	}
	return nil
}

// checkReceipt checks the provider's signed receipt against what this
// requester asked and received: the request, both orgs, the purpose, the
// counts, the commitment (opened with the salt on the CIDs received) and
// the checkpoint of the provider's journal, before it is kept and
// journaled as evidence.
func (rs *response) checkReceipt(body []byte) error {
	res, o := rs.res, rs.o
	var tail receiptFrame
	if err := json.Unmarshal(body, &tail); err != nil {
		return fmt.Errorf("receipt: %w", err)
	}
	st, err := manifest.DecodeStatement(tail.Receipt)
	if err != nil {
		return fmt.Errorf("receipt: %w", err)
	}
	if err := st.Verify(); err != nil || st.Signer != rs.p.String() {
		return fmt.Errorf("receipt: not signed by the provider %s", rs.p)
	}
	var rc Receipt
	if err := json.Unmarshal(st.Body, &rc); err != nil || rc.Type != TypeReceipt {
		return fmt.Errorf("receipt: not a %s", TypeReceipt)
	}
	switch {
	case rc.Manifest != o.Manifest.String() || rc.Permitted != res.Permitted || rc.Denied != res.Denied ||
		rc.Index != res.Index || rc.Origin != res.Origin:
		return fmt.Errorf("receipt: does not match the response (permitted %d/%d, entry %d/%d)", rc.Permitted, res.Permitted, rc.Index, res.Index)
	case res.Received != rc.Permitted:
		return fmt.Errorf("receipt: %d records permitted, %d received", rc.Permitted, res.Received)
	case rc.Request != res.Request:
		return fmt.Errorf("receipt: for request %.16s, not ours (%.16s)", rc.Request, res.Request)
	case rc.Requester != rs.c.Org || rc.Provider != rs.publisher:
		return fmt.Errorf("receipt: from %q to %q, not from %q to %q", rc.Provider, rc.Requester, rs.publisher, rs.c.Org)
	case rc.Purpose != o.Purpose:
		return fmt.Errorf("receipt: for purpose %q, not %q", rc.Purpose, o.Purpose)
	}
	salt, err := hex.DecodeString(tail.Salt)
	if err != nil || len(salt) != 16 {
		return fmt.Errorf("receipt: salt %q", tail.Salt)
	}
	h := sha256.New()
	h.Write(salt)
	h.Write(rs.received)
	if hex.EncodeToString(h.Sum(nil)) != rc.Commitment {
		return fmt.Errorf("receipt: its commitment does not open on the records received")
	}
	if rs.c.VerifyCheckpoint != nil {
		// Without a checkpoint, nothing shows that the decision entry is in
		// the provider's journal: the receipt would be evidence of nothing.
		if rc.Checkpoint == "" {
			return fmt.Errorf("receipt: %w", ErrNoCheckpoint)
		}
		if err := rs.c.VerifyCheckpoint(rs.publisher, rc.Origin, rc.Index, []byte(rc.Checkpoint)); err != nil {
			return fmt.Errorf("receipt: checkpoint: %w", err)
		}
	}
	res.Receipt, res.ReceiptBody, res.Salt = st, rc, tail.Salt
	return nil
}

func cidStrings(cs []cid.Cid) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}
