package sharing

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/internal/cids"
)

// FetchProtocol streams a dataset's permitted records to a member
// (spec: schemas/fetch-protocol.md).
const FetchProtocol = "/caravan/fetch/1.0.0"

// Body types of fetch statements.
const (
	TypeFetchRequest = "caravan.fetch-request/v1"
	TypeFetchReceipt = "caravan.fetch-receipt/v1"
)

// Limits of the fetch protocol.
const (
	MaxFetchRequest = 64 << 10 // a signed request
	MaxFetchFrame   = 16 << 20 // one response frame
	ChunkWidth      = 256      // leaves per chunk
	FetchSkew       = 5 * time.Minute
)

// Frame kinds of a fetch response: a header, chunks, then a receipt (or an
// error at any point).
const (
	frameHeader  = 'H'
	frameChunk   = 'C'
	frameReceipt = 'R'
	frameError   = 'E'
)

// ErrFrame is wrapped by the frame decoder's errors.
var ErrFrame = errors.New("malformed fetch frame")

// FetchRequest is the body of a signed fetch request.
type FetchRequest struct {
	Type     string    `json:"type"`
	Manifest string    `json:"manifest"`
	Purpose  string    `json:"purpose"`
	Org      string    `json:"org"`  // the requesting org
	Node     string    `json:"node"` // the requesting node's PeerID
	Nonce    string    `json:"nonce"`
	Time     time.Time `json:"time"`
	// Select, if set, lists the record indices wanted, ascending;
	// SelectCIDs the records wanted by CID (either list, or both: their
	// union). From skips every index below it (a resumed fetch).
	// Unselected records are not decided and not counted.
	Select     []uint64 `json:"select,omitempty"`
	SelectCIDs []string `json:"select_cids,omitempty"`
	From       uint64   `json:"from,omitempty"`
}

// fetchHeader opens a response.
type fetchHeader struct {
	Permitted uint64 `json:"permitted"`
	Denied    uint64 `json:"denied"`
	Size      uint64 `json:"size"`     // the record tree's size
	Decision  string `json:"decision"` // the provider's journal origin
	Index     uint64 `json:"index"`    // the decision entry
	Bundle    string `json:"bundle"`   // policy bundle CID
	// NotOffered: the manifest does not offer the purpose; every selected
	// record was denied without consulting the policies.
	NotOffered bool     `json:"not_offered,omitempty"`
	Offered    []string `json:"offered,omitempty"`
}

// FetchReceipt is the body of the provider's signed receipt, the last frame.
type FetchReceipt struct {
	Type       string `json:"type"`
	Request    string `json:"request"` // hex SHA-256 of the signed request
	Manifest   string `json:"manifest"`
	Provider   string `json:"provider"`
	Requester  string `json:"requester"`
	Purpose    string `json:"purpose"`
	Permitted  uint64 `json:"permitted"`
	Denied     uint64 `json:"denied"`
	Commitment string `json:"commitment"` // hex SHA-256(salt || permitted CIDs), as journaled
	Origin     string `json:"origin"`     // the provider's journal
	Index      uint64 `json:"index"`      // its decision entry
	Checkpoint string `json:"checkpoint"` // a signed checkpoint of that journal covering the entry ("" if none yet)
}

func recordCID(data []byte) cid.Cid { return cids.OfJSON(data) }

// encodeChunk appends the binary form of a chunk:
//
//	uvarint begin, end
//	uvarint n, then n × (uvarint index, uvarint len, bytes)
//	uvarint g, then g × (uvarint begin, end, k, k × 32-byte hash)
//	uvarint l, l × hash (left); uvarint r, r × hash (right)
func encodeChunk(dst []byte, c *chunk) []byte {
	dst = append(dst, frameChunk)
	dst = binary.AppendUvarint(dst, c.Begin)
	dst = binary.AppendUvarint(dst, c.End)
	dst = binary.AppendUvarint(dst, uint64(len(c.Records)))
	for _, r := range c.Records {
		dst = binary.AppendUvarint(dst, r.Index)
		dst = binary.AppendUvarint(dst, uint64(len(r.Data)))
		dst = append(dst, r.Data...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(c.Gaps)))
	for _, g := range c.Gaps {
		dst = binary.AppendUvarint(dst, g.Begin)
		dst = binary.AppendUvarint(dst, g.End)
		dst = appendHashes(dst, g.Hashes)
	}
	dst = appendHashes(dst, c.Left)
	return appendHashes(dst, c.Right)
}

func appendHashes(dst []byte, hs [][]byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(hs)))
	for _, h := range hs {
		dst = append(dst, h...)
	}
	return dst
}

// decodeChunk parses a chunk frame (without its kind byte). Record data
// aliases b.
func decodeChunk(b []byte) (*chunk, error) {
	d := decoder{b: b}
	c := &chunk{Begin: d.uvarint(), End: d.uvarint()}
	n := d.count(2)
	for range n {
		idx := d.uvarint()
		c.Records = append(c.Records, chunkRecord{Index: idx, Data: d.bytes(d.uvarint())})
	}
	g := d.count(3)
	for range g {
		c.Gaps = append(c.Gaps, chunkGap{Begin: d.uvarint(), End: d.uvarint(), Hashes: d.hashes()})
	}
	c.Left = d.hashes()
	c.Right = d.hashes()
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrFrame, len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return c, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad varint", ErrFrame)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a count of items of at least min bytes each, bounded by what
// is left.
func (d *decoder) count(min int) uint64 {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/min) {
		d.err = fmt.Errorf("%w: %d items in %d bytes", ErrFrame, n, len(d.b))
		return 0
	}
	return n
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: %d bytes wanted, %d left", ErrFrame, n, len(d.b))
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) hashes() [][]byte {
	k := d.count(32)
	out := make([][]byte, 0, k)
	for range k {
		out = append(out, d.bytes(32))
	}
	return out
}

// framePool recycles frame buffers between two goroutines: the provider's
// encoder and writer, the requester's reader and verifier. A fetch
// otherwise allocated its records about three times over, and the
// collector's work showed.
type framePool chan []byte

func (p framePool) get(n int) []byte {
	select {
	case b := <-p:
		if cap(b) >= n {
			return b[:0]
		}
	default:
	}
	return make([]byte, 0, n)
}

func (p framePool) put(b []byte) {
	select {
	case p <- b:
	default:
	}
}
