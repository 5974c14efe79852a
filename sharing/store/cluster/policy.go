package cluster

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// SharedPolicy returns the policy files the org's nodes share, and their
// bundle's CID ("" if none was shared yet).
func (s *Shared) SharedPolicy() (string, map[string][]byte, error) {
	var bundle string
	var data []byte
	err := s.db.QueryRow("SELECT bundle, files FROM caravan_policy WHERE id = 1").Scan(&bundle, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	var files map[string][]byte
	if err := json.Unmarshal(data, &files); err != nil {
		return "", nil, fmt.Errorf("shared policy files: %w", err)
	}
	return bundle, files, nil
}

// ShareBundle makes files (bundle's) the org's shared policy files.
func (s *Shared) ShareBundle(bundle string, files map[string][]byte) error {
	data, err := json.Marshal(files)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(`INSERT INTO caravan_policy (id, bundle, files, changed) VALUES (1, ?, ?, ?)
		ON DUPLICATE KEY UPDATE bundle = VALUES(bundle), files = VALUES(files), changed = VALUES(changed)`,
		bundle, data, time.Now().UnixMilli())
	return err
}
