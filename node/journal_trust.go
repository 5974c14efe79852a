package node

import (
	"crypto/ed25519"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/journal"
)

// orgKey returns the Ed25519 public key an org signs its journal with: the
// key of its first node in the roster. (A member that runs several nodes
// journals from the first; see the README.)
func orgKey(m *consortium.Member) (ed25519.PublicKey, error) {
	if len(m.Nodes) == 0 {
		return nil, fmt.Errorf("org %s lists no node", m.Org)
	}
	p, err := peer.Decode(m.Nodes[0].PeerID)
	if err != nil {
		return nil, err
	}
	pk, err := p.ExtractPublicKey()
	if err != nil {
		return nil, err
	}
	if pk.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("org %s: node key is not Ed25519", m.Org)
	}
	raw, err := pk.Raw()
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(raw), nil
}

// JournalTrust maps a roster onto what the journal needs to verify
// checkpoints, cosignatures and evidence: every member's log key, the
// witnesses' cosignature keys and the witness threshold.
func JournalTrust(r *consortium.Roster) (*journal.Trust, error) {
	t := &journal.Trust{Threshold: r.EffectiveWitnessThreshold()}
	witness := map[string]bool{}
	for _, o := range r.Witnesses() {
		witness[o] = true
	}
	for i := range r.Members {
		m := &r.Members[i]
		pub, err := orgKey(m)
		if err != nil {
			return nil, err
		}
		origin := journal.Origin(r.Consortium, m.Org)
		vkey, err := journal.LogVerifierKey(origin, pub)
		if err != nil {
			return nil, err
		}
		v, err := note.NewVerifier(vkey)
		if err != nil {
			return nil, err
		}
		t.Logs = append(t.Logs, journal.LogKey{Org: m.Org, Origin: origin, Verifier: v})
		if !witness[m.Org] {
			continue
		}
		wkey, err := journal.CosignerVerifierKey(journal.WitnessName(r.Consortium, m.Org), pub)
		if err != nil {
			return nil, err
		}
		wv, err := fnote.NewVerifierForCosignatureV1(wkey)
		if err != nil {
			return nil, err
		}
		t.Witnesses = append(t.Witnesses, journal.WitnessKey{Org: m.Org, Verifier: wv})
	}
	return t, nil
}
