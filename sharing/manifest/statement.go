package manifest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/internal/jcs"
)

// MaxStatementSize bounds an encoded statement: a manifest with long labels
// and descriptions is a few KiB.
const MaxStatementSize = 64 << 10

const statementContext = "caravan/statement/v1\n"

// Errors that callers check with errors.Is.
var (
	// ErrMalformed means bytes are not a well-formed statement.
	ErrMalformed = errors.New("malformed statement")
	// ErrBadSignature means a statement's signature does not verify.
	ErrBadSignature = errors.New("statement signature does not verify")
	// ErrTooLarge means a statement exceeds MaxStatementSize.
	ErrTooLarge = errors.New("statement too large")
)

// Statement is a signed body: a manifest or a retraction. A statement must
// not be modified once it has been decoded, signed or shared: its encoded
// form and its decoded body are kept.
type Statement struct {
	Body   []byte // RFC 8785 canonical bytes of the body object
	Signer string // the node that signed: its PeerID (see SignerID)
	Sig    []byte // Ed25519 over statementContext || Body

	cid    cid.Cid
	wire   []byte     // the encoded form, kept by DecodeStatement
	parsed *jcs.Value // the body as DecodeStatement parsed it, until decoded

	once    sync.Once
	decoded *decodedBody
}

// SignStatement canonicalizes body (any value encoding/json accepts that yields a
// JSON object) and signs it with key.
func SignStatement(body any, key ed25519.PrivateKey) (*Statement, error) {
	canon, err := canonicalObject(body)
	if err != nil {
		return nil, err
	}
	signer := SignerID(key.Public().(ed25519.PublicKey))
	sig := ed25519.Sign(key, append([]byte(statementContext), canon...))
	return &Statement{Body: canon, Signer: signer, Sig: sig, cid: cids.OfJSON(canon)}, nil
}

// CID returns the CID of the statement's body.
func (s *Statement) CID() cid.Cid {
	if !s.cid.Defined() {
		s.cid = cids.OfJSON(s.Body)
	}
	return s.cid
}

// Verify checks the signature with the public key embedded in Signer.
// It does not check that the roster lists Signer for the body's org.
func (s *Statement) Verify() error {
	pub, err := SignerKey(s.Signer)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	buf := scratch.Get().(*[]byte)
	msg := append(append((*buf)[:0], statementContext...), s.Body...)
	ok := ed25519.Verify(pub, msg, s.Sig)
	*buf = msg[:0]
	scratch.Put(buf)
	if !ok {
		return fmt.Errorf("%w (signer %s)", ErrBadSignature, s.Signer)
	}
	return nil
}

// Marshal encodes the statement in its wire and storage form (RFC 8785).
// The result must not be modified.
func (s *Statement) Marshal() []byte {
	if s.wire != nil {
		return s.wire
	}
	return s.encode()
}

// The canonical encoding ends with the signer's name between these two
// (sig and signer hold no quotes).
const signerKey, statementEnd = `","signer":"`, `"}`

func (s *Statement) encode() []byte {
	out := make([]byte, 0, len(s.Body)+160)
	out = append(out, `{"body":`...)
	out = append(out, s.Body...)
	out = append(out, `,"sig":"`...)
	out = base64.StdEncoding.AppendEncode(out, s.Sig)
	out = append(out, signerKey...)
	out = append(out, s.Signer...)
	return append(out, statementEnd...)
}

// NamedSigner is the signer that a statement's canonical encoding names,
// read from its end without decoding the rest, so that a gossip validator
// can look at the signer's budget first; ok is false if the end is not of
// that form or the name is not a signer's (SignerKey). The name is not
// authenticated: DecodeStatement and Verify do that.
func NamedSigner(data []byte) (string, bool) {
	rest, ok := bytes.CutSuffix(data, []byte(statementEnd))
	if !ok {
		return "", false
	}
	i := bytes.LastIndex(rest, []byte(signerKey))
	if i < 0 {
		return "", false
	}
	name := string(rest[i+len(signerKey):])
	_, err := SignerKey(name)
	return name, err == nil
}

