package journal_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/caravan-consortium/caravan/journal"
)

const consortium = "silk-test"

// member is one org's keys.
type member struct {
	org    string
	priv   ed25519.PrivateKey
	origin string
}

func newMember(t testing.TB, org string) member {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return member{org: org, priv: priv, origin: journal.Origin(consortium, org)}
}

func (m member) pub() ed25519.PublicKey { return m.priv.Public().(ed25519.PublicKey) }

func (m member) logVerifier(t testing.TB) note.Verifier {
	t.Helper()
	vkey, err := journal.LogVerifierKey(m.origin, m.pub())
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (m member) cosigner(t testing.TB) note.Signer {
	t.Helper()
	s, err := journal.NewCosigner(journal.WitnessName(consortium, m.org), m.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func trustOf(t testing.TB, threshold int, ms ...member) *journal.Trust {
	t.Helper()
	tr := &journal.Trust{Threshold: threshold}
	for _, m := range ms {
		tr.Logs = append(tr.Logs, journal.LogKey{Org: m.org, Origin: m.origin, Verifier: m.logVerifier(t)})
		vkey, err := journal.CosignerVerifierKey(journal.WitnessName(consortium, m.org), m.pub())
		if err != nil {
			t.Fatal(err)
		}
		v, err := journalVerifier(vkey)
		if err != nil {
			t.Fatal(err)
		}
		tr.Witnesses = append(tr.Witnesses, journal.WitnessKey{Org: m.org, Verifier: v})
	}
	return tr
}

// openLog opens m's log in dir with short batches, for tests that append
// one entry at a time.
func openLog(t testing.TB, m member, dir string) *journal.Log {
	return openLogBatch(t, m, dir, 2*time.Millisecond)
}

func openLogBatch(t testing.TB, m member, dir string, batchAge time.Duration) *journal.Log {
	t.Helper()
	s, err := journal.NewLogSigner(m.origin, m.priv)
	if err != nil {
		t.Fatal(err)
	}
	l, err := journal.Open(context.Background(), journal.LogConfig{Dir: dir, Origin: m.origin, Signer: s,
		CheckpointInterval: 100 * time.Millisecond, BatchMaxAge: batchAge})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// waitCheckpoint waits for a checkpoint of at least size entries.
func waitCheckpoint(t testing.TB, l *journal.Log, v note.Verifier, size uint64) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		raw, err := l.Checkpoint(context.Background())
		if err == nil {
			if n, err := note.Open(raw, note.VerifierList(v)); err == nil {
				var got uint64
				if _, err := fmtSscan(n.Text, &got); err == nil && got >= size {
					return raw
				}
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of size %d within 10s", size)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func event(org string, i int) *journal.Event {
	return &journal.Event{Type: journal.TypePublish, Time: time.Date(2026, 11, 27, 10, 0, i%60, 0, time.UTC), Org: org,
		Dataset: "declarations", Manifest: "bagaaieraexample", Version: uint64(i + 1), Records: 100, Root: "root", Schema: "customs-declaration@1"}
}
