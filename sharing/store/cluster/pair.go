package cluster

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/minio/minlz"
)

// A pair object holds a group's attributes (empty in layoutBlocks, whose
// attributes are in blocks) and its records, and the group's tree nodes
// that proofs of whole chunks need:
//
//	uint32 A, uint16 K (big-endian)
//	K hashes of 32 bytes: the group's complete nodes of levels 8 and 9
//	A bytes: the attributes, compressed
//	the records, compressed
//
// One object, not two, per group: each S3 request costs the server about
// a millisecond of CPU (VersityGW, measured), more than the bytes. A read
// of either part gets the whole object and decompresses only its part:
// VersityGW serves a ranged GET at 2.1 to 2.3 ms of CPU against 0.45 ms
// for the whole 268 KB object (measured), so reading just the attributes
// would cost the server more, not less.
func pairObject(attrs, records, nodes []byte) ([]byte, error) {
	if len(nodes)%sha256.Size != 0 || len(nodes)/sha256.Size > 1<<16-1 {
		return nil, fmt.Errorf("%d bytes of tree nodes", len(nodes))
	}
	head := pairHeader + len(nodes)
	out := getBuf(head + minlz.MaxEncodedLen(len(attrs)) + minlz.MaxEncodedLen(len(records)))[:head]
	copy(out[pairHeader:], nodes)
	za, err := minlz.Encode(out[head:], attrs, minlz.LevelFastest)
	if err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(out, uint32(len(za)))
	binary.BigEndian.PutUint16(out[4:], uint16(len(nodes)/sha256.Size))
	out = out[:head+len(za)]
	zr, err := minlz.Encode(out[len(out):cap(out)], records, minlz.LevelFastest)
	if err != nil {
		return nil, err
	}
	return out[:len(out)+len(zr)], nil
}

const pairHeader = 6

// pairSplit cuts a pair object into its tree nodes, compressed attributes
// and compressed records.
func pairSplit(key string, data []byte) (nodes, za, zr []byte, err error) {
	if len(data) < pairHeader {
		return nil, nil, nil, fmt.Errorf("object %s: %d bytes, no header", key, len(data))
	}
	a := uint64(binary.BigEndian.Uint32(data))
	k := uint64(binary.BigEndian.Uint16(data[4:]))
	head := pairHeader + k*sha256.Size
	if head+a > uint64(len(data)) {
		return nil, nil, nil, fmt.Errorf("object %s: %d nodes and %d bytes of attributes in %d bytes", key, k, a, len(data))
	}
	return data[pairHeader:head], data[head : head+a], data[head+a:], nil
}

// pairPart decompresses and parses the attributes (p == attributes) or
// the records of a pair object.
func pairPart(key string, data []byte, p part) ([]entry, error) {
	_, za, zr, err := pairSplit(key, data)
	if err != nil {
		return nil, err
	}
	z := za
	if p == records {
		z = zr
	}
	raw, err := minlz.Decode(nil, z)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", key, err)
	}
	return parseGroup(key, raw)
}
