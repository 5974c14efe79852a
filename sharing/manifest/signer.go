package manifest

import (
	"bytes"
	"crypto/ed25519"
	"fmt"

	"github.com/multiformats/go-multihash"
)

// A signer is named by the libp2p PeerID of its Ed25519 key, in its
// canonical spelling: base58btc of the identity multihash of the key's
// protobuf encoding (08 01 12 20 || key). The package derives and decodes
// that spelling itself, so that checking a statement needs no libp2p.
var ed25519KeyPrefix = []byte{0x08, 0x01, 0x12, 0x20}

// SignerID returns the name of the signer with public key pub: its libp2p
// PeerID, "12D3KooW...".
func SignerID(pub ed25519.PublicKey) string {
	mh, _ := multihash.Sum(append(bytes.Clone(ed25519KeyPrefix), pub...), multihash.IDENTITY, -1)
	return mh.B58String()
}

// SignerKey decodes a signer's name back into its Ed25519 public key. Only
// the canonical spelling of an Ed25519 PeerID is accepted.
func SignerKey(id string) (ed25519.PublicKey, error) {
	mh, err := multihash.FromB58String(id)
	if err != nil {
		return nil, fmt.Errorf("signer %q is not a PeerID: %v", id, err)
	}
	d, err := multihash.Decode(mh)
	if err != nil {
		return nil, fmt.Errorf("signer %q is not a PeerID: %v", id, err)
	}
	if d.Code != multihash.IDENTITY || len(d.Digest) != len(ed25519KeyPrefix)+ed25519.PublicKeySize || !bytes.HasPrefix(d.Digest, ed25519KeyPrefix) {
		return nil, fmt.Errorf("signer %q is not the PeerID of an Ed25519 key", id)
	}
	pub := ed25519.PublicKey(d.Digest[len(ed25519KeyPrefix):])
	if SignerID(pub) != id {
		return nil, fmt.Errorf("signer %q is not in its canonical spelling", id)
	}
	return pub, nil
}
