package sharing

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ipfs/go-cid"
	"go.uber.org/zap"
)

// Key layout in the gateway's Pebble store:
//
//	s/<cid>                    a statement (manifest or retraction), wire bytes
//	m/<manifest cid>           the session id under which its records are stored
//	r/<session>/<index BE64>   a record's canonical bytes
//	p/<session>                a publish in progress (staging); gone once committed
//
// A publish writes its records under a fresh session id, then commits the
// manifest, its m/ entry and the removal of the p/ marker in one synced
// batch. Records of a session that never committed (a failed publish, or a
// crash) are removed by Open, so nothing half-written is ever visible.
const (
	prefixStatement = 's'
	prefixManifest  = 'm'
	prefixRecord    = 'r'
	prefixPending   = 'p'
	sessionLen      = 16
)

// Store keeps statements and records in Pebble.
type Store struct {
	db        *pebble.DB
	closeOnce sync.Once
	closeErr  error
}

// OpenStore opens (or creates) the store in dir and removes the records of
// publishes that never committed.
func OpenStore(dir string, log *zap.Logger) (*Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{log.Sugar()}})
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	s := &Store{db: db}
	if err := s.dropUncommitted(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the store. It may be called more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.db.Close() })
	return s.closeErr
}

func key(prefix byte, parts ...[]byte) []byte {
	k := []byte{prefix, '/'}
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

func (s *Store) get(k []byte) ([]byte, error) {
	v, closer, err := s.db.Get(k)
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// Statement returns the stored statement with CID c.
func (s *Store) Statement(c cid.Cid) (*Statement, error) {
	data, err := s.get(key(prefixStatement, c.Bytes()))
	if err != nil {
		return nil, err
	}
	return DecodeStatement(data)
}

// Statements calls fn with every stored statement, in key order.
func (s *Store) Statements(fn func(*Statement) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixStatement, '/'}, UpperBound: []byte{prefixStatement, '/' + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		st, err := DecodeStatement(it.Value())
		if err != nil {
			return fmt.Errorf("stored statement %x: %w", it.Key(), err)
		}
		if err := fn(st); err != nil {
			return err
		}
	}
	return it.Error()
}

// PutStatement stores a statement received from a peer.
func (s *Store) PutStatement(st *Statement) error {
	return s.db.Set(key(prefixStatement, st.CID().Bytes()), st.Marshal(), pebble.Sync)
}

// session is a publish in progress.
type session struct {
	s     *Store
	id    []byte
	batch *pebble.Batch
}

func (s *Store) newSession() (*session, error) {
	id := make([]byte, sessionLen)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	if err := s.db.Set(key(prefixPending, id), nil, pebble.Sync); err != nil {
		return nil, err
	}
	return &session{s: s, id: id, batch: s.db.NewBatch()}, nil
}

func recordKey(session []byte, index uint64) []byte {
	k := key(prefixRecord, session)
	return binary.BigEndian.AppendUint64(k, index)
}

// add stages records; they are flushed without fsync (commit syncs).
func (ss *session) add(recs []Record) error {
	for _, r := range recs {
		if err := ss.batch.Set(recordKey(ss.id, r.Index), r.Canonical, nil); err != nil {
			return err
		}
	}
	if ss.batch.Len() >= 4<<20 {
		if err := ss.batch.Commit(pebble.NoSync); err != nil {
			return err
		}
		ss.batch = ss.s.db.NewBatch()
	}
	return nil
}

// commit makes the session's records and the manifest visible at once.
func (ss *session) commit(st *Statement) error {
	if err := ss.batch.Commit(pebble.NoSync); err != nil {
		return err
	}
	b := ss.s.db.NewBatch()
	b.Set(key(prefixStatement, st.CID().Bytes()), st.Marshal(), nil)
	b.Set(key(prefixManifest, st.CID().Bytes()), ss.id, nil)
	b.Delete(key(prefixPending, ss.id), nil)
	return b.Commit(pebble.Sync)
}

// abort removes the session's records.
func (ss *session) abort() error {
	ss.batch.Close()
	return ss.s.dropSession(ss.id)
}

func (s *Store) dropSession(id []byte) error {
	b := s.db.NewBatch()
	b.DeleteRange(key(prefixRecord, id), key(prefixRecord, append(append([]byte(nil), id...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), nil)
	b.Delete(key(prefixPending, id), nil)
	return b.Commit(pebble.Sync)
}

func (s *Store) dropUncommitted() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixPending, '/'}, UpperBound: []byte{prefixPending, '/' + 1}})
	if err != nil {
		return err
	}
	var sessions [][]byte
	for it.First(); it.Valid(); it.Next() {
		sessions = append(sessions, append([]byte(nil), it.Key()[2:]...))
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return err
	}
	for _, id := range sessions {
		if err := s.dropSession(id); err != nil {
			return err
		}
	}
	return nil
}

// Records calls fn with the canonical bytes of each record of a manifest,
// in order. It fails with pebble.ErrNotFound if the store does not hold the
// manifest's records (a peer's manifest, whose records are fetched later).
func (s *Store) Records(manifest cid.Cid, fn func(index uint64, canonical []byte) error) error {
	id, err := s.get(key(prefixManifest, manifest.Bytes()))
	if err != nil {
		return err
	}
	lo := recordKey(id, 0)
	hi := key(prefixRecord, append(append([]byte(nil), id...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
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

// pebbleLogger sends Pebble's log to zap: its routine messages at Debug.
type pebbleLogger struct{ s *zap.SugaredLogger }

func (l pebbleLogger) Infof(format string, args ...any)  { l.s.Debugf(format, args...) }
func (l pebbleLogger) Errorf(format string, args ...any) { l.s.Errorf(format, args...) }
func (l pebbleLogger) Fatalf(format string, args ...any) { l.s.Fatalf(format, args...) }

var _ io.Closer = (*Store)(nil)

// StoreStats counts what the store holds.
type StoreStats struct {
	Statements, Records, Pending int
}

// Stats counts the store's statements, records and uncommitted publishes.
func (s *Store) Stats() (StoreStats, error) {
	var st StoreStats
	for _, c := range []struct {
		prefix byte
		n      *int
	}{{prefixStatement, &st.Statements}, {prefixRecord, &st.Records}, {prefixPending, &st.Pending}} {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{c.prefix, '/'}, UpperBound: []byte{c.prefix, '/' + 1}})
		if err != nil {
			return st, err
		}
		for it.First(); it.Valid(); it.Next() {
			*c.n++
		}
		if err := errors.Join(it.Error(), it.Close()); err != nil {
			return st, err
		}
	}
	return st, nil
}

// ReadStats counts what the store in dir holds without changing it (in
// particular, without dropping uncommitted publishes, as OpenStore does).
// The store must not be open elsewhere.
func ReadStats(dir string) (StoreStats, error) {
	db, err := pebble.Open(dir, &pebble.Options{ReadOnly: true, Logger: pebbleLogger{zap.NewNop().Sugar()}})
	if err != nil {
		return StoreStats{}, err
	}
	defer db.Close()
	return (&Store{db: db}).Stats()
}
