package sharing_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/caravan-consortium/caravan/sharing"
)

func testKey(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testManifest() *sharing.Manifest {
	return &sharing.Manifest{
		Type: sharing.TypeManifest, Dataset: "khorgos-declarations", Version: 1,
		Schema:    sharing.SchemaRef{ID: "customs-declaration", Version: 1, CID: "bagaaiera5xekmnuzg4dwdbpu43niod6yqag2r7wqnin7542oke3zz7edepwq"},
		Publisher: "customs-cn", Created: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC),
		Records: 3, Tree: sharing.TreeHead{Size: 3, Root: bytes.Repeat([]byte{7}, 32)},
		Labels: []string{"customs"}, Description: "Declarations lodged at Khorgos", Purposes: []string{"customs-clearance"},
	}
}

func TestStatementRoundTrip(t *testing.T) {
	key := testKey(t)
	st, err := sharing.SignStatement(testManifest(), key)
	if err != nil {
		t.Fatal(err)
	}
	wire := st.Marshal()
	got, err := sharing.DecodeStatement(wire)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(); err != nil {
		t.Fatal(err)
	}
	if !got.CID().Equals(st.CID()) || got.BodyType() != sharing.TypeManifest {
		t.Fatalf("cid %s / %s, type %q", got.CID(), st.CID(), got.BodyType())
	}
	m, err := got.Manifest()
	if err != nil || m.Dataset != "khorgos-declarations" || m.Publisher != "customs-cn" {
		t.Fatalf("manifest %+v, %v", m, err)
	}
	if *updateGolden {
		os.WriteFile("testdata/statement.json", wire, 0o644)
	}
}

func TestStatementTamperingDetected(t *testing.T) {
	st, _ := sharing.SignStatement(testManifest(), testKey(t))
	wire := string(st.Marshal())
	cases := map[string]string{
		"records changed":  strings.Replace(wire, `"records":3`, `"records":4`, 1),
		"publisher forged": strings.Replace(wire, `"publisher":"customs-cn"`, `"publisher":"customs-kz"`, 1),
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := sharing.DecodeStatement([]byte(w))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Verify(); !errors.Is(err, sharing.ErrBadSignature) {
				t.Fatalf("Verify: %v, want ErrBadSignature", err)
			}
		})
	}
	// A signature by another key, relabelled with this signer, fails too.
	other, _ := sharing.SignStatement(testManifest(), testKey(t))
	st.Sig = other.Sig
	if err := st.Verify(); !errors.Is(err, sharing.ErrBadSignature) {
		t.Fatalf("swapped signature: %v", err)
	}
}

func TestDecodeStatementRejects(t *testing.T) {
	st, _ := sharing.SignStatement(testManifest(), testKey(t))
	wire := string(st.Marshal())
	cases := map[string]string{
		"not canonical": strings.Replace(wire, `{"body":`, `{ "body":`, 1),
		"extra field":   strings.Replace(wire, `{"body":`, `{"x":1,"body":`, 1),
		"not json":      "hello",
		"bad signer":    strings.Replace(wire, `"signer":"12D3`, `"signer":"99D3`, 1),
		"oversized":     `{"body":{"pad":"` + strings.Repeat("x", sharing.MaxStatementSize) + `"}}`,
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := sharing.DecodeStatement([]byte(w)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestManifestValidate(t *testing.T) {
	cases := map[string]func(m *sharing.Manifest){
		"bad dataset name":   func(m *sharing.Manifest) { m.Dataset = "Khorgos Declarations" },
		"v2 without prev":    func(m *sharing.Manifest) { m.Version = 2 },
		"v1 with prev":       func(m *sharing.Manifest) { m.Previous = m.Schema.CID },
		"count != tree size": func(m *sharing.Manifest) { m.Records = 9 },
		"short root":         func(m *sharing.Manifest) { m.Tree.Root = []byte{1} },
		"no time":            func(m *sharing.Manifest) { m.Created = time.Time{} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			m := testManifest()
			mutate(m)
			if err := m.Validate(); !errors.Is(err, sharing.ErrMalformed) {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func FuzzDecodeStatement(f *testing.F) {
	if data, err := os.ReadFile("testdata/statement.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"body":{"type":"caravan.manifest/v1"},"sig":"AA==","signer":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := sharing.DecodeStatement(data)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes, and its body is
		// readable without panics.
		if !bytes.Equal(s.Marshal(), data) {
			t.Fatalf("re-encoding differs")
		}
		_ = s.Verify()
		_, _ = s.Org()
	})
}

// The gossip message id, computed from the raw bytes, is the statement's CID.
func TestMessageIDIsTheCID(t *testing.T) {
	st, _ := sharing.SignStatement(testManifest(), testKey(t))
	if got, want := sharing.MessageIDForTest(st.Marshal()), st.CID().KeyString(); got != want {
		t.Fatalf("message id %x, want the CID %x", got, want)
	}
}

// A statement's body is decoded once, as the type it says it is; asking for
// the other type is an error, and the decoded body is shared.
func TestStatementDecodesItsBodyOnce(t *testing.T) {
	key := testKey(t)
	m := testManifest()
	st, _ := sharing.SignStatement(m, key)
	wire, err := sharing.DecodeStatement(st.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if wire.BodyType() != sharing.TypeManifest {
		t.Fatalf("type %q", wire.BodyType())
	}
	m1, err := wire.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m2, _ := wire.Manifest(); m2 != m1 || m1.Dataset != m.Dataset {
		t.Fatalf("manifest decoded twice or wrongly: %p %p %q", m1, m2, m1.Dataset)
	}
	if _, err := wire.Retraction(); !errors.Is(err, sharing.ErrMalformed) {
		t.Fatalf("a manifest read as a retraction: %v", err)
	}
	if org, err := wire.Org(); err != nil || org != m.Publisher {
		t.Fatalf("org %q, %v", org, err)
	}
	if string(wire.Marshal()) != string(st.Marshal()) {
		t.Fatal("the decoded statement encodes differently")
	}

	r := sharing.Retraction{Type: sharing.TypeRetraction, Dataset: m.Dataset, Publisher: m.Publisher,
		Created: m.Created, Last: st.CID().String(), Reason: "test"}
	rs, _ := sharing.SignStatement(r, key)
	if _, err := rs.Manifest(); !errors.Is(err, sharing.ErrMalformed) {
		t.Fatalf("a retraction read as a manifest: %v", err)
	}
	if got, err := rs.Retraction(); err != nil || got.Reason != "test" {
		t.Fatalf("retraction %+v, %v", got, err)
	}
	// A body that does not validate keeps failing the same way.
	m.Records = 0
	bad, _ := sharing.SignStatement(m, key)
	_, err1 := bad.Manifest()
	_, err2 := bad.Manifest()
	if err1 == nil || err1 != err2 {
		t.Fatalf("invalid manifest: %v, then %v", err1, err2)
	}
}
