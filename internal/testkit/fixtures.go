// Package testkit holds the leaf fixtures the suite's tests share: keys, a
// sample manifest, the demo schemas and generated records. It stays light
// (no node, no libp2p), so that any package's tests may import it cheaply;
// the in-process consortium is internal/testnet.
package testkit

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/schemas/sample"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// Key returns a new Ed25519 key.
func Key(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Manifest returns a valid manifest of customs-cn's, version 1.
func Manifest() *manifest.Manifest {
	return &manifest.Manifest{
		Type: manifest.TypeManifest, Dataset: "khorgos-declarations", Version: 1,
		Schema:    manifest.SchemaRef{ID: "customs-declaration", Version: 1, CID: "bagaaiera5xekmnuzg4dwdbpu43niod6yqag2r7wqnin7542oke3zz7edepwq"},
		Publisher: "customs-cn", Created: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC),
		Records: 3, Tree: manifest.TreeHead{Size: 3, Root: bytes.Repeat([]byte{7}, 32)},
		Labels: []string{"customs"}, Description: "Declarations lodged at Khorgos", Purposes: []string{"customs-clearance"},
	}
}

// Schema returns one of the demo's dataset schemas, as no org registered it.
func Schema(t testing.TB, id string) *schemas.Schema {
	t.Helper()
	reg, err := schemas.Demo()
	if err != nil {
		t.Fatal(err)
	}
	s, err := reg.Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// JSONL returns n generated records of schema id as JSON Lines.
func JSONL(t testing.TB, id string, n int, seed uint64) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := sample.Write(&b, id, n, seed, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
