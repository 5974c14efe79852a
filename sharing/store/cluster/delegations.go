package cluster

// SharedDelegations returns the node delegations the org's nodes share, as
// signed, by org.
func (s *Shared) SharedDelegations() (map[string][]byte, error) {
	rows, err := s.db.Query("SELECT name, value FROM caravan_bookkeeping WHERE name LIKE 'delegation:%'")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var name string
		var data []byte
		if err := rows.Scan(&name, &data); err != nil {
			return nil, err
		}
		out[name[len("delegation:"):]] = data
	}
	return out, rows.Err()
}

// ShareDelegation keeps a delegation (as signed) for the org's nodes; the
// caller has checked that it is newer than the one it replaces.
func (s *Shared) ShareDelegation(org string, data []byte) error {
	_, err := s.db.Exec("INSERT INTO caravan_bookkeeping (name, value) VALUES (?, ?) ON DUPLICATE KEY UPDATE value = VALUES(value)",
		"delegation:"+org, data)
	return err
}
