package journal_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"

	"github.com/caravan-consortium/caravan/journal"
)

func fixedMember(org string, b byte) member {
	seed := bytes.Repeat([]byte{b}, ed25519.SeedSize)
	return member{org: org, priv: ed25519.NewKeyFromSeed(seed), origin: journal.Origin(consortium, org)}
}

// FuzzDecodeEvent: Decode never panics, and what it accepts re-encodes to the
// same bytes.
func FuzzDecodeEvent(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.json")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.TrimSpace(data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := journal.Decode(data)
		if err != nil {
			return
		}
		again, err := e.Encode()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted %q, re-encoded %q (%v)", data, again, err)
		}
	})
}

// FuzzCheckpointAndProof feeds arbitrary bytes to the checkpoint/note check,
// the mirror and the evidence verifier.
func FuzzCheckpointAndProof(f *testing.F) {
	a, b := fixedMember("customs-cn", 1), fixedMember("customs-kz", 2)
	for _, name := range []string{"checkpoint.note", "evidence.tlog-proof"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	trust := trustOf(f, 1, a, b)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _, _ = trust.Check(data)
		_, _ = journal.VerifyProof(data, trust)
		m, err := journal.OpenMirror(t.TempDir(), a.origin, a.logVerifier(t))
		if err != nil {
			t.Fatal(err)
		}
		_, _, _ = m.Update(context.Background(), journal.DirSource(t.TempDir()), data)
	})
}

// TestWriteFuzzSeeds regenerates testdata (go test -run WriteFuzzSeeds -update).
func TestWriteFuzzSeeds(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata")
	}
	ctx := context.Background()
	a, b := fixedMember("customs-cn", 1), fixedMember("customs-kz", 2)
	l := openLog(t, a, t.TempDir())
	for i := range 3 {
		if _, err := l.Append(ctx, event(a.org, i)); err != nil {
			t.Fatal(err)
		}
	}
	cp := waitCheckpoint(t, l, a.logVerifier(t), 3)
	cp, err := journal.Cosign(cp, b.cosigner(t))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := journal.BuildProof(ctx, journal.DirSource(l.Dir()), 1, cp)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := event(a.org, 0).Encode()
	for name, content := range map[string][]byte{"checkpoint.note": cp, "evidence.tlog-proof": ev, "event-publish.json": data} {
		if err := os.WriteFile(filepath.Join("testdata", name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
