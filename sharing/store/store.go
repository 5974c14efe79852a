// Package store keeps what a gateway holds: the statements of its catalog,
// the records of this org's datasets with their policy-attribute
// projections, the records it fetched from partners, and the fetch
// protocol's nonces. interfaces.go names what each flow uses (Store);
// this file and its neighbours are the embedded implementation, in
// Pebble (keys.go lays out every key); sharing/store/cluster is the one on
// MariaDB and S3-compatible storage.
//
// Bulk writes (a publish, a fetch response) are staged in sstables under
// DIR/staging and ingested whole, so that nothing half-written is ever
// visible: Open removes what a crash left behind.
package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ipfs/go-cid"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// Embedded is the store of a single-node gateway: statements and records
// in Pebble, in its data directory.
type Embedded struct {
	db        *pebble.DB
	opts      *pebble.Options
	staging   string // directory of sstables being written
	closeOnce sync.Once
	closeErr  error
}

var _ io.Closer = (*Embedded)(nil)

// OpenEmbedded opens (or creates) the embedded store in dir and removes the records of
// publishes that never committed.
func OpenEmbedded(dir string, log *zap.Logger) (*Embedded, error) {
	return open(dir, options(log))
}

// options are the store's Pebble options: Pebble's newest format and its
// fastest compression, MinLZ on amd64 (Snappy on arm64). A store made by an
// older Caravan, in an older format with Snappy, is upgraded in place when
// opened (Pebble ratchets the format; old tables stay readable and are
// recompressed as compactions rewrite them). MinLZ compresses and
// decompresses faster than Snappy, and smaller: publishing 1M records made
// a store 7% smaller.
func options(log *zap.Logger) *pebble.Options {
	if log == nil {
		log = zap.NewNop()
	}
	opts := &pebble.Options{Logger: pebbleLogger{log.Sugar()}, FormatMajorVersion: pebble.FormatNewest}
	opts.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionFastest })
	opts.EnsureDefaults() // MakeWriterOptions needs them; Open fills only its copy
	return opts
}

func open(dir string, opts *pebble.Options) (*Embedded, error) {
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	s := &Embedded{db: db, opts: opts, staging: filepath.Join(dir, "staging")}
	if err := s.dropUncommitted(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the store. It may be called more than once.
func (s *Embedded) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.db.Close() })
	return s.closeErr
}

func (s *Embedded) get(k []byte) ([]byte, error) {
	v, closer, err := s.db.Get(k)
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// Statement returns the stored statement with CID c.
func (s *Embedded) Statement(c cid.Cid) (*manifest.Statement, error) {
	data, err := s.get(key(prefixStatement, c.Bytes()))
	if err != nil {
		return nil, err
	}
	return manifest.DecodeStatement(data)
}

// Statements calls fn with every stored statement, in key order.
func (s *Embedded) Statements(fn func(*manifest.Statement) error) error {
	lo, hi := prefixRange(prefixStatement)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		st, err := manifest.DecodeStatement(bytes.Clone(it.Value())) // the iterator reuses its memory
		if err != nil {
			return fmt.Errorf("stored statement %x: %w", it.Key(), err)
		}
		if err := fn(st); err != nil {
			return err
		}
	}
	return it.Error()
}

// PutUnsynced stores statements received from peers. They are written to
// Pebble's log but not fsynced: they survive a crash of the process, and
// any lost to a crash of the machine come back by catch-up, since every
// other member holds them. An fsync per gossiped statement made delivery
// p99 3-7 times slower than bare GossipSub.
func (s *Embedded) PutUnsynced(sts []*manifest.Statement) error {
	return s.putStatements(sts, pebble.NoSync)
}

// PutStatements stores statements in one synced batch.
func (s *Embedded) PutStatements(sts []*manifest.Statement) error {
	return s.putStatements(sts, pebble.Sync)
}

func (s *Embedded) putStatements(sts []*manifest.Statement, opts *pebble.WriteOptions) error {
	b := s.db.NewBatch()
	for _, st := range sts {
		if err := b.Set(key(prefixStatement, st.CID().Bytes()), st.Marshal(), nil); err != nil {
			b.Close()
			return err
		}
	}
	return b.Commit(opts)
}

// PutHidden stores statements that are held but not shared (a sealed
// dataset's manifest or retraction: its owner's own, or revealed to this
// org), each with its marker, and the sealed statements announcing them
// (shared), in one synced batch.
func (s *Embedded) PutHidden(hidden, sealed []*manifest.Statement) error {
	b := s.db.NewBatch()
	for _, st := range hidden {
		b.Set(key(prefixStatement, st.CID().Bytes()), st.Marshal(), nil)
		b.Set(key(prefixHidden, st.CID().Bytes()), nil, nil)
	}
	for _, st := range sealed {
		b.Set(key(prefixStatement, st.CID().Bytes()), st.Marshal(), nil)
	}
	return b.Commit(pebble.Sync)
}

// Hidden calls fn with the CID of every statement held but not shared.
func (s *Embedded) Hidden(fn func(cid.Cid) error) error {
	lo, hi := prefixRange(prefixHidden)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		c, err := cid.Cast(it.Key()[2:])
		if err != nil {
			return fmt.Errorf("hidden marker %x: %w", it.Key(), err)
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return it.Error()
}

// Stats counts what the store holds.
type Stats struct {
	Statements, Records, Pending int
}

// Stats counts the store's statements, records and uncommitted publishes.
func (s *Embedded) Stats() (Stats, error) {
	var st Stats
	for _, c := range []struct {
		prefix byte
		n      *int
	}{{prefixStatement, &st.Statements}, {prefixRecord, &st.Records}, {prefixPending, &st.Pending}} {
		lo, hi := prefixRange(c.prefix)
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
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
// particular, without dropping uncommitted publishes, as Open does). The
// store must not be open elsewhere.
func ReadStats(dir string) (Stats, error) {
	db, err := pebble.Open(dir, &pebble.Options{ReadOnly: true, Logger: pebbleLogger{zap.NewNop().Sugar()}})
	if err != nil {
		return Stats{}, err
	}
	defer db.Close()
	return (&Embedded{db: db}).Stats()
}

// pebbleLogger sends Pebble's log to zap: its routine messages at Debug.
type pebbleLogger struct{ s *zap.SugaredLogger }

func (l pebbleLogger) Infof(format string, args ...any)  { l.s.Debugf(format, args...) }
func (l pebbleLogger) Errorf(format string, args ...any) { l.s.Errorf(format, args...) }
func (l pebbleLogger) Fatalf(format string, args ...any) { l.s.Fatalf(format, args...) }
