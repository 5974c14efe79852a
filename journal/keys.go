package journal

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Origin is the checkpoint origin (and log key name) of an org's journal:
// "caravan/CONSORTIUM/ORG". It is unique to the consortium and the org.
func Origin(consortium, org string) string { return "caravan/" + consortium + "/" + org }

// WitnessName is the key name an org cosigns with: "caravan/CONSORTIUM/ORG/witness".
func WitnessName(consortium, org string) string { return Origin(consortium, org) + "/witness" }

// skey is a signed-note private key string for an Ed25519 seed.
func skey(name string, priv ed25519.PrivateKey) string {
	pub := append([]byte{1}, priv.Public().(ed25519.PublicKey)...)
	return fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, keyHash(name, pub),
		base64.StdEncoding.EncodeToString(append([]byte{1}, priv.Seed()...)))
}

func keyHash(name string, key []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write(key)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// NewLogSigner signs checkpoints of origin with an org's Ed25519 key
// (C2SP signed-note, algorithm 0x01).
func NewLogSigner(origin string, priv ed25519.PrivateKey) (note.Signer, error) {
	return note.NewSigner(skey(origin, priv))
}

// LogVerifierKey is the verifier key of an org's log in the signed-note
// format, "ORIGIN+HASH+BASE64", as `caravan journal vkey` prints it.
func LogVerifierKey(origin string, pub ed25519.PublicKey) (string, error) {
	return note.NewEd25519VerifierKey(origin, pub)
}

// NewCosigner cosigns other orgs' checkpoints (C2SP tlog-cosignature,
// cosignature/v1, algorithm 0x04) with an org's Ed25519 key.
func NewCosigner(name string, priv ed25519.PrivateKey) (note.Signer, error) {
	return fnote.NewSignerForCosignatureV1(skey(name, priv))
}

// CosignerVerifierKey is the cosignature/v1 verifier key of a witness.
func CosignerVerifierKey(name string, pub ed25519.PublicKey) (string, error) {
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return "", err
	}
	return fnote.VKeyToCosignatureV1(vkey)
}
