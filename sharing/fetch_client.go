package sharing

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/p2p"
)

// ErrTampered is wrapped by a *TamperError.
var ErrTampered = errors.New("fetched data failed verification")

// TamperError: a chunk did not verify against the signed manifest. Nothing
// of the response was kept; Frame is the offending frame, as evidence.
type TamperError struct {
	Begin, End uint64
	Frame      []byte
	Err        error
}

func (e *TamperError) Error() string {
	return fmt.Sprintf("%v: records [%d, %d): %v", ErrTampered, e.Begin, e.End, e.Err)
}

func (e *TamperError) Unwrap() error { return ErrTampered }

// RefusedError is the provider's refusal, as it worded it.
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return "the provider refused: " + e.Msg }

// FetchOptions of Fetch.
type FetchOptions struct {
	Manifest cid.Cid
	Purpose  string
	Select   []uint64 // indices, ascending; with SelectCIDs empty too: all
	// SelectCIDs are records wanted by CID (with Select: their union).
	SelectCIDs []cid.Cid
	From       uint64 // skip indices below (resume)
	// Progress, if set, is called after each verified chunk with the
	// records received so far and the number permitted.
	Progress func(received, permitted uint64)
	// Stream, if set, wraps the stream (tests put a man in the middle here).
	Stream func(network.Stream) io.ReadWriter
}

// FetchResult summarizes a fetch.
type FetchResult struct {
	Permitted, Denied uint64 // as the provider decided (this request)
	Received          uint64 // records received and verified (this request)
	Bytes             uint64 // record bytes received
	Origin            string // the provider's journal
	Index             uint64 // its decision entry
	Bundle            string // the provider's policy bundle
	Receipt           *Statement
	ReceiptBody       FetchReceipt
	Salt              string
	Request           string   // hex SHA-256 of the signed request
	NotOffered        bool     // the manifest does not offer the purpose
	Offered           []string // the purposes it offers (with NotOffered)
	// Next is where a resumed fetch starts: the end of the last verified chunk.
	Next uint64
}

// Fetcher is the requesting side.
type Fetcher struct {
	Host  host.Host
	Key   crypto.PrivKey
	Org   string
	Store *Store
}

// Fetch asks provider p for a manifest's records. Every chunk is verified
// against the manifest's record-tree root before its records are stored.
// If a chunk fails, everything this response stored is deleted and a
// *TamperError is returned. If the stream breaks, the verified records stay
// and the result's Next tells where to resume (with the error).
func (f *Fetcher) Fetch(ctx context.Context, p peer.ID, m *Manifest, o FetchOptions) (*FetchResult, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	req := FetchRequest{Type: TypeFetchRequest, Manifest: o.Manifest.String(), Purpose: o.Purpose, Org: f.Org,
		Node: f.Host.ID().String(), Nonce: hex.EncodeToString(nonce), Time: time.Now().UTC(), Select: o.Select, SelectCIDs: cidStrings(o.SelectCIDs), From: o.From}
	signed, err := SignStatement(req, f.Key)
	if err != nil {
		return nil, err
	}
	return f.FetchSigned(ctx, p, m, o, signed.Marshal())
}