// DecodeStatement parses a statement strictly: it must be canonical, so the stored
// and gossiped bytes of a statement are unique, and its signer must be the
// PeerID of an Ed25519 key. It does not verify the signature.
//
// The statement keeps data, which must not be modified afterwards: its
// encoded form, its Body and the strings of its decoded body all share
// data's memory. A catalog holds many statements for a long time, and
// three copies of each were most of its memory (the hostile scenario's
// catalog flood); a caller whose buffer is reused passes a copy.
func DecodeStatement(data []byte) (*Statement, error) {
	if len(data) > MaxStatementSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), MaxStatementSize)
	}
	// A Parser's Value refers to data and to the Parser's memory; this
	// Parser is used once, so both stay valid as long as the statement.
	var p jcs.Parser
	v, err := p.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	ms := v.Members() // sorted by key
	if v.Kind != jcs.Object || len(ms) != 3 || ms[0].Key != "body" || ms[1].Key != "sig" || ms[2].Key != "signer" {
		return nil, fmt.Errorf("%w: want an object with body, sig and signer", ErrMalformed)
	}
	if ms[0].Value.Kind != jcs.Object {
		return nil, fmt.Errorf("%w: body is not an object", ErrMalformed)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(ms[1].Value.Str)
	if err != nil || ms[1].Value.Kind != jcs.String || len(sig) == 0 {
		return nil, fmt.Errorf("%w: sig is not base64", ErrMalformed)
	}
	if ms[2].Value.Kind != jcs.String {
		return nil, fmt.Errorf("%w: signer is not a string", ErrMalformed)
	}
	signer := ms[2].Value.Str
	if _, err := SignerKey(signer); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	body, err := canonicalBody(data, &ms[0].Value, sig, signer)
	if err != nil {
		return nil, err
	}
	return &Statement{Body: body, Signer: signer, Sig: sig, parsed: &ms[0].Value, wire: data}, nil
}

// scratch holds buffers of up to MaxStatementSize for canonical forms that
// are only compared, and for the signed message.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// canonicalBody checks that data is the canonical encoding of the
// statement {body, sig, signer} and returns the body's bytes within it.
func canonicalBody(data []byte, body *jcs.Value, sig []byte, signer string) ([]byte, error) {
	buf := scratch.Get().(*[]byte)
	defer scratch.Put(buf)
	canon, err := body.AppendCanonical((*buf)[:0])
	*buf = canon[:0]
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	const head = `{"body":`
	rest, ok := bytes.CutPrefix(data, []byte(head))
	if !ok || !bytes.HasPrefix(rest, canon) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrMalformed)
	}
	tail := make([]byte, 0, 32+base64.StdEncoding.EncodedLen(len(sig))+len(signer))
	tail = append(tail, `,"sig":"`...)
	tail = base64.StdEncoding.AppendEncode(tail, sig)
	tail = append(tail, `","signer":"`...)
	tail = append(tail, signer...)
	tail = append(tail, `"}`...)
	if !bytes.Equal(rest[len(canon):], tail) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrMalformed)
	}
	n := len(head) + len(canon)
	return data[len(head):n:n], nil
}

// canonicalObject encodes v with encoding/json, then canonicalizes it; the
// result must be a JSON object.
func canonicalObject(v any) ([]byte, error) {
	raw, err := jsonMarshal(v)
	if err != nil {
		return nil, err
	}
	parsed, err := jcs.Parse(raw)
	if err != nil {
		return nil, err
	}
	if _, ok := parsed.(map[string]any); !ok {
		return nil, fmt.Errorf("%w: a statement body must be a JSON object", ErrMalformed)
	}
	return jcs.Append(nil, parsed)
}
