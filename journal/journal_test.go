package journal_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/transparency-dev/formats/proof"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/caravan-consortium/caravan/journal"
)

// TestWitnessedEvidence runs the whole chain for three orgs: A appends, B and
// C mirror A's log and cosign its checkpoint, A builds an evidence file for
// one entry, and the file verifies offline against the three public keys.
func TestWitnessedEvidence(t *testing.T) {
	ctx := context.Background()
	a, b, c := newMember(t, "customs-cn"), newMember(t, "customs-kz"), newMember(t, "logistics-az")
	trust := trustOf(t, 2, a, b, c)
	la := openLog(t, a, t.TempDir())
	for i := range 300 {
		idx, err := la.Append(ctx, event(a.org, i))
		if err != nil {
			t.Fatal(err)
		}
		if idx != uint64(i) {
			t.Fatalf("append %d got index %d", i, idx)
		}
	}
	cp := waitCheckpoint(t, la, a.logVerifier(t), 300)

	// B and C mirror A's log from its directory and cosign.
	for _, w := range []member{b, c} {
		m, err := journal.OpenMirror(t.TempDir(), a.origin, a.logVerifier(t))
		if err != nil {
			t.Fatal(err)
		}
		got, advanced, err := m.Update(ctx, journal.DirSource(la.Dir()), cp)
		if err != nil || !advanced || got.Size != 300 {
			t.Fatalf("%s mirror: %v %v %+v", w.org, err, advanced, got)
		}
		if cp, err = journal.Cosign(cp, w.cosigner(t)); err != nil {
			t.Fatal(err)
		}
	}
	origin, cosigs, witnessed, err := trust.Check(cp)
	if err != nil || origin != a.origin || !witnessed || len(cosigs) != 2 {
		t.Fatalf("check: %v %s %v %v", err, origin, witnessed, cosigs)
	}

	ev, err := journal.BuildProof(ctx, journal.DirSource(la.Dir()), 257, cp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(ev, []byte("c2sp.org/tlog-proof@v1\n")) {
		t.Fatalf("not a tlog-proof:\n%s", ev)
	}
	r, err := journal.VerifyProof(ev, trust)
	if err != nil {
		t.Fatal(err)
	}
	if r.Org != a.org || r.Index != 257 || r.Size != 300 || r.Event.Version != 258 || len(r.Cosigs) != 2 {
		t.Errorf("report %+v", r)
	}

	// Under-witnessed: with a threshold of 3 the same file is refused.
	strict := *trust
	strict.Threshold = 3
	if _, err := journal.VerifyProof(ev, &strict); !errors.Is(err, journal.ErrUnwitnessed) {
		t.Errorf("threshold 3: %v", err)
	}

	// Every flipped bit is caught (or leaves the file's meaning unchanged: a
	// bit in a signature's name is covered by the key hash, so all must fail).
	for i := 0; i < len(ev)*8; i += 7 {
		bad := bytes.Clone(ev)
		bad[i/8] ^= 1 << (i % 8)
		if _, err := journal.VerifyProof(bad, trust); err == nil {
			t.Fatalf("flipping bit %d (byte %d %q) still verifies", i, i/8, ev[i/8])
		}
	}

	// Interop: code other than ours checks what tessera wrote.
	checkWithSumdb(t, ev, a, map[string]ed25519.PublicKey{b.org: b.pub(), c.org: c.pub()})
}

// checkWithSumdb verifies an evidence file with golang.org/x/mod/sumdb: the
// checkpoint signature with sumdb/note, the inclusion proof with
// sumdb/tlog, and each cosignature by hand from the tlog-cosignature spec.
func checkWithSumdb(t *testing.T, ev []byte, a member, witnesses map[string]ed25519.PublicKey) {
	t.Helper()
	var p proof.TLogProof
	if err := p.Unmarshal(ev); err != nil {
		t.Fatal(err)
	}
	vkey, _ := journal.LogVerifierKey(a.origin, a.pub())
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(p.Checkpoint, note.VerifierList(v))
	if err != nil {
		t.Fatalf("sumdb/note: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	size := int64(mustUint(t, lines[1]))
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil {
		t.Fatal(err)
	}
	var root tlog.Hash
	copy(root[:], rootBytes)
	var rp tlog.RecordProof
	for _, h := range p.Hashes {
		rp = append(rp, tlog.Hash(h))
	}
	leaf := tlog.RecordHash(p.ExtraData)
	if err := tlog.CheckRecord(rp, size, root, int64(p.Index), leaf); err != nil {
		t.Fatalf("sumdb/tlog: %v", err)
	}
	// Cosignatures: "— NAME BASE64(keyhash || timestamp || ed25519 sig)" over
	// "cosignature/v1\ntime T\n" || checkpoint text.
	checked := 0
	for _, l := range unverifiedSigLines(p.Checkpoint) {
		name, b64, _ := strings.Cut(strings.TrimPrefix(l, "— "), " ")
		if !strings.HasSuffix(name, "/witness") {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw) != 4+8+64 {
			t.Fatalf("cosignature line %q", l)
		}
		ts := binary.BigEndian.Uint64(raw[4:12])
		msg := []byte("cosignature/v1\ntime " + itoa(ts) + "\n" + n.Text)
		ok := false
		for org, pub := range witnesses {
			if journal.WitnessName(consortium, org) != name {
				continue
			}
			kh := sha256.Sum256(append([]byte(name+"\n"), append([]byte{4}, pub...)...))
			if !bytes.Equal(kh[:4], raw[:4]) {
				t.Fatalf("key hash of %s", name)
			}
			ok = ed25519.Verify(pub, msg, raw[12:])
		}
		if !ok {
			t.Fatalf("cosignature of %s does not verify by hand", name)
		}
		checked++
	}
	if checked != 2 {
		t.Fatalf("checked %d cosignatures by hand", checked)
	}
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// unverifiedSigLines returns a note's signature lines.
func unverifiedSigLines(raw []byte) []string {
	i := bytes.LastIndex(raw, []byte("\n\n"))
	var out []string
	for _, l := range strings.Split(string(raw[i+2:]), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}
