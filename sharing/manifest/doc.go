// Package manifest is what members sign and share about their datasets:
// records' canonical form and CIDs, the record tree, and the signed
// statements (manifests, retractions, schema registrations, sealed
// announcements, fetch requests and receipts) with their signers. It
// imports no libp2p, so offline tools check statements with it alone.
//
// # Records
//
// A record is a JSON object. Its canonical form is RFC 8785 (JCS) and its
// CID is CIDv1, multicodec json (0x0200), sha2-256 of the canonical bytes,
// as any multiformats implementation derives it (schemas/manifest.md has a
// test vector shared with js-multiformats). Two records that differ only in key order or white space have the
// same CID.
//
// # Record tree
//
// The records of a manifest, in publish order, are the leaves of an RFC 6962
// Merkle tree; each leaf is the binary CID of a record (leaf hash
// SHA-256(0x00 || cid)). The manifest carries the tree's size and root, so
// any subset of records can be proven against it.
//
// # Signed statements
//
// Manifests, retractions and the other statements travel signed
// (schemas/manifest.md):
//
//	{"body":{...},"sig":"BASE64","signer":"12D3KooW..."}
//
// body is a JSON object with a "type" ("caravan.manifest/v1" or
// "caravan.retraction/v1"), in RFC 8785 form; sig is Ed25519 over
//
//	"caravan/statement/v1\n" || JCS(body)
//
// by the key of signer, a libp2p PeerID that the roster lists under the
// publishing org. The statement's CID is the CID of JCS(body); it is the
// gossip message id and the catalog key.
package manifest
