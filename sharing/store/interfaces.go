package store

import (
	"iter"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// Store is what a gateway keeps of the catalog and of datasets: the small
// interfaces below, each used by one flow. Two implementations: Embedded
// (Pebble, in the data directory: a single node) and the cluster store
// (sharing/store/cluster: MariaDB and an S3-compatible bucket, shared by
// every node of an organization). Both keep the same bytes: a record's
// canonical form, a statement's wire form, a projection's encoding.
type Store interface {
	StatementStore
	DatasetStore
	FetchedStore
	NonceStore
	Close() error
}

// ErrNotFound: the store does not hold what was asked for (a statement, or
// the records of a manifest, as for a peer's manifest whose records are
// fetched, not published here).
var ErrNotFound = pebble.ErrNotFound

// StatementStore keeps the catalog's statements (package catalog).
type StatementStore interface {
	// Statement returns the statement with CID c, or ErrNotFound.
	Statement(c cid.Cid) (*manifest.Statement, error)
	// Statements calls fn with every statement held, in the order of
	// their binary CIDs.
	Statements(fn func(*manifest.Statement) error) error
	// PutUnsynced stores statements received from peers; it may return
	// before they are synced (every member holds them: catch-up brings
	// back any lost).
	PutUnsynced(sts []*manifest.Statement) error
	// PutStatements stores statements durably, at once.
	PutStatements(sts []*manifest.Statement) error
	// PutHidden stores statements held but not shared, each marked so,
	// and the sealed statements announcing them, durably and at once.
	PutHidden(hidden, sealed []*manifest.Statement) error
	// Hidden calls fn with the CID of every statement held but not shared.
	Hidden(fn func(cid.Cid) error) error
}

// DatasetStore keeps the records of this org's datasets: written by the
// publisher (Session), read by the fetch protocol's provider.
type DatasetStore interface {
	// NewSession starts a publish.
	NewSession() (Session, error)
	// Records calls fn with each record's canonical bytes, in order, or
	// fails with ErrNotFound if the manifest's records are not held.
	Records(manifest cid.Cid, fn func(index uint64, canonical []byte) error) error
	// RecordsAt is Records for indices (ascending) only; a missing index
	// fails.
	RecordsAt(manifest cid.Cid, indices iter.Seq[uint64], fn func(index uint64, canonical []byte) error) error
	// Attributes calls fn with each record's CID and the canonical
	// projection of its policy attributes, in order, or returns
	// ErrNoAttributes.
	Attributes(manifest cid.Cid, fn func(index uint64, c cid.Cid, projection []byte) error) error
	// AttributesAt is Attributes for indices (ascending) only.
	AttributesAt(manifest cid.Cid, indices iter.Seq[uint64], fn func(index uint64, c cid.Cid, projection []byte) error) error
	// Subtrees returns the record tree of a manifest of size records, or
	// ErrNoSubtrees.
	Subtrees(manifest cid.Cid, size uint64) (Subtrees, error)
}

// Session is a publish in progress: nothing of it is visible before
// Commit, and nothing is left of it after Abort, or after a crash.
type Session interface {
	// Put stages a record: its canonical bytes, and its CID with the
	// canonical projection of its policy attributes. Indices must be 0, 1,
	// 2...
	Put(index uint64, c cid.Cid, canonical, attributes []byte) error
	// Commit makes the records and the manifest statement st visible, at
	// once and durably.
	Commit(st *manifest.Statement) error
	// CommitSealed is Commit for a manifest that sealed announces: the
	// manifest is held, not shared, and sealed is stored with it.
	CommitSealed(st, sealed *manifest.Statement) error
	// Abort drops what was staged.
	Abort() error
}

// Subtrees reads a dataset's record tree (its perfect-subtree hashes) as
// proofs need them. Node returns nil and Err the cause if a read fails.
type Subtrees interface {
	Size() uint64
	Node(level int, index uint64) []byte
	Err() error
}

// FetchedStore keeps the records this org fetched and verified, per
// manifest and purpose (the requester's side of the fetch protocol).
type FetchedStore interface {
	// NewStage starts staging the verified records of one response.
	NewStage(manifest cid.Cid, purpose string) (Stage, error)
	// Fetched calls fn with each record kept for manifest and purpose, in
	// order.
	Fetched(manifest cid.Cid, purpose string, fn func(index uint64, canonical []byte) error) error
}

// Stage holds a response's verified records until Commit makes them
// durable and visible (a fetch resumes after what was committed); Abort
// drops them.
type Stage interface {
	Put(index uint64, canonical []byte) error
	Commit() error
	Abort()
}

// NonceStore keeps the fetch requests' nonces (the provider's replay
// window). On cluster storage it is shared: a request replayed to another
// node of the org is refused there too.
type NonceStore interface {
	// MarkNonce records nonce until expiry; false if it was recorded
	// already (a replay).
	MarkNonce(nonce string, expiry time.Time) (bool, error)
	// PurgeNonces removes the nonces expired at now and counts them.
	PurgeNonces(now time.Time) (int, error)
}

var _ Store = (*Embedded)(nil)
