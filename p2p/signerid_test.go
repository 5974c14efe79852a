package p2p_test

import (
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// A manifest signer's name is its libp2p PeerID, which sharing/manifest
// derives without libp2p (kept here, where libp2p is at hand, so that
// manifest's own tests stay light): the same
// string go-libp2p derives, and decoded back to the same key.
func TestSignerIDIsThePeerID(t *testing.T) {
	for range 50 {
		pub, _, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		lk, err := crypto.UnmarshalEd25519PublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		want, err := peer.IDFromPublicKey(lk)
		if err != nil {
			t.Fatal(err)
		}
		id := manifest.SignerID(pub)
		if id != want.String() {
			t.Fatalf("SignerID %s, libp2p says %s", id, want)
		}
		back, err := manifest.SignerKey(id)
		if err != nil || !back.Equal(pub) {
			t.Fatalf("SignerKey(%s): %x, %v", id, back, err)
		}
	}
}

// Only the canonical spelling of an Ed25519 PeerID names a signer: not the
// CID spelling of the same peer, nor a peer whose key is not Ed25519.
func TestSignerKeyRejects(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	lk, _ := crypto.UnmarshalEd25519PublicKey(pub)
	id, _ := peer.IDFromPublicKey(lk)
	_, rsaPub, err := crypto.GenerateRSAKeyPair(2048, nil)
	if err != nil {
		t.Fatal(err)
	}
	rsaID, _ := peer.IDFromPublicKey(rsaPub)
	for name, s := range map[string]string{
		"cid spelling": peer.ToCid(id).String(),
		"rsa peer":     rsaID.String(),
		"not base58":   "12D3KooW0OIl",
		"empty":        "",
		"truncated":    strings.TrimSuffix(id.String(), id.String()[len(id.String())-3:]),
	} {
		if _, err := manifest.SignerKey(s); err == nil {
			t.Errorf("%s: %q accepted", name, s)
		}
	}
}
