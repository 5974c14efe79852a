package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/ipfs/go-cid"
)

// What the fetch protocol keeps: nonces and commitment salts on the
// provider's side, verified records on the requester's (keys.go).

// MarkNonce records a request nonce until expiry. It reports false if the
// nonce was already recorded (a replay). The record is written to Pebble's
// log but not synced: it survives the gateway's crash or restart, not the
// machine's. A decision's durable record is its journal entry, which names
// the request's hash: a request replayed by its own requester after a
// machine crash, within its time window, would show there as a second
// decision on the same request. Syncing the nonce cost an fsync per
// request, refused or not.
func (s *Embedded) MarkNonce(nonce string, expiry time.Time) (bool, error) {
	k := key(prefixNonce, []byte(nonce))
	if _, err := s.get(k); err == nil {
		return false, nil
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return false, err
	}
	v := binary.BigEndian.AppendUint64(nil, uint64(expiry.Unix()))
	return true, s.db.Set(k, v, pebble.NoSync)
}

// PurgeNonces removes the nonces that expired before now.
func (s *Embedded) PurgeNonces(now time.Time) (int, error) {
	lo, hi := prefixRange(prefixNonce)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
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

// fetchedPrefix is the key prefix of the records fetched for a manifest and
// a purpose. Records are kept per purpose: what was permitted for one
// purpose is not what another was.
func fetchedPrefix(manifest cid.Cid, purpose string) []byte {
	k := key(prefixFetched, manifest.Bytes(), []byte{'/'})
	k = binary.AppendUvarint(k, uint64(len(purpose)))
	return append(append(k, purpose...), '/')
}

// stage (the embedded Stage) stages the verified records of one fetch response in an sstable
// (they arrive in index order), which Commit ingests when the response
// ends, completely or not, so that a fetch resumes after what it kept; a
// response that fails verification is dropped whole by Abort. Like a
// publish, this spares the memtable, the write-ahead log and the flushes:
// fetching is bulk loading too.
type stage struct {
	s      *Embedded
	prefix []byte // fetchedPrefix
	path   string
	w      *sstable.Writer // nil until the first record
}

// NewStage starts staging the records fetched for a manifest and a purpose.
func (s *Embedded) NewStage(manifest cid.Cid, purpose string) (Stage, error) {
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return &stage{s: s, prefix: fetchedPrefix(manifest, purpose), path: filepath.Join(s.staging, "fetch-"+hex.EncodeToString(id)+".sst")}, nil
}

// Put stages a verified record; indices must ascend.
func (fs *stage) Put(index uint64, canonical []byte) error {
	if fs.w == nil {
		var err error
		if fs.w, err = fs.s.stagingWriter(fs.path); err != nil {
			return err
		}
	}
	if err := fs.w.Set(indexedKey(fs.prefix, index), canonical); err != nil {
		return fmt.Errorf("record %d: %w", index, err)
	}
	return nil
}

// Commit makes the staged records durable and visible: the sstable is
// synced by Close, and ingestion syncs Pebble's manifest.
func (fs *stage) Commit() error {
	if fs.w == nil {
		return nil
	}
	w := fs.w
	fs.w = nil
	if err := w.Close(); err != nil {
		os.Remove(fs.path)
		return err
	}
	if err := fs.s.db.Ingest(context.Background(), []string{fs.path}); err != nil {
		os.Remove(fs.path)
		return err
	}
	return nil
}

// Abort drops the staged records.
func (fs *stage) Abort() {
	if fs.w != nil {
		fs.w.Close()
		fs.w = nil
	}
	os.Remove(fs.path)
}

// Fetched calls fn with each stored record fetched for a manifest and a
// purpose, in order.
func (s *Embedded) Fetched(manifest cid.Cid, purpose string, fn func(index uint64, canonical []byte) error) error {
	lo := fetchedPrefix(manifest, purpose)
	return s.indexed(lo, indexedUpper(lo), fn)
}
