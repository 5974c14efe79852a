package sharing

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ipfs/go-cid"
	"go.uber.org/zap"
)

// Key layout in the gateway's Pebble store:
//
//	s/<cid>                    a statement (manifest or retraction), wire bytes
//	m/<manifest cid>           the session id under which its records are stored
//	r/<session>/<index BE64>   a record's canonical bytes
//	a/<session>/<index BE64>   a record's CID and the canonical projection of
//	                           its policy attributes (what a fetch decides on)
//	p/<session>                a publish in progress (staging); gone once committed
//
// A publish marks a fresh session id pending (p/), streams its records into
// an sstable under DIR/staging (they are sorted by construction), ingests
// that file at commit, then writes the manifest, its m/ entry and the
// removal of the marker in one synced batch. Ingestion bypasses the WAL,
// the memtable and most compaction work: bulk loading is what publish is.
// Records of a session that never committed (a failed publish, or a crash
// before or after the ingestion) are removed by OpenStore, with any staging
// file, so nothing half-written is ever visible.
const (
	prefixStatement = 's'
	prefixManifest  = 'm'
	prefixRecord    = 'r'
	prefixPending   = 'p'
	prefixAttrs     = 'a'
	sessionLen      = 16
)

// Store keeps statements and records in Pebble.
type Store struct {
	db        *pebble.DB
	opts      *pebble.Options
	staging   string // directory of sstables being written
	closeOnce sync.Once
	closeErr  error
}

// OpenStore opens (or creates) the store in dir and removes the records of
// publishes that never committed.
func OpenStore(dir string, log *zap.Logger) (*Store, error) {
	return openStore(dir, storeOptions(log))
}

// storeOptions are the store's Pebble options: Pebble's newest format and
// its fastest compression, MinLZ on amd64 (Snappy on arm64). A store made
// by an older Caravan, in an older format with Snappy, is upgraded in place
// when opened (Pebble ratchets the format; old tables stay readable and are
// recompressed as compactions rewrite them). MinLZ compresses and
// decompresses faster than Snappy, and smaller: publishing 1M records made
// a store 7% smaller.
func storeOptions(log *zap.Logger) *pebble.Options {
	if log == nil {
		log = zap.NewNop()
	}
	opts := &pebble.Options{Logger: pebbleLogger{log.Sugar()}, FormatMajorVersion: pebble.FormatNewest}
	opts.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionFastest })
	opts.EnsureDefaults() // MakeWriterOptions needs them; Open fills only its copy
	return opts
}

