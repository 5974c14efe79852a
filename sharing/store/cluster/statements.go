package cluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// Statement returns the statement with CID c, or store.ErrNotFound.
func (s *Store) Statement(c cid.Cid) (*manifest.Statement, error) {
	var body []byte
	err := s.db.QueryRow("SELECT body FROM caravan_statements WHERE cid = ?", c.Bytes()).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return manifest.DecodeStatement(body)
}

// Statements calls fn with every statement, in the order of their binary
// CIDs (as the embedded store's keys).
func (s *Store) Statements(fn func(*manifest.Statement) error) error {
	rows, err := s.db.Query("SELECT cid, body FROM caravan_statements ORDER BY cid")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, body []byte
		if err := rows.Scan(&id, &body); err != nil {
			return err
		}
		st, err := manifest.DecodeStatement(body)
		if err != nil {
			return fmt.Errorf("stored statement %x: %w", id, err)
		}
		if err := fn(st); err != nil {
			return err
		}
	}
	return rows.Err()
}

// PutUnsynced stores statements received from peers. The database commits
// them durably: there is no cheaper write to offer.
func (s *Store) PutUnsynced(sts []*manifest.Statement) error { return s.PutStatements(sts) }

// PutStatements stores statements in one transaction. A statement already
// held is left as it is (the same CID is the same bytes).
func (s *Store) PutStatements(sts []*manifest.Statement) error {
	return s.tx(context.Background(), func(tx *sql.Tx) error { return putStatements(tx, sts, false) })
}

// putStatements inserts sts, in batches of 256 rows.
func putStatements(tx *sql.Tx, sts []*manifest.Statement, hidden bool) error {
	for len(sts) > 0 {
		n := min(len(sts), 256)
		q := "INSERT INTO caravan_statements (cid, body, hidden) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?),", n), ",")
		if hidden {
			q += " ON DUPLICATE KEY UPDATE hidden = TRUE"
		} else {
			q += " ON DUPLICATE KEY UPDATE cid = cid"
		}
		args := make([]any, 0, 3*n)
		for _, st := range sts[:n] {
			args = append(args, st.CID().Bytes(), st.Marshal(), hidden)
		}
		if _, err := tx.Exec(q, args...); err != nil {
			return err
		}
		sts = sts[n:]
	}
	return nil
}

// PutHidden stores statements held but not shared, marked so, and the
// sealed statements announcing them, in one transaction.
func (s *Store) PutHidden(hidden, sealed []*manifest.Statement) error {
	return s.tx(context.Background(), func(tx *sql.Tx) error {
		if err := putStatements(tx, hidden, true); err != nil {
			return err
		}
		return putStatements(tx, sealed, false)
	})
}

// Hidden calls fn with the CID of every statement held but not shared.
func (s *Store) Hidden(fn func(cid.Cid) error) error {
	rows, err := s.db.Query("SELECT cid FROM caravan_statements WHERE hidden ORDER BY cid")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id []byte
		if err := rows.Scan(&id); err != nil {
			return err
		}
		c, err := cid.Cast(id)
		if err != nil {
			return fmt.Errorf("hidden marker %x: %w", id, err)
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// tx runs fn in a transaction, committed if fn succeeds.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
