// Package fetch is the fetch protocol, /caravan/fetch/1.0.0, both sides,
// in the shape of go-libp2p's ping: ID names it, NewServer registers the
// owner's handler, and Client.Fetch asks for a dataset version with a ctx.
// The wire format is specified in schemas/fetch-protocol.md; in short:
//
//	requester -> a signed request (a statement, schemas/manifest.md):
//	             manifest CID, purpose, org, node, nonce, time, selection
//	provider  -> 'H' header: permitted and withheld counts, the decision's
//	             journal entry and policy bundle
//	             'C' chunks: records of up to 256 leaves with the compact-range
//	             hashes that prove them against the manifest's record tree
//	             'R' the signed receipt, and the salt of the commitment
//	             'E' a refusal, instead of or after any of these
//
// The provider's answer is five steps (provide.go): check the request,
// decide its records through the Authorizer (the node's policy engine and
// journal), commit the decision to the journal, stream the permitted
// records, sign a receipt. Nothing readable leaves before the decision is
// durable. The requester verifies every chunk before it stages a record;
// a chunk that fails aborts the response and nothing of it is kept.
//
// Every frame is length-prefixed and bounded (MaxRequest, MaxFrame), every
// read and write has a deadline, a response's memory is reserved in the
// resource manager, and a stream that fails is reset.
package fetch