func openStore(dir string, opts *pebble.Options) (*Store, error) {
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	s := &Store{db: db, opts: opts, staging: filepath.Join(dir, "staging")}
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

// putUnsynced stores statements received from peers. They are written to
// Pebble's log but not fsynced: they survive a crash of the process, and
// any lost to a crash of the machine come back by catch-up, since every
// other member holds them. An fsync per gossiped statement made delivery
// p99 3-7 times slower than bare GossipSub.
func (s *Store) putUnsynced(sts []*Statement) error { return s.putStatements(sts, pebble.NoSync) }

// PutStatements stores statements in one synced batch.
func (s *Store) PutStatements(sts []*Statement) error {
	return s.putStatements(sts, pebble.Sync)
}

func (s *Store) putStatements(sts []*Statement, opts *pebble.WriteOptions) error {
	b := s.db.NewBatch()
	for _, st := range sts {
		if err := b.Set(key(prefixStatement, st.CID().Bytes()), st.Marshal(), nil); err != nil {
			b.Close()
			return err
		}
	}
	return b.Commit(opts)
}

// session is a publish in progress.
type session struct {
	s     *Store
	id    []byte
	path  string          // the staging sstable of records
	w     *sstable.Writer // nil until the first record
	apath string          // the staging sstable of attribute projections
	aw    *sstable.Writer
	buf   []byte
}

func (s *Store) newSession() (*session, error) {
	id := make([]byte, sessionLen)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	if err := s.db.Set(key(prefixPending, id), nil, pebble.Sync); err != nil {
		return nil, err
	}
	return &session{s: s, id: id, path: filepath.Join(s.staging, hex.EncodeToString(id)+".sst"),
		apath: filepath.Join(s.staging, hex.EncodeToString(id)+".attrs.sst")}, nil
}

// sessionBounds returns the key range that holds a session's records.
func sessionBounds(session []byte) (lo, hi []byte) {
	return prefixBounds(prefixRecord, session)
}

func prefixBounds(prefix byte, session []byte) (lo, hi []byte) {
	p := key(prefix, session)
	return binary.BigEndian.AppendUint64(p, 0), indexedUpper(p)
}

// indexedUpper bounds from above the keys p + <index BE64>.
func indexedUpper(p []byte) []byte {
	return append(p[:len(p):len(p)], 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
}

func recordKey(session []byte, index uint64) []byte {
	k := key(prefixRecord, session)
	return binary.BigEndian.AppendUint64(k, index)
}

// add writes records, in index order, to the session's sstable.
func (ss *session) add(recs []Record) error {
	if ss.w == nil {
		var err error
		if ss.w, err = ss.s.stagingWriter(ss.path); err != nil {
			return err
		}
		if ss.aw, err = ss.s.stagingWriter(ss.apath); err != nil {
			return err
		}
	}
	for _, r := range recs {
		if err := ss.w.Set(recordKey(ss.id, r.Index), r.Canonical); err != nil {
			return err
		}
		if err := ss.aw.Set(binary.BigEndian.AppendUint64(key(prefixAttrs, ss.id), r.Index), ss.projection(r)); err != nil {
			return err
		}
	}
	return nil
}

// writerOptions are those of the sstables that publishes and fetches write
// and ingest. Blocks of 32 KiB rather than Pebble's 4 KiB: a dataset is
// written once and read in order, and larger blocks compress better and
// cost less per byte (publishing 1M records: 10.1-10.3 s against 11.1-11.5 s
// in alternating runs).
func (s *Store) writerOptions() sstable.WriterOptions {
	wo := s.opts.MakeWriterOptions(0, s.db.FormatMajorVersion().MaxTableFormat())
	wo.BlockSize = 32 << 10
	return wo
}

// stagingWriter creates a staging sstable at path (in the staging
// directory) to be ingested later. The file is written back to disk as it
// grows (sync_file_range every MiB, as Pebble does for its own tables), so
// that the sync before ingestion has little left to do.
func (s *Store) stagingWriter(path string) (*sstable.Writer, error) {
	if err := os.MkdirAll(s.staging, 0o700); err != nil {
		return nil, err
	}
	f, err := vfs.Default.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, err
	}
	f = vfs.NewSyncingFile(f, vfs.SyncingFileOptions{BytesPerSync: 1 << 20})
	return sstable.NewWriter(objstorageprovider.NewFileWritable(f), s.writerOptions()), nil
}

// projection is a record's CID (length-prefixed) and the canonical JSON
// object of its policy attributes. The value is valid until the next call.
func (ss *session) projection(r Record) []byte {
	c := r.CID.Bytes()
	v := append(ss.buf[:0], byte(len(c)))
	v = append(v, c...)
	ss.buf = append(v, r.Attributes...)
	return ss.buf
}

// commit makes the session's records and the manifest visible: the
// records by ingesting the sstable (synced by Close), then the manifest and
// the removal of the pending marker in one synced batch.
func (ss *session) commit(st *Statement) error {
	if ss.w != nil {
		if err := ss.w.Close(); err != nil {
			return err
		}
		if err := ss.aw.Close(); err != nil {
			return err
		}
		ss.w, ss.aw = nil, nil
		if err := ss.s.db.Ingest(context.Background(), []string{ss.apath, ss.path}); err != nil {
			return err
		}
	}
	b := ss.s.db.NewBatch()
	b.Set(key(prefixStatement, st.CID().Bytes()), st.Marshal(), nil)
	b.Set(key(prefixManifest, st.CID().Bytes()), ss.id, nil)
	b.Delete(key(prefixPending, ss.id), nil)
	return b.Commit(pebble.Sync)
}

// abort removes the session's records and staging file.
func (ss *session) abort() error {
	if ss.w != nil {
		ss.w.Close()
		ss.aw.Close()
		ss.w, ss.aw = nil, nil
	}
	os.Remove(ss.path)
	os.Remove(ss.apath)
	return ss.s.dropSession(ss.id)
}

func (s *Store) dropSession(id []byte) error {
	b := s.db.NewBatch()
	lo, hi := sessionBounds(id)
	b.DeleteRange(lo, hi, nil)
	alo, ahi := prefixBounds(prefixAttrs, id)
	b.DeleteRange(alo, ahi, nil)
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
	// Staging files of publishes that never committed.
	if err := os.RemoveAll(s.staging); err != nil {
		return err
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
	lo, hi := sessionBounds(id)
	return s.indexed(lo, hi, fn)
}

// indexed calls fn for each key in [lo, hi), whose last 8 bytes are a
// big-endian index, with that index and the value (valid only during fn).
func (s *Store) indexed(lo, hi []byte, fn func(index uint64, value []byte) error) error {
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

// Attributes calls fn with each record's CID and the canonical projection of
// its policy attributes, in order. It returns ErrNoAttributes for a dataset
// stored before projections existed.
func (s *Store) Attributes(manifest cid.Cid, fn func(index uint64, c cid.Cid, projection []byte) error) error {
	id, err := s.get(key(prefixManifest, manifest.Bytes()))
	if err != nil {
		return err
	}
	lo, hi := prefixBounds(prefixAttrs, id)
	seen := false
	err = s.indexed(lo, hi, func(i uint64, v []byte) error {
		seen = true
		if len(v) == 0 || int(v[0])+1 > len(v) {
			return fmt.Errorf("attributes of record %d: malformed", i)
		}
		_, c, err := cid.CidFromBytes(v[1 : 1+int(v[0])])
		if err != nil {
			return fmt.Errorf("attributes of record %d: %w", i, err)
		}
		return fn(i, c, v[1+int(v[0]):])
	})
	if err == nil && !seen {
		return ErrNoAttributes
	}
	return err
}

// ErrNoAttributes: the store has no attribute projections for a dataset.
var ErrNoAttributes = errors.New("no attribute projections stored for this dataset")

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
