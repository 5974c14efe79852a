package cluster

import (
	"context"
	"database/sql"
	"errors"
)

// Shared is what the org's nodes share besides the store's data: the marks
// of what was journaled once for the org, the policy files and the node
// delegations (policy.go, delegations.go).
type Shared struct{ db *sql.DB }

// Shared returns the store's shared bookkeeping.
func (s *Store) Shared() *Shared { return &Shared{db: s.db} }

// Once runs fn unless kind's mark is value, then marks it, with the mark's
// row locked throughout: of the org's nodes, one runs fn for a value (the
// journal's roster and policy entries, made once per change however many
// nodes start on it). A failing fn marks nothing.
func (s *Shared) Once(kind, value string, fn func() error) error {
	ctx := context.Background()
	if _, err := s.db.ExecContext(ctx, "INSERT INTO caravan_bookkeeping (name, value) VALUES (?, '') ON DUPLICATE KEY UPDATE name = name", "mark:"+kind); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var have []byte
	err = tx.QueryRowContext(ctx, "SELECT value FROM caravan_bookkeeping WHERE name = ? FOR UPDATE", "mark:"+kind).Scan(&have)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if string(have) == value {
		return nil
	}
	if err := fn(); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE caravan_bookkeeping SET value = ? WHERE name = ?", value, "mark:"+kind); err != nil {
		return err
	}
	return tx.Commit()
}
