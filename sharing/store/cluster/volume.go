package cluster

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Volume is the policy volume ledger (released_today) in the cluster's
// database: one row per UTC day and org, shared by every node of the
// organization, so that the daily count is exact however fetches spread
// across nodes. It is a policy.Volume.
type Volume struct{ db *sql.DB }

// Volume returns the store's volume ledger.
func (s *Store) Volume() *Volume { return &Volume{db: s.db} }

// volumeDays is how many UTC days of counts are kept (as the file ledger).
const volumeDays = 2

// Released is how many records were released to org on day.
func (v *Volume) Released(day, org string) (int64, error) {
	var n int64
	err := v.db.QueryRow("SELECT released FROM caravan_volume WHERE day = ? AND org = ?", day, org).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// Update runs fn on org's count for day with the row locked (SELECT ...
// FOR UPDATE), and commits what fn returns: a fetch of the same org on
// another node waits for the lock, then counts from here. A deadlock or a
// lock wait timeout is retried, fn with it.
func (v *Volume) Update(day, org string, fn func(released int64) int64) error {
	ctx := context.Background()
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = v.update(ctx, day, org, fn); !retryable(err) {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
	}
	return err
}

func (v *Volume) update(ctx context.Context, day, org string, fn func(int64) int64) error {
	// The row exists before it is locked: two nodes inserting it at once
	// would otherwise deadlock on the gap.
	if _, err := v.db.ExecContext(ctx, "INSERT INTO caravan_volume (day, org, released) VALUES (?, ?, 0) ON DUPLICATE KEY UPDATE released = released", day, org); err != nil {
		return err
	}
	tx, err := v.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int64
	if err := tx.QueryRowContext(ctx, "SELECT released FROM caravan_volume WHERE day = ? AND org = ? FOR UPDATE", day, org).Scan(&n); err != nil {
		return err
	}
	if m := fn(n); m != n {
		if _, err := tx.ExecContext(ctx, "UPDATE caravan_volume SET released = ? WHERE day = ? AND org = ?", m, day, org); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Commit removes the counts of days past keeping; each Update is durable
// when it returns.
func (v *Volume) Commit() error {
	cutoff := time.Now().UTC().AddDate(0, 0, -volumeDays).Format(time.DateOnly)
	_, err := v.db.Exec("DELETE FROM caravan_volume WHERE day <= ?", cutoff)
	return err
}

// retryable: MariaDB's deadlock (1213) and lock wait timeout (1205).
func retryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}
