package fetch

import (
	"context"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// Authorizer is the provider's port to the rest of its gateway: the policy
// engine that decides records and the journal that records decisions. The
// node implements it; this package imports neither.
type Authorizer interface {
	// Authorize starts deciding a request, already checked (signature,
	// membership, time, nonce), for manifest m of this org. selected is
	// how many records the request selects, resolved: its indices and
	// CIDs matched against the dataset, each record once; 0 if it names
	// none (every record).
	Authorize(ctx context.Context, req *Request, m *manifest.Manifest, selected int) (Decider, error)
}

// Decider decides the records of one request and journals the outcome.
type Decider interface {
	// Decide appends one decision per record (true: permit) to out.
	Decide(recs []Record, out []bool) ([]bool, error)
	// Commit journals the decision and returns once it is durable.
	Commit(ctx context.Context, d Decision) (Journaled, error)
	// Checkpoint returns a signed checkpoint of the journal that covers
	// entry index, or "" if there is none.
	Checkpoint(ctx context.Context, index uint64) string
}

// Record is a record as the provider decides it.
type Record struct {
	Index uint64
	CID   cid.Cid
	// Data is the canonical JSON object of the record's policy attributes
	// (stored at publish time), or the whole record for datasets stored
	// before that: either way, the policy attributes are its top-level
	// members.
	Data []byte
}

// Decision is what a provider journals about one request.
type Decision struct {
	Requester, Dataset, Manifest, Purpose string
	Permitted, Denied                     uint64
	Commitment                            string // hex SHA-256(salt || permitted CIDs in order)
	Request                               string // hex SHA-256 of the signed request
	NotOffered                            bool   // the purpose is not offered: nothing was decided
}

// Journaled is where a decision was journaled, and under which policies.
type Journaled struct {
	Origin string // the provider's journal
	Index  uint64 // the decision entry
	Bundle string // the CID of the policy bundle that decided
}
