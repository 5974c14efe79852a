package cluster

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the cluster database's schema, one step per version, run
// in order at start (Migrate). A step is never edited once released: a
// change is a new step. Tessera's tables (Tessera, SeqCoord, Seq,
// IntCoord, PubCoord, GCCoord) live in the same database and are its own.
var migrations = []string{
	// 1: the catalog, datasets, publishes in progress, fetched records,
	// nonces, the policy volume ledger and the nodes' shared bookkeeping.
	`CREATE TABLE IF NOT EXISTS caravan_statements (
		cid VARBINARY(96) NOT NULL PRIMARY KEY,
		body MEDIUMBLOB NOT NULL,
		hidden BOOLEAN NOT NULL DEFAULT FALSE
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS caravan_datasets (
		manifest VARBINARY(96) NOT NULL PRIMARY KEY,
		session BINARY(16) NOT NULL,
		records BIGINT UNSIGNED NOT NULL
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS caravan_sessions (
		session BINARY(16) NOT NULL PRIMARY KEY,
		touched BIGINT NOT NULL,
		INDEX (touched)
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS caravan_fetched (
		manifest VARBINARY(96) NOT NULL,
		purpose VARBINARY(255) NOT NULL,
		first BIGINT UNSIGNED NOT NULL,
		last BIGINT UNSIGNED NOT NULL,
		object VARCHAR(255) NOT NULL,
		PRIMARY KEY (manifest, purpose, first, object)
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS caravan_nonces (
		nonce VARBINARY(255) NOT NULL PRIMARY KEY,
		expiry BIGINT NOT NULL,
		INDEX (expiry)
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS caravan_volume (
		day CHAR(10) NOT NULL,
		org VARCHAR(255) NOT NULL,
		released BIGINT NOT NULL,
		PRIMARY KEY (day, org)
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS caravan_bookkeeping (
		name VARCHAR(64) NOT NULL PRIMARY KEY,
		value VARBINARY(4096) NOT NULL
	) ENGINE=InnoDB`,
	// 2: the policy files the org's nodes share (one row: the last bundle
	// put in force from a policy directory on any node); bookkeeping values
	// large enough for a node delegation of 16 nodes.
	`ALTER TABLE caravan_bookkeeping MODIFY value MEDIUMBLOB NOT NULL`,
	`CREATE TABLE IF NOT EXISTS caravan_policy (
		id TINYINT NOT NULL PRIMARY KEY,
		bundle VARCHAR(128) NOT NULL,
		files MEDIUMBLOB NOT NULL,
		changed BIGINT NOT NULL
	) ENGINE=InnoDB`,
	// 3: how a dataset's group objects are laid out (datasets.go): the
	// datasets before it keep two objects a group (1), new ones one (2).
	`ALTER TABLE caravan_datasets ADD COLUMN IF NOT EXISTS layout TINYINT NOT NULL DEFAULT 1`,
	// 4: new datasets keep their attributes in blocks of eight groups
	// (layout 3), which a build of version 3 would misread: the version
	// says so, and such a build refuses the database.
	`ALTER TABLE caravan_datasets MODIFY layout TINYINT NOT NULL DEFAULT 1 COMMENT '1 split, 2 pair, 3 pair and attribute blocks'`,
}

// steps groups migrations by schema version: version v is steps[v-1].
var steps = [][]string{migrations[0:7], migrations[7:9], migrations[9:10], migrations[10:11]}

// SchemaVersion is the schema version this build runs on.
func SchemaVersion() int { return len(steps) }

// Migrate brings the database's schema to SchemaVersion, one version per
// step (MariaDB commits DDL implicitly, so every statement of a step may
// run again after a failure: IF NOT EXISTS), holding a named
// lock so that nodes starting together migrate once. A database newer
// than this build is refused: an older node must not write to it.
func Migrate(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK('caravan_migrate', 60)").Scan(&got); err != nil || got.Int64 != 1 {
		return fmt.Errorf("cluster database: could not take the migration lock: %v", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK('caravan_migrate')")
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS caravan_schema (
		version INT NOT NULL PRIMARY KEY,
		applied BIGINT NOT NULL
	) ENGINE=InnoDB`); err != nil {
		return fmt.Errorf("cluster database: %w", err)
	}
	var have int
	if err := conn.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM caravan_schema").Scan(&have); err != nil {
		return fmt.Errorf("cluster database: %w", err)
	}
	if have > len(steps) {
		return fmt.Errorf("cluster database: schema version %d is newer than this build's %d: upgrade this node", have, len(steps))
	}
	for v := have + 1; v <= len(steps); v++ {
		for _, q := range steps[v-1] {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("cluster database: migration %d: %w", v, err)
			}
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO caravan_schema (version, applied) VALUES (?, UNIX_TIMESTAMP())", v); err != nil {
			return fmt.Errorf("cluster database: migration %d: %w", v, err)
		}
	}
	return nil
}
