package sharing

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ipfs/go-cid"
)

// Keys of the fetch protocol in the store:
//
//	n/<nonce>                      a fetch request nonce seen, with its expiry (provider)
//	c/<request hash>               the salt of a decision's commitment (provider)
//	f/<manifest cid>/<index BE64>  a record received and verified (requester)
const (
	prefixNonce   = 'n'
	prefixSalt    = 'c'
	prefixFetched = 'f'
)

// MarkNonce records a request nonce until expiry. It reports false if the
// nonce was already recorded (a replay). The record is synced, so a replay
// is refused after a restart too.
func (s *Store) MarkNonce(nonce string, expiry time.Time) (bool, error) {
	k := key(prefixNonce, []byte(nonce))
	if _, err := s.get(k); err == nil {
		return false, nil
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return false, err
	}
	v := binary.BigEndian.AppendUint64(nil, uint64(expiry.Unix()))
	return true, s.db.Set(k, v, pebble.Sync)
}

// PurgeNonces removes the nonces that expired before now.
func (s *Store) PurgeNonces(now time.Time) (int, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixNonce, '/'}, UpperBound: []byte{prefixNonce, '/' + 1}})
	if err != nil {
		return 0, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		v := it.Value()
		if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) < now.Unix() {
			if err := b.Delete(append([]byte(nil), it.Key()...), nil); err != nil {
				it.Close()
				return 0, err
			}
			n++
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return 0, err
	}
	return n, b.Commit(pebble.Sync)
}

// PutSalt keeps the salt of a decision's commitment, by request hash.
func (s *Store) PutSalt(request string, salt []byte) error {
	return s.db.Set(key(prefixSalt, []byte(request)), salt, pebble.Sync)
}

func fetchedKey(manifest cid.Cid, index uint64) []byte {
	return binary.BigEndian.AppendUint64(key(prefixFetched, manifest.Bytes(), []byte{'/'}), index)
}

// PutFetched stores verified records of a manifest; SyncFetched makes them
// durable (a fetch syncs once at its end).
func (s *Store) PutFetched(manifest cid.Cid, recs []chunkRecord) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, r := range recs {
		if err := b.Set(fetchedKey(manifest, r.Index), r.Data, nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.NoSync)
}

// SyncFetched makes the fetched records written so far durable.
func (s *Store) SyncFetched() error { return s.db.LogData(nil, pebble.Sync) }

// DeleteFetched removes records of a manifest (those of a response that
// failed verification).
func (s *Store) DeleteFetched(manifest cid.Cid, indices []uint64) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, i := range indices {
		if err := b.Delete(fetchedKey(manifest, i), nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
}

// Fetched calls fn with each stored record fetched for a manifest, in order.
func (s *Store) Fetched(manifest cid.Cid, fn func(index uint64, canonical []byte) error) error {
	lo := key(prefixFetched, manifest.Bytes(), []byte{'/'})
	hi := append(append([]byte(nil), lo[:len(lo)-1]...), '/'+1)
	return s.indexed(lo, hi, fn)
}
