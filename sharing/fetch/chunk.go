package fetch

import (
	"encoding/binary"
	"fmt"
)

// chunk is one verifiable piece of a fetch response: the permitted records
// of the leaf range [Begin, End), the compact-range hashes of the gaps
// between them (withheld or unselected records), and the compact ranges
// [0, Begin) and [End, Size) that complete the tree.
type chunk struct {
	Begin, End uint64
	Records    []chunkRecord
	Gaps       []chunkGap
	Left       [][]byte
	Right      [][]byte
}

type chunkRecord struct {
	Index uint64
	Data  []byte // the record's canonical bytes
}

type chunkGap struct {
	Begin, End uint64
	Hashes     [][]byte
}

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