// FetchSigned sends an already signed request (tests replay one with it).
func (f *Fetcher) FetchSigned(ctx context.Context, p peer.ID, m *Manifest, o FetchOptions, request []byte) (res *FetchResult, err error) {
	str, err := f.Host.NewStream(ctx, p, FetchProtocol)
	if err != nil {
		return nil, err
	}
	stage, err := f.Store.newFetchStage(o.Manifest, o.Purpose)
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
		// a failed verification, discard left nothing to commit).
		if cerr := stage.commit(); cerr != nil {
			if res != nil {
				res.Next, res.Received, res.Bytes = o.From, 0, 0
			}
			if err == nil {
				err = cerr
			}
		}
	}()
	var rw io.ReadWriter = str
	if o.Stream != nil {
		rw = o.Stream(str)
	}
	_ = str.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := p2p.WriteFrame(rw, request); err != nil {
		return nil, err
	}
	_ = str.CloseWrite()
	r := bufio.NewReaderSize(rw, 256<<10)
	sum := sha256.Sum256(request)
	res = &FetchResult{Next: o.From, Request: hex.EncodeToString(sum[:])}
	head, th := m.Tree, newTreeHasher()
	discard := stage.abort
	frames := readFrames(str, r)
	defer frames.stop()
	read := frames.next
	gotHeader := false
	nextIndex := o.From // records must come in order, once
	for {
		frame, err := read()
		if err != nil {
			return res, fmt.Errorf("fetch interrupted after %d records: %w", res.Received, err)
		}
		if len(frame) == 0 {
			return res, fmt.Errorf("%w: empty frame", ErrFrame)
		}
		kind, body := frame[0], frame[1:]
		switch {
		case kind == frameError:
			var e struct{ Error string }
			_ = json.Unmarshal(body, &e)
			return res, &RefusedError{Msg: e.Error}
		case kind == frameHeader && !gotHeader:
			var h fetchHeader
			if err := json.Unmarshal(body, &h); err != nil {
				return res, fmt.Errorf("%w: header: %v", ErrFrame, err)
			}
			if h.Size != head.Size {
				return res, fmt.Errorf("%w: the provider's tree has %d records, the manifest %d", ErrTampered, h.Size, head.Size)
			}
			gotHeader = true
			res.Permitted, res.Denied, res.Origin, res.Index, res.Bundle = h.Permitted, h.Denied, h.Decision, h.Index, h.Bundle
			res.NotOffered, res.Offered = h.NotOffered, h.Offered
		case kind == frameChunk && gotHeader:
			c, err := decodeChunk(body)
			if err == nil {
				err = c.verify(head, th)
			}
			if err != nil {
				discard()
				te := &TamperError{Frame: frame, Err: err}
				if c != nil {
					te.Begin, te.End = c.Begin, c.End
				}
				return nil, te
			}
			if len(c.Records) > 0 && c.Records[0].Index < nextIndex {
				return res, fmt.Errorf("%w: chunk [%d, %d) repeats records before %d", ErrFrame, c.Begin, c.End, nextIndex)
			}
			if err := stage.add(c.Records); err != nil {
				return res, err
			}
			if len(c.Records) > 0 {
				nextIndex = c.Records[len(c.Records)-1].Index + 1
			}
			for _, rec := range c.Records {
				res.Bytes += uint64(len(rec.Data))
			}
			res.Received += uint64(len(c.Records))
			res.Next = c.End
			frames.recycle(frame) // staged: nothing refers to it any more
			if o.Progress != nil {
				o.Progress(res.Received, res.Permitted)
			}
		case kind == frameReceipt && gotHeader:
			if err := f.checkReceipt(body, res, p, o); err != nil {
				discard()
				return nil, &TamperError{Frame: frame, Err: err}
			}
			res.Next = head.Size
			return res, nil
		default:
			return res, fmt.Errorf("%w: unexpected frame %q", ErrFrame, kind)
		}
	}
}

// frameReader reads a response's frames on a goroutine of its own, a few
// ahead of the one that verifies and stages them: read in turn, the
// transport stood still while a chunk was verified and written, and a
// 64 KiB-record fetch went at the sum of the two times, about half the
// stream's speed.
type frameReader struct {
	str    network.Stream
	frames chan frameRead
	free   framePool
	quit   chan struct{}
	done   chan struct{}
}

type frameRead struct {
	b   []byte
	err error
}

func readFrames(str network.Stream, r *bufio.Reader) *frameReader {
	fr := &frameReader{str: str, frames: make(chan frameRead, 2), free: make(framePool, 4),
		quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(fr.done)
		for {
			buf := fr.free.get(0)
			// A provider that stalls cannot hang the requester: each frame
			// has a deadline.
			_ = str.SetReadDeadline(time.Now().Add(60 * time.Second))
			b, err := p2p.ReadFrameInto(r, buf, MaxFetchFrame)
			select {
			case fr.frames <- frameRead{b, err}:
			case <-fr.quit:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return fr
}

// next returns the next frame; it is the caller's until recycled.
func (fr *frameReader) next() ([]byte, error) {
	f := <-fr.frames // the reader sends until it has sent an error
	return f.b, f.err
}

// recycle gives a frame's memory back for a later frame.
func (fr *frameReader) recycle(b []byte) { fr.free.put(b) }

// stop ends the reading goroutine (interrupting a read in progress) and
// waits for it.
func (fr *frameReader) stop() {
	close(fr.quit)
	_ = fr.str.CloseRead()
	<-fr.done
}

func (f *Fetcher) checkReceipt(body []byte, res *FetchResult, p peer.ID, o FetchOptions) error {
	var tail struct {
		Receipt json.RawMessage `json:"receipt"`
		Salt    string          `json:"salt"`
	}
	if err := json.Unmarshal(body, &tail); err != nil {
		return fmt.Errorf("receipt: %w", err)
	}
	st, err := DecodeStatement(tail.Receipt)
	if err != nil {
		return fmt.Errorf("receipt: %w", err)
	}
	if err := st.Verify(); err != nil || st.Signer != p {
		return fmt.Errorf("receipt: not signed by the provider %s", p)
	}
	var rc FetchReceipt
	if err := json.Unmarshal(st.Body, &rc); err != nil || rc.Type != TypeFetchReceipt {
		return fmt.Errorf("receipt: not a %s", TypeFetchReceipt)
	}
	if rc.Manifest != o.Manifest.String() || rc.Permitted != res.Permitted || rc.Denied != res.Denied ||
		rc.Index != res.Index || rc.Origin != res.Origin {
		return fmt.Errorf("receipt: does not match the response (permitted %d/%d, entry %d/%d)", rc.Permitted, res.Permitted, rc.Index, res.Index)
	}
	if res.Received != rc.Permitted {
		return fmt.Errorf("receipt: %d records permitted, %d received", rc.Permitted, res.Received)
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
