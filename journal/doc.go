// Package journal is Caravan's transparency journal: one append-only log per
// organization, in the C2SP formats so that outside tools can check it, and
// the means for every member to mirror, verify and cosign the others' logs.
//
// # Logs
//
// Each gateway keeps its org's log with tessera's POSIX driver, in the
// c2sp.org/tlog-tiles layout (checkpoint, tile/L/N, tile/entries/N). Its
// checkpoints are c2sp.org/tlog-checkpoint signed notes whose origin is
// "caravan/CONSORTIUM/ORG" (see Origin), signed with the org's Ed25519 key
// (note algorithm 0x01):
//
//	caravan/silk-road/customs-cn
//	1843
//	XLx1W+0HKKJtJFp+EK7iE97hDliGGAg48ycZXxpBS7I=
//
//	— caravan/silk-road/customs-cn 8NE1VzumCAbjko8GSruLJZ/D...
//
// Append returns only once the entry is durable (sequenced, integrated and
// fsynced). A checkpoint follows within the checkpoint interval.
//
// # Entries
//
// Every entry is an Event: the RFC 8785 form of a small JSON object
// (schemas/journal.md). Events carry identifiers, CIDs, counts, hashes and
// salted commitments, never personal data.
//
// # Mirrors and witnesses
//
// A Mirror is a verified copy of another org's log: for each new checkpoint
// it fetches the entry bundles and tiles it lacks, hashes the new entries
// onto the compact range of all earlier leaves, and accepts the checkpoint
// only if that gives the signed root. That proves both that the new tree
// extends the old one and that every entry is the one committed to. An older
// checkpoint is checked against the mirror with a consistency proof. A
// checkpoint that contradicts the mirror is a *ForkError carrying both signed
// notes.
//
// Having accepted a checkpoint, a member cosigns it (c2sp.org/tlog-cosignature,
// cosignature/v1, algorithm 0x04) under the key name
// "caravan/CONSORTIUM/ORG/witness". Trust says, from the roster, how many
// members other than the log's own org must cosign for a checkpoint to count
// as witnessed.
//
// # Evidence
//
// BuildProof writes a c2sp.org/tlog-proof file: the entry (as the proof's
// extra data), its index, the RFC 6962 inclusion proof and the witnessed
// checkpoint. VerifyProof checks one offline with nothing but the
// consortium's public keys.
package journal
