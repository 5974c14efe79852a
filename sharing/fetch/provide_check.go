package fetch

// The provider's first step: check the request (provide.go has the others).

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"

	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// check reads the signed request and checks it: signature, membership,
// time window, nonce, selection, and that the manifest is this org's.
func (s *Server) check(str network.Stream) (*checked, error) {
	_ = str.SetReadDeadline(time.Now().Add(10 * time.Second))
	raw, err := p2p.ReadFrame(bufio.NewReader(str), MaxRequest)
	if err != nil {
		return nil, refuse("reading the request: %w", err)
	}
	req, hash, err := s.checkRequest(raw, str.Conn().RemotePeer())
	if err != nil {
		return nil, err
	}
	if err := s.spendRequest(req.Org); err != nil {
		return nil, err
	}
	id, err := cid.Decode(req.Manifest)
	if err != nil {
		return nil, refuse("manifest %q: %w", req.Manifest, err)
	}
	sel, err := requestedBy(req)
	if err != nil {
		return nil, refuse("%v", err)
	}
	st, ok := s.cfg.Manifests.Statement(id)
	if !ok {
		return nil, refuse("%w: %s", ErrNotProvider, id)
	}
	m, err := st.Manifest()
	if err != nil || m.Publisher != s.cfg.Org {
		return nil, refuse("%w: %s", ErrNotProvider, id)
	}
	if _, retracted := s.cfg.Manifests.Standing(id); retracted {
		return nil, refuse("%s/%s version %d is withdrawn by its owner (retracted)", m.Publisher, m.Dataset, m.Version)
	}
	return &checked{req: req, hash: hash, id: id, m: m, sel: sel, offered: slices.Contains(m.Purposes, req.Purpose)}, nil
}

// checkRequest verifies the signed request: signature, membership, time
// window, nonce. It returns the request and the hex SHA-256 of its bytes.
func (s *Server) checkRequest(raw []byte, remote peer.ID) (*Request, string, error) {
	st, err := manifest.DecodeStatement(raw)
	if err != nil {
		return nil, "", refuse("request: %w", err)
	}
	if err := st.Verify(); err != nil {
		return nil, "", refuse("request: %w", err)
	}
	if st.Signer != remote.String() {
		return nil, "", refuse("%w: signed by %s, sent by %s", ErrNotMember, st.Signer, remote)
	}
	var req Request
	dec := json.NewDecoder(bytes.NewReader(st.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Type != TypeRequest {
		return nil, "", refuse("request: not a %s body", TypeRequest)
	}
	if org, ok := s.cfg.Members.OrgOf(remote); !ok || org != req.Org || req.Node != remote.String() {
		return nil, "", refuse("%w: %s claims org %q", ErrNotMember, remote, req.Org)
	}
	if !manifest.ValidPurpose(req.Purpose) {
		return nil, "", refuse("request: purpose %.80q: %s", req.Purpose, manifest.PurposeRule)
	}
	now := s.cfg.Now()
	if d := now.Sub(req.Time); d > Skew || d < -Skew {
		return nil, "", refuse("%w: %s, now %s", ErrStale, req.Time.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if len(req.Nonce) < 16 || len(req.Nonce) > 128 {
		return nil, "", refuse("request: nonce of %d characters", len(req.Nonce))
	}
	fresh, err := s.cfg.Store.MarkNonce(req.Nonce, req.Time.Add(2*Skew))
	if err != nil {
		return nil, "", err
	}
	if !fresh {
		return nil, "", refuse("%w", ErrReplay)
	}
	sum := sha256.Sum256(raw)
	return &req, hex.EncodeToString(sum[:]), nil
}
