package cids

import (
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// JSONSHA256Prefix is the binary form of every CID OfJSON returns, less
// its digest: version 1, codec json, multihash sha2-256 of 32 bytes. A
// record's CID in bytes is this prefix followed by the SHA-256 of its
// canonical bytes, so hot paths can form it without a cid.Cid.
var JSONSHA256Prefix = func() []byte {
	m, err := mh.Encode(make([]byte, 32), mh.SHA2_256)
	if err != nil {
		panic(err)
	}
	b := cid.NewCidV1(JSONCodec, m).Bytes()
	return b[:len(b)-32]
}()
