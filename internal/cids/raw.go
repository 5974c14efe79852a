package cids

import (
	"crypto/sha256"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// OfRaw is the CIDv1 of arbitrary bytes: multicodec "raw" (0x55), sha2-256,
// as `ipfs add --raw-leaves --cid-version 1` gives for a small file.
func OfRaw(data []byte) cid.Cid {
	sum := sha256.Sum256(data)
	m, err := mh.Encode(sum[:], mh.SHA2_256)
	if err != nil {
		panic(err) // cannot happen: the length is right for sha2-256
	}
	return cid.NewCidV1(cid.Raw, m)
}
