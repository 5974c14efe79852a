package cluster

import (
	"time"
)

// MarkNonce records a request nonce until expiry, for every node of the
// org: the primary key makes the first node to record it the only one, so
// a request replayed to another node is refused there. It reports false
// for a replay. The row is committed before the request is decided.
func (s *Store) MarkNonce(nonce string, expiry time.Time) (bool, error) {
	res, err := s.db.Exec("INSERT INTO caravan_nonces (nonce, expiry) VALUES (?, ?) ON DUPLICATE KEY UPDATE nonce = nonce", []byte(nonce), expiry.Unix())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// PurgeNonces removes the nonces that expired before now.
func (s *Store) PurgeNonces(now time.Time) (int, error) {
	res, err := s.db.Exec("DELETE FROM caravan_nonces WHERE expiry < ?", now.Unix())
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
