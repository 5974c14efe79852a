// Package publish turns an agency's records into a published dataset
// version: input sources (JSON Lines, CSV, standard input), the build
// pipeline that validates, canonicalizes (RFC 8785), hashes (CIDv1) and
// trees (RFC 6962) records in parallel with flat memory, and the Publisher
// that stores the records, signs the manifest, and hands the statement to
// the journal and the catalog's gossip through hooks given at construction.
//
// Build needs no network and no store: 'caravan cid' runs it alone.
package publish
