// Package cluster is the store of a gateway whose organization runs
// several nodes: the catalog, the datasets' bookkeeping, publishes in
// progress, fetched records' index, nonces, the policy volume ledger and
// the nodes' shared bookkeeping in a MySQL-compatible database (MariaDB;
// its schema in migrations.go), and records, attribute projections,
// record trees and fetched records as objects in an S3-compatible bucket,
// 1,024 consecutive records to an object. Every node of the org opens the
// same database and bucket: what one node publishes, another serves.
//
// The bytes are the embedded store's (sharing/store): the same canonical
// records, projections and statements, so CIDs, trees and evidence do
// not depend on where a gateway keeps them.
package cluster

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/internal/clusterconn"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// Object key prefixes in the bucket (the journal's tiles are under
// journal/).
const (
	prefixData    = "data/"    // data/<session>/g/<group> (datasets.go), data/<session>/tree
	prefixFetched = "fetched/" // fetched/<stage>/<first index>
)

// StaleSession is how long a publish may go without writing before any
// node takes it for dead (its node crashed) and removes what it staged.
const StaleSession = 10 * time.Minute

// Store is the cluster store.
type Store struct {
	db     *sql.DB
	bucket *bucket
	log    *zap.Logger
	stale  time.Duration

	mu       sync.Mutex
	datasets map[string]dataset // committed datasets: immutable once there

	stop      context.CancelFunc
	swept     chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Options tune Open; the zero value is the default.
type Options struct {
	// StaleSession overrides StaleSession (tests).
	StaleSession time.Duration
	Log          *zap.Logger
}

// Open connects to the cluster's database and bucket, brings the schema to
// this build's version, and removes publishes left stale by a crashed
// node (then again every minute).
func Open(ctx context.Context, conn clusterconn.Conn, opts Options) (*Store, error) {
	db, err := conn.OpenDB()
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("cluster database: %w", err)
	}
	if err := Migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.StaleSession <= 0 {
		opts.StaleSession = StaleSession
	}
	s := &Store{db: db, bucket: newBucket(conn.S3(), conn.Bucket),
		log: opts.Log, stale: opts.StaleSession, datasets: map[string]dataset{}, swept: make(chan struct{})}
	if _, err := s.SweepStale(ctx); err != nil {
		db.Close()
		return nil, err
	}
	bg, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go s.sweepLoop(bg)
	return s, nil
}

func (s *Store) sweepLoop(ctx context.Context) {
	defer close(s.swept)
	t := time.NewTicker(min(time.Minute, s.stale))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := s.SweepStale(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("removing stale publishes", zap.Error(err))
		} else if n > 0 {
			s.log.Info("removed stale publishes", zap.Int("publishes", n))
		}
	}
}

// SweepStale removes the publishes that have not written for the stale
// duration: their node died before committing. Nothing of them was ever
// visible.
func (s *Store) SweepStale(ctx context.Context) (int, error) {
	cutoff := time.Now().Add(-s.stale).UnixMilli()
	rows, err := s.db.QueryContext(ctx, "SELECT session FROM caravan_sessions WHERE touched < ?", cutoff)
	if err != nil {
		return 0, fmt.Errorf("cluster database: %w", err)
	}
	var ids [][]byte
	for rows.Next() {
		var id []byte
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := s.dropSession(ctx, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

func (s *Store) dropSession(ctx context.Context, id []byte) error {
	if err := s.bucket.removePrefix(ctx, prefixData+hex.EncodeToString(id)+"/"); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, "DELETE FROM caravan_sessions WHERE session = ?", id)
	return err
}

// Close stops the sweeper and closes the database. It may be called more
// than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.stop()
		<-s.swept
		s.closeErr = s.db.Close()
		clusterconn.CloseIdle()
	})
	return s.closeErr
}

// Stats counts the statements and records held, and the publishes in
// progress.
func (s *Store) Stats() (store.Stats, error) {
	var st store.Stats
	err := s.db.QueryRow(`SELECT
		(SELECT COUNT(*) FROM caravan_statements),
		(SELECT COALESCE(SUM(records), 0) FROM caravan_datasets),
		(SELECT COUNT(*) FROM caravan_sessions)`).Scan(&st.Statements, &st.Records, &st.Pending)
	return st, err
}
