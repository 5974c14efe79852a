package manifest_test

import (
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// The gossip validator checks a flood's signer budget by the signer that a
// message names at its end, before decoding it: that name must be the one
// a full decode finds, and anything else must name no one.
func TestNamedSignerIsTheDecodedSigner(t *testing.T) {
	key := testkit.Key(t)
	m := testkit.Manifest()
	m.Description = strings.Repeat("x", 60<<10)
	st, err := manifest.SignStatement(m, key)
	if err != nil {
		t.Fatal(err)
	}
	data := st.Marshal()
	decoded, err := manifest.DecodeStatement(data)
	if err != nil {
		t.Fatal(err)
	}
	want := decoded.Signer
	if got, ok := manifest.NamedSigner(data); !ok || got != want {
		t.Fatalf("named %v (%v), the statement's signer is %v", got, ok, want)
	}
	for name, bad := range map[string][]byte{
		"empty":          nil,
		"cut short":      data[:len(data)-1],
		"trailing space": append(append([]byte{}, data...), ' '),
		"no signer key":  []byte(`{"body":{},"sig":"AA==","by":"` + decoded.Signer + `"}`),
		"not a PeerID":   []byte(`{"body":{},"sig":"AA==","signer":"mallory"}`),
	} {
		if got, ok := manifest.NamedSigner(bad); ok {
			t.Errorf("%s: named %v", name, got)
		}
	}
}

// What the validator spends on a flood's 60 KiB statement from a signer
// over its budget: reading the signer's name (now), or decoding the
// statement (before).
func BenchmarkOverBudgetStatement(b *testing.B) {
	m := testkit.Manifest()
	m.Description = strings.Repeat("x", 60<<10)
	st, err := manifest.SignStatement(m, testkit.Key(b))
	if err != nil {
		b.Fatal(err)
	}
	data := st.Marshal()
	b.Run("named-signer", func(b *testing.B) {
		for b.Loop() {
			if _, ok := manifest.NamedSigner(data); !ok {
				b.Fatal("no signer")
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := manifest.DecodeStatement(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
