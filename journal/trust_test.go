package journal_test

import (
	"crypto/ed25519"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/caravan-consortium/caravan/journal"
)

// roster is a consortium's members as journal trust sees them.
type roster struct {
	ms        []member
	witnesses []string
	threshold int
}

func (r roster) JournalKeys() (map[string]ed25519.PublicKey, error) {
	out := map[string]ed25519.PublicKey{}
	for _, m := range r.ms {
		out[m.org] = m.pub()
	}
	return out, nil
}

// CosignerKeys: in these tests, each org cosigns with its log key.
func (r roster) CosignerKeys() (map[string][]ed25519.PublicKey, error) {
	out := map[string][]ed25519.PublicKey{}
	for _, m := range r.ms {
		out[m.org] = []ed25519.PublicKey{m.pub()}
	}
	return out, nil
}
func (r roster) Witnesses() []string  { return r.witnesses }
func (r roster) CosignThreshold() int { return r.threshold }

// checkpoint signs a checkpoint of m's log and has each of cosigners
// cosign it.
func checkpoint(t *testing.T, m member, cosigners ...member) []byte {
	t.Helper()
	s, err := journal.NewLogSigner(m.origin, m.priv)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", m.origin)}, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range cosigners {
		if cp, err = journal.Cosign(cp, w.cosigner(t)); err != nil {
			t.Fatal(err)
		}
	}
	return cp
}

// The attack: with one witness (a regulator, say) the threshold was 0, so
// an owner's checkpoint with its own signature alone counted as witnessed
// and 'caravan verify' accepted evidence no one else had vouched for; with
// two witnesses, a non-witness org's log needed one cosignature, not a
// majority of two. A log's own signature never suffices now.
func TestOwnerSignatureAloneIsNeverWitnessed(t *testing.T) {
	owner, reg, reg2 := newMember(t, "customs-cn"), newMember(t, "regulator"), newMember(t, "regulator-2")
	check := func(tr *journal.Trust, cp []byte, want bool, what string) {
		t.Helper()
		_, cosigs, witnessed, err := tr.Check(cp)
		if err != nil || witnessed != want {
			t.Fatalf("%s: witnessed %v with %d cosignatures (%v), want %v", what, witnessed, len(cosigs), err, want)
		}
	}
	one, err := journal.TrustOf(consortium, roster{ms: []member{owner, reg}, witnesses: []string{"regulator"}})
	if err != nil {
		t.Fatal(err)
	}
	check(one, checkpoint(t, owner), false, "one witness, the owner's signature alone")
	check(one, checkpoint(t, owner, reg), true, "one witness, cosigned by it")
	check(one, checkpoint(t, reg), false, "the only witness's own log") // no one else can vouch for it

	two, err := journal.TrustOf(consortium, roster{ms: []member{owner, reg, reg2}, witnesses: []string{"regulator", "regulator-2"}})
	if err != nil {
		t.Fatal(err)
	}
	check(two, checkpoint(t, owner, reg), false, "two witnesses, one cosignature on a non-witness org's log")
	check(two, checkpoint(t, owner, reg, reg2), true, "two witnesses, both")
	check(two, checkpoint(t, reg, reg2), true, "a witness's log, cosigned by the other")
	if n := two.Required("customs-cn"); n != 2 {
		t.Fatalf("a non-witness log with two witnesses needs %d, want 2", n)
	}
	none, err := journal.TrustOf(consortium, roster{ms: []member{owner, reg}})
	if err != nil {
		t.Fatal(err)
	}
	check(none, checkpoint(t, owner), true, "no witness in the consortium")
}
