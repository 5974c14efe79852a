package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ipfs/go-cid"
)

// ErrNoAttributes: the store has no attribute projections for a dataset
// (it was stored before projections existed).
var ErrNoAttributes = errors.New("no attribute projections stored for this dataset")

// Records calls fn with the canonical bytes of each record of a manifest,
// in order. It fails with pebble.ErrNotFound if the store does not hold the
// manifest's records (a peer's manifest, whose records are fetched later).
func (s *Embedded) Records(manifest cid.Cid, fn func(index uint64, canonical []byte) error) error {
	id, err := s.get(key(prefixManifest, manifest.Bytes()))
	if err != nil {
		return err
	}
	lo, hi := indexedBounds(prefixRecord, id)
	return s.indexed(lo, hi, fn)
}

// RecordsAt is Records for the records at indices (ascending) only: each
// is sought, so a few records of a large dataset cost a few reads. A
// missing index fails.
func (s *Embedded) RecordsAt(manifest cid.Cid, indices iter.Seq[uint64], fn func(index uint64, canonical []byte) error) error {
	id, err := s.get(key(prefixManifest, manifest.Bytes()))
	if err != nil {
		return err
	}
	lo, hi := indexedBounds(prefixRecord, id)
	return s.indexedAt(lo, hi, key(prefixRecord, id), indices, fn)
}

// AttributesAt is Attributes for the records at indices (ascending) only.
func (s *Embedded) AttributesAt(manifest cid.Cid, indices iter.Seq[uint64], fn func(index uint64, c cid.Cid, projection []byte) error) error {
	id, err := s.get(key(prefixManifest, manifest.Bytes()))
	if err != nil {
		return err
	}
	lo, hi := indexedBounds(prefixAttrs, id)
	return s.indexedAt(lo, hi, key(prefixAttrs, id), indices, func(i uint64, v []byte) error { return Projected(i, v, fn) })
}

// AppendProjection appends what a store keeps of a record for deciding:
// its CID (length-prefixed) and the canonical JSON object of its policy
// attributes (the embedded store's a/ value; the cluster's too).
func AppendProjection(buf []byte, c cid.Cid, attributes []byte) []byte {
	b := c.Bytes()
	buf = append(buf, byte(len(b)))
	buf = append(buf, b...)
	return append(buf, attributes...)
}

// Projected decodes a projection (AppendProjection) for fn.
func Projected(i uint64, v []byte, fn func(index uint64, c cid.Cid, projection []byte) error) error {
	if len(v) == 0 || int(v[0])+1 > len(v) {
		return fmt.Errorf("attributes of record %d: malformed", i)
	}
	_, c, err := cid.CidFromBytes(v[1 : 1+int(v[0])])
	if err != nil {
		return fmt.Errorf("attributes of record %d: %w", i, err)
	}
	return fn(i, c, v[1+int(v[0]):])
}

// Attributes calls fn with each record's CID and the canonical projection of
// its policy attributes, in order. It returns ErrNoAttributes for a dataset
// stored before projections existed.
func (s *Embedded) Attributes(manifest cid.Cid, fn func(index uint64, c cid.Cid, projection []byte) error) error {
	id, err := s.get(key(prefixManifest, manifest.Bytes()))
	if err != nil {
		return err
	}
	lo, hi := indexedBounds(prefixAttrs, id)
	seen := false
	err = s.indexed(lo, hi, func(i uint64, v []byte) error {
		seen = true
		return Projected(i, v, fn)
	})
	if err == nil && !seen {
		return ErrNoAttributes
	}
	return err
}

// indexed calls fn for each key in [lo, hi), whose last 8 bytes are a
// big-endian index, with that index and the value (valid only during fn).
func (s *Embedded) indexed(lo, hi []byte, fn func(index uint64, value []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if err := fn(binary.BigEndian.Uint64(k[len(k)-8:]), it.Value()); err != nil {
			return err
		}
	}
	return it.Error()
}

// indexedAt is indexed for the keys p + <index BE64> of indices only
// (ascending): the next key is stepped to, any other sought.
func (s *Embedded) indexedAt(lo, hi, p []byte, indices iter.Seq[uint64], fn func(index uint64, value []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	at, valid := uint64(0), false // the iterator's index, if valid
	for i := range indices {
		switch {
		case valid && i == at:
		case valid && i == at+1:
			valid = it.Next()
		default:
			valid = it.SeekGE(indexedKey(p, i))
		}
		if valid {
			k := it.Key()
			at = binary.BigEndian.Uint64(k[len(k)-8:])
		}
		if !valid || at != i {
			if err := it.Error(); err != nil {
				return err
			}
			return fmt.Errorf("record %d is not in the store", i)
		}
		if err := fn(i, it.Value()); err != nil {
			return err
		}
	}
	return it.Error()
}
