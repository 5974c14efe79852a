package consortium_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multibase"

	"github.com/caravan-consortium/caravan/consortium"
)

// respell writes the same 32-byte key in another base64 spelling: the
// last character's two padding bits set, which lenient decoders ignore.
func respell(t *testing.T, key string) string {
	t.Helper()
	b64 := strings.TrimPrefix(key, "ed25519:")
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", b64[len(b64)-2])
	alt := b64[:len(b64)-2] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[last|1]) + "="
	if alt == b64 {
		t.Fatal("no other spelling")
	}
	if raw, err := base64.StdEncoding.DecodeString(alt); err != nil || string(raw) != string(seededKey(1).Public().(ed25519.PublicKey)) {
		t.Fatalf("the respelling does not decode to the same key: %v", err)
	}
	return "ed25519:" + alt
}

// The attack: one admin lists their key twice, under two names and two
// spellings, and alone meets a threshold of 2. Keys are now compared
// decoded, their spelling must be the strict one, and a key counts once
// however many names sign with it.
func TestOneAdminKeyUnderTwoNamesCountsOnce(t *testing.T) {
	r := fixture(t)
	r.Admins.Keys[1] = consortium.AdminKey{Name: "a1-again", Key: respell(t, r.Admins.Keys[0].Key)}
	var ve *consortium.ValidationError
	if err := r.Validate(); !errors.As(err, &ve) || ve.Field != "admins.keys[1].key" {
		t.Fatalf("a key listed twice in two spellings: %v", err)
	}
	// The same key, the same spelling, under two names: refused as well.
	r.Admins.Keys[1].Key = r.Admins.Keys[0].Key
	if err := r.Validate(); !errors.As(err, &ve) || !strings.Contains(ve.Msg, "twice") {
		t.Fatalf("a key listed twice: %v", err)
	}
	// A trusted admin set that lists one key twice (as rosters accepted
	// before this check could): both names' signatures count once.
	trusted := r.Admins
	signed := fixture(t)
	sig := sign(t, fixture(t), 1).Signatures[0].Sig
	signed.Signatures = []consortium.Signature{{Admin: "a1", Sig: sig}, {Admin: "a1-again", Sig: sig}}
	if _, err := signed.VerifyBy(trusted); !errors.Is(err, consortium.ErrBelowThreshold) {
		t.Fatalf("one key signing under two names met a threshold of 2: %v", err)
	}
}

// The attack: one node listed under two orgs, once in base58 and once in
// its CID spelling, counted as two witnesses. PeerIDs are compared decoded.
func TestOneNodeUnderTwoOrgsIsRefused(t *testing.T) {
	r := fixture(t)
	id, err := peer.Decode(r.Members[0].Nodes[0].PeerID)
	if err != nil {
		t.Fatal(err)
	}
	asCID, err := peer.ToCid(id).StringOfBase(multibase.Base32)
	if err != nil {
		t.Fatal(err)
	}
	r.Members[1].Nodes[0].PeerID = asCID
	var ve *consortium.ValidationError
	if err := r.Validate(); !errors.As(err, &ve) || !strings.Contains(ve.Msg, "already listed under org") {
		t.Fatalf("one node under two orgs, in two spellings: %v", err)
	}
	if org, ok := r.OrgOf(asCID); !ok || org != "customs-cn" {
		t.Fatalf("OrgOf the CID spelling: %q %v", org, ok)
	}
}
