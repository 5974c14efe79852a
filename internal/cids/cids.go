// Package cids computes the content identifiers Caravan uses: CIDv1 with
// the multicodec "json" (0x0200) over RFC 8785 canonical bytes, hashed with
// sha2-256. Any multiformats implementation derives the same CID from the
// same bytes: {"hello":"world"} is
// bagaaierasords4njcts6vs7qvdjfcvgnume4hqohf65zsfguprqphs3icwea, as the
// js-multiformats README shows.
package cids

import (
	"crypto/sha256"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// JSONCodec is the multicodec code of JSON.
const JSONCodec = 0x0200

// OfJSON returns the CID of canonical JSON bytes.
func OfJSON(canonical []byte) cid.Cid {
	sum := sha256.Sum256(canonical)
	return FromSHA256(sum)
}

// FromSHA256 returns the json-codec CID for a sha2-256 digest.
func FromSHA256(sum [32]byte) cid.Cid {
	m, err := mh.Encode(sum[:], mh.SHA2_256)
	if err != nil {
		panic(err) // cannot happen: the length is right for sha2-256
	}
	return cid.NewCidV1(JSONCodec, m)
}
