package journal

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// LogKey is one member's log: its origin, the org and the verifier of its
// checkpoint signatures.
type LogKey struct {
	Org      string
	Origin   string
	Verifier note.Verifier
}

// WitnessKey is one key that cosigns others' checkpoints for a member (one
// per node of the member).
type WitnessKey struct {
	Org      string
	Verifier note.Verifier // a cosignature/v1 verifier
}

// Trust is what a verifier needs to know of the consortium, taken from its
// roster: each member's log key, the witnesses, and the roster's witness
// threshold (0: a majority; see Required).
type Trust struct {
	Logs      []LogKey
	Witnesses []WitnessKey
	Threshold int
}

// Required is how many witnesses other than org must cosign a checkpoint
// of org's log for it to count as witnessed. With no witness in the
// consortium, none. Otherwise the roster's threshold, or, when it is 0, a
// majority of the witnesses other than org; and at least one whenever a
// witness exists, so that a log's own signature never suffices. (The only
// witness's own log therefore cannot be witnessed: a consortium needs two
// witnesses for every log to be.)
func (t *Trust) Required(org string) int {
	if len(t.Witnesses) == 0 {
		return 0
	}
	others := map[string]bool{} // an org cosigns with any of its nodes' keys, and counts once
	for _, w := range t.Witnesses {
		if w.Org != org {
			others[w.Org] = true
		}
	}
	if t.Threshold > 0 {
		return t.Threshold
	}
	return max(len(others)/2+1, 1)
}

// Log returns the log key of an origin.
func (t *Trust) Log(origin string) (LogKey, bool) {
	for _, l := range t.Logs {
		if l.Origin == origin {
			return l, true
		}
	}
	return LogKey{}, false
}

// Cosig is one verified cosignature.
type Cosig struct {
	Org  string    `json:"org"`
	Name string    `json:"name"`
	Time time.Time `json:"time"`
}

// ErrUnwitnessed is wrapped when a checkpoint lacks enough cosignatures.
var ErrUnwitnessed = errors.New("checkpoint not witnessed by enough members")

// Check verifies a checkpoint note: the log's signature is required and
// valid, and it returns the valid cosignatures of witnesses other than the
// log's org (at most one per org). witnessed reports whether they reach the
// threshold (Required).
func (t *Trust) Check(raw []byte) (origin string, cosigs []Cosig, witnessed bool, err error) {
	v, err := t.verify(raw)
	if err != nil {
		return v.origin, nil, false, err
	}
	return v.origin, v.cosigs, len(v.cosigs) >= t.Required(v.log.Org), nil
}

// Clean returns the note with only the signatures that Check counts: the
// log's, and one valid cosignature per witness other than the log's org.
// Lines by keys the roster does not know are dropped. What is stored or
// passed on is cleaned first, so a note never grows with others' junk
// (nor past signed-note's limit of 100 signatures, beyond which it would
// no longer open).
func (t *Trust) Clean(raw []byte) ([]byte, error) {
	v, err := t.verify(raw)
	if err != nil {
		return nil, err
	}
	return []byte(v.text + "\n" + strings.Join(v.lines, "\n") + "\n"), nil
}

type verified struct {
	origin string
	log    LogKey
	text   string   // the checkpoint, ending in "\n"
	lines  []string // the signature lines kept: the log's first
	cosigs []Cosig
}

func (t *Trust) verify(raw []byte) (verified, error) {
	var v verified
	v.origin, _, _ = strings.Cut(string(raw), "\n")
	lk, ok := t.Log(v.origin)
	if !ok {
		return v, fmt.Errorf("checkpoint origin %q is not a member's journal in the roster", v.origin)
	}
	v.log = lk
	vs := []note.Verifier{lk.Verifier}
	byHash := map[uint32]string{}
	for _, w := range t.Witnesses {
		if w.Org == lk.Org {
			continue
		}
		vs = append(vs, w.Verifier)
		byHash[w.Verifier.KeyHash()] = w.Org
	}
	n, err := note.Open(raw, note.VerifierList(vs...))
	if err != nil {
		return v, fmt.Errorf("checkpoint of %s: %w", v.origin, err)
	}
	v.text = n.Text
	logSigned := false
	seenOrg := map[string]bool{}
	for _, s := range n.Sigs {
		line := "— " + s.Name + " " + s.Base64
		if s.Hash == lk.Verifier.KeyHash() && s.Name == lk.Verifier.Name() {
			if !logSigned {
				v.lines = append([]string{line}, v.lines...)
			}
			logSigned = true
			continue
		}
		org, ok := byHash[s.Hash]
		if !ok || seenOrg[org] {
			continue
		}
		ts, err := fnote.CoSigV1Timestamp(s)
		if err != nil {
			continue
		}
		seenOrg[org] = true
		v.lines = append(v.lines, line)
		v.cosigs = append(v.cosigs, Cosig{Org: org, Name: s.Name, Time: ts.UTC()})
	}
	if !logSigned {
		return v, fmt.Errorf("checkpoint of %s: the log's signature is missing", v.origin)
	}
	slices.SortFunc(v.cosigs, func(a, b Cosig) int { return strings.Compare(a.Org, b.Org) })
	return v, nil
}

// Members is what journal trust derives from: a consortium's roster, which
// *consortium.Roster implements. The journal takes plain keys and names and
// imports neither the roster's package nor libp2p.
type Members interface {
	// JournalKeys returns each member org's Ed25519 key, which signs its
	// log's checkpoints: its org key (or, without one, its first node's).
	JournalKeys() (map[string]ed25519.PublicKey, error)
	// CosignerKeys returns each member org's nodes' Ed25519 keys, which
	// cosign others' checkpoints on its behalf.
	CosignerKeys() (map[string][]ed25519.PublicKey, error)
	// Witnesses lists the orgs that cosign the others' checkpoints.
	Witnesses() []string
	// CosignThreshold is the roster's witness threshold: how many
	// witnesses other than a log's own org must cosign its checkpoints; 0
	// for a majority of them (Trust.Required).
	CosignThreshold() int
}

// TrustOf derives what a verifier needs from consortium's members: every
// member's log key, the witnesses' cosignature keys and the threshold.
func TrustOf(consortium string, m Members) (*Trust, error) {
	keys, err := m.JournalKeys()
	if err != nil {
		return nil, err
	}
	cosigners, err := m.CosignerKeys()
	if err != nil {
		return nil, err
	}
	witness := map[string]bool{}
	for _, o := range m.Witnesses() {
		witness[o] = true
	}
	orgs := make([]string, 0, len(keys))
	for org := range keys {
		orgs = append(orgs, org)
	}
	slices.Sort(orgs)
	t := &Trust{Threshold: m.CosignThreshold()}
	for _, org := range orgs {
		pub := keys[org]
		origin := Origin(consortium, org)
		vkey, err := LogVerifierKey(origin, pub)
		if err != nil {
			return nil, err
		}
		v, err := note.NewVerifier(vkey)
		if err != nil {
			return nil, err
		}
		t.Logs = append(t.Logs, LogKey{Org: org, Origin: origin, Verifier: v})
		if !witness[org] {
			continue
		}
		for _, pub := range cosigners[org] {
			wkey, err := CosignerVerifierKey(WitnessName(consortium, org), pub)
			if err != nil {
				return nil, err
			}
			wv, err := fnote.NewVerifierForCosignatureV1(wkey)
			if err != nil {
				return nil, err
			}
			t.Witnesses = append(t.Witnesses, WitnessKey{Org: org, Verifier: wv})
		}
	}
	return t, nil
}
