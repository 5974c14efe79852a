package journal

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"sync/atomic"

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

// LogSigner signs an org's checkpoints (C2SP signed-note, as NewLogSigner)
// with the key in force, which Use may change while the log runs: an org
// whose roster version gives it an org key signs its next checkpoints with
// it, and the log stays one log. Its name is the origin, whatever the key.
// (A checkpoint signed as the key changes may carry the old key's hash and
// the new key's signature; verifiers refuse it, and the next one is
// right.)
type LogSigner struct {
	origin string
	cur    atomic.Pointer[logKey]
}

type logKey struct {
	signer note.Signer
	pub    ed25519.PublicKey
}

// NewSwitchingLogSigner signs origin's checkpoints with priv until Use
// gives another key.
func NewSwitchingLogSigner(origin string, priv ed25519.PrivateKey) (*LogSigner, error) {
	l := &LogSigner{origin: origin}
	return l, l.Use(priv)
}

// Use signs the next checkpoints with priv.
func (l *LogSigner) Use(priv ed25519.PrivateKey) error {
	if cur := l.cur.Load(); cur != nil && cur.pub.Equal(priv.Public()) {
		return nil
	}
	s, err := NewLogSigner(l.origin, priv)
	if err != nil {
		return err
	}
	l.cur.Store(&logKey{signer: s, pub: priv.Public().(ed25519.PublicKey)})
	return nil
}

// Public is the key in force.
func (l *LogSigner) Public() ed25519.PublicKey { return l.cur.Load().pub }

// Name is the log's origin.
func (l *LogSigner) Name() string { return l.origin }

// KeyHash is the signed-note hash of the key in force.
func (l *LogSigner) KeyHash() uint32 { return l.cur.Load().signer.KeyHash() }

// Sign signs msg with the key in force.
func (l *LogSigner) Sign(msg []byte) ([]byte, error) { return l.cur.Load().signer.Sign(msg) }
