package consortium

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/caravan-consortium/caravan/internal/jcs"
)

// signingContext separates roster signatures from every other thing an admin
// key might sign.
const signingContext = "caravan/roster/v1\n"

// Errors that callers check with errors.Is.
var (
	// ErrBadSignature means a signature does not verify: the roster was
	// changed after it was signed, or the signature is corrupt.
	ErrBadSignature = errors.New("roster signature does not verify")
	// ErrUnknownSigner means a signature names an admin the roster does not list.
	ErrUnknownSigner = errors.New("roster signature by an unknown admin")
	// ErrBelowThreshold means fewer admins signed than the threshold requires.
	// The error is a *ThresholdError.
	ErrBelowThreshold = errors.New("roster is signed by fewer admins than its threshold")
	// ErrNotAdmin means a key used to sign is not one of the roster's admins.
	ErrNotAdmin = errors.New("key is not an admin key of this roster")
)

// ThresholdError says how many admins signed and how many must.
type ThresholdError struct {
	Have, Need int
	Signers    []string
}

func (e *ThresholdError) Error() string {
	who := "none"
	if len(e.Signers) > 0 {
		who = strings.Join(e.Signers, ", ")
	}
	return fmt.Sprintf("roster is signed by %d of the %d admins its threshold requires (signed by: %s)", e.Have, e.Need, who)
}

func (e *ThresholdError) Is(target error) bool { return target == ErrBelowThreshold }

// SigningBytes returns the exact bytes that admins sign: the context string
// followed by the RFC 8785 canonical JSON of the roster without signatures.
func (r *Roster) SigningBytes() ([]byte, error) {
	body := *r
	body.normalize()
	return signedMessage(signingContext, &body)
}

// signedMessage is context followed by the RFC 8785 canonical JSON of
// body: what a roster's admins, or a delegation's org key, sign.
func signedMessage(context string, body any) ([]byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	canon, err := jcs.Canonicalize(raw)
	if err != nil {
		return nil, err
	}
	return append([]byte(context), canon...), nil
}

// Digest is the SHA-256 of SigningBytes; two rosters with the same digest
// have the same content.
func (r *Roster) Digest() ([32]byte, error) {
	b, err := r.SigningBytes()
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// normalize makes nil and empty lists encode the same way.
func (r *Roster) normalize() {
	r.Admins.Keys = nonNil(r.Admins.Keys)
	r.Members = slices.Clone(nonNil(r.Members))
	for i := range r.Members {
		m := &r.Members[i]
		m.Roles = nonNil(m.Roles)
		m.Nodes = normalNodes(m.Nodes)
	}
}

// normalNodes is a copy of nodes in which no list is nil.
func normalNodes(nodes []Node) []Node {
	out := slices.Clone(nonNil(nodes))
	for j := range out {
		out[j].Addrs = nonNil(out[j].Addrs)
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Sign adds (or replaces) the signature of the admin whose public key matches
// priv. It fails with ErrNotAdmin if the key is not listed.
func (r *Roster) Sign(priv ed25519.PrivateKey) (admin string, err error) {
	if err := r.Validate(); err != nil {
		return "", err
	}
	pub := EncodePublicKey(priv.Public().(ed25519.PublicKey))
	for _, k := range r.Admins.Keys {
		if k.Key == pub {
			admin = k.Name
		}
	}
	if admin == "" {
		return "", fmt.Errorf("%w (%s)", ErrNotAdmin, pub)
	}
	msg, err := r.SigningBytes()
	if err != nil {
		return "", err
	}
	sig := Signature{Admin: admin, Sig: base64.StdEncoding.EncodeToString(ed25519.Sign(priv, msg))}
	r.Signatures = slices.DeleteFunc(r.Signatures, func(s Signature) bool { return s.Admin == admin })
	r.Signatures = append(r.Signatures, sig)
	slices.SortFunc(r.Signatures, func(a, b Signature) int { return strings.Compare(a.Admin, b.Admin) })
	return admin, nil
}

// Verify checks the roster's structure and that a threshold of its own admins
// signed it. It returns the names of the admins whose signatures verify.
func (r *Roster) Verify() ([]string, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r.VerifyBy(r.Admins)
}

// VerifyBy checks that the roster is signed by at least admins.Threshold of
// admins.Keys. Signatures by admins not in that set are ignored, and so is
// one by an admin whose key this roster replaces (rotate-admin: it was made
// with the new key, which Verify checks); a signature by a listed admin
// that does not verify is an error.
func (r *Roster) VerifyBy(admins Admins) ([]string, error) {
	msg, err := r.SigningBytes()
	if err != nil {
		return nil, err
	}
	keys := map[string]ed25519.PublicKey{}
	for _, k := range admins.Keys {
		pub, err := ParsePublicKey(k.Key)
		if err != nil {
			return nil, fmt.Errorf("admin %s: %w", k.Name, err)
		}
		keys[k.Name] = pub
	}
	var signers []string
	counted := map[string]bool{} // keys, decoded: one key under two names counts once
	for _, s := range r.Signatures {
		pub, ok := keys[s.Admin]
		if !ok {
			if r.hasAdmin(s.Admin) {
				continue // an admin of the new roster, not of the trusted one
			}
			return nil, fmt.Errorf("%w: %q", ErrUnknownSigner, s.Admin)
		}
		if own, err := ParsePublicKey(r.adminKey(s.Admin)); err == nil && !own.Equal(pub) {
			continue // the admin's key is rotated here: signed with the new one
		}
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil || !ed25519.Verify(pub, msg, sig) {
			return nil, fmt.Errorf("%w: the signature of admin %q fails (the roster was changed after it was signed, or the signature is corrupt)", ErrBadSignature, s.Admin)
		}
		if !counted[string(pub)] {
			counted[string(pub)] = true
			signers = append(signers, s.Admin)
		}
	}
	if len(signers) < admins.Threshold {
		return signers, &ThresholdError{Have: len(signers), Need: admins.Threshold, Signers: signers}
	}
	return signers, nil
}

// adminKey is the key r lists for admin name, or "".
func (r *Roster) adminKey(name string) string {
	for _, k := range r.Admins.Keys {
		if k.Name == name {
			return k.Key
		}
	}
	return ""
}

func (r *Roster) hasAdmin(name string) bool {
	return slices.ContainsFunc(r.Admins.Keys, func(k AdminKey) bool { return k.Name == name })
}

// Equal reports whether a and b have the same signed content.
func Equal(a, b *Roster) bool {
	da, errA := a.SigningBytes()
	db, errB := b.SigningBytes()
	return errA == nil && errB == nil && bytes.Equal(da, db)
}
