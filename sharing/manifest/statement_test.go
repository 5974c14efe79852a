package manifest_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files in testdata/")

func TestStatementRoundTrip(t *testing.T) {
	key := testkit.Key(t)
	st, err := manifest.SignStatement(testkit.Manifest(), key)
	if err != nil {
		t.Fatal(err)
	}
	wire := st.Marshal()
	got, err := manifest.DecodeStatement(wire)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(); err != nil {
		t.Fatal(err)
	}
	if !got.CID().Equals(st.CID()) || got.BodyType() != manifest.TypeManifest {
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
	st, _ := manifest.SignStatement(testkit.Manifest(), testkit.Key(t))
	wire := string(st.Marshal())
	cases := map[string]string{
		"records changed":  strings.Replace(wire, `"records":3`, `"records":4`, 1),
		"publisher forged": strings.Replace(wire, `"publisher":"customs-cn"`, `"publisher":"customs-kz"`, 1),
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := manifest.DecodeStatement([]byte(w))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Verify(); !errors.Is(err, manifest.ErrBadSignature) {
				t.Fatalf("Verify: %v, want ErrBadSignature", err)
			}
		})
	}
	// A signature by another key, relabelled with this signer, fails too.
	other, _ := manifest.SignStatement(testkit.Manifest(), testkit.Key(t))
	st.Sig = other.Sig
	if err := st.Verify(); !errors.Is(err, manifest.ErrBadSignature) {
		t.Fatalf("swapped signature: %v", err)
	}
}

func TestDecodeStatementRejects(t *testing.T) {
	st, _ := manifest.SignStatement(testkit.Manifest(), testkit.Key(t))
	wire := string(st.Marshal())
	cases := map[string]string{
		"not canonical": strings.Replace(wire, `{"body":`, `{ "body":`, 1),
		"extra field":   strings.Replace(wire, `{"body":`, `{"x":1,"body":`, 1),
		"not json":      "hello",
		"bad signer":    strings.Replace(wire, `"signer":"12D3`, `"signer":"99D3`, 1),
		"oversized":     `{"body":{"pad":"` + strings.Repeat("x", manifest.MaxStatementSize) + `"}}`,
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := manifest.DecodeStatement([]byte(w)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestManifestValidate(t *testing.T) {
	cases := map[string]func(m *manifest.Manifest){
		"bad dataset name":                    func(m *manifest.Manifest) { m.Dataset = "Khorgos Declarations" },
		"v2 without prev":                     func(m *manifest.Manifest) { m.Version = 2 },
		"v1 with prev":                        func(m *manifest.Manifest) { m.Previous = m.Schema.CID },
		"count != tree size":                  func(m *manifest.Manifest) { m.Records = 9 },
		"short root":                          func(m *manifest.Manifest) { m.Tree.Root = []byte{1} },
		"no time":                             func(m *manifest.Manifest) { m.Created = time.Time{} },
		"a purpose that is not an identifier": func(m *manifest.Manifest) { m.Purposes = []string{"Customs Clearance"} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			m := testkit.Manifest()
			mutate(m)
			if err := m.Validate(); !errors.Is(err, manifest.ErrMalformed) {
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
		s, err := manifest.DecodeStatement(data)
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

// A statement's body is decoded once, as the type it says it is; asking for
// the other type is an error, and the decoded body is shared.
func TestStatementDecodesItsBodyOnce(t *testing.T) {
	key := testkit.Key(t)
	m := testkit.Manifest()
	st, _ := manifest.SignStatement(m, key)
	wire, err := manifest.DecodeStatement(st.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if wire.BodyType() != manifest.TypeManifest {
		t.Fatalf("type %q", wire.BodyType())
	}
	m1, err := wire.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m2, _ := wire.Manifest(); m2 != m1 || m1.Dataset != m.Dataset {
		t.Fatalf("manifest decoded twice or wrongly: %p %p %q", m1, m2, m1.Dataset)
	}
	if _, err := wire.Retraction(); !errors.Is(err, manifest.ErrMalformed) {
		t.Fatalf("a manifest read as a retraction: %v", err)
	}
	if org, err := wire.Org(); err != nil || org != m.Publisher {
		t.Fatalf("org %q, %v", org, err)
	}
	if string(wire.Marshal()) != string(st.Marshal()) {
		t.Fatal("the decoded statement encodes differently")
	}

	r := manifest.Retraction{Type: manifest.TypeRetraction, Dataset: m.Dataset, Publisher: m.Publisher,
		Created: m.Created, Last: st.CID().String(), Reason: "test"}
	rs, _ := manifest.SignStatement(r, key)
	if _, err := rs.Manifest(); !errors.Is(err, manifest.ErrMalformed) {
		t.Fatalf("a retraction read as a manifest: %v", err)
	}
	if got, err := rs.Retraction(); err != nil || got.Reason != "test" {
		t.Fatalf("retraction %+v, %v", got, err)
	}
	// A body that does not validate keeps failing the same way.
	m.Records = 0
	bad, _ := manifest.SignStatement(m, key)
	_, err1 := bad.Manifest()
	_, err2 := bad.Manifest()
	if err1 == nil || err1 != err2 {
		t.Fatalf("invalid manifest: %v, then %v", err1, err2)
	}
}

// A catalog holds thousands of decoded statements: each must hold its
// bytes once. The encoded form, the body and the decoded description all
// lie in the memory that was decoded (a catalog flood of 60 KiB statements
// cost three times that before).
func TestDecodedStatementHoldsItsBytesOnce(t *testing.T) {
	m := testkit.Manifest()
	m.Description = strings.Repeat("long description ", 1000)
	signed, err := manifest.SignStatement(m, testkit.Key(t))
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Clone(signed.Marshal())
	st, err := manifest.DecodeStatement(data)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := uintptr(unsafe.Pointer(&data[0])), uintptr(unsafe.Pointer(&data[0]))+uintptr(len(data))
	within := func(what string, p *byte, n int) {
		t.Helper()
		a := uintptr(unsafe.Pointer(p))
		if a < lo || a+uintptr(n) > hi {
			t.Errorf("%s is a copy, not the decoded bytes", what)
		}
	}
	within("the encoded form", &st.Marshal()[0], len(data))
	within("the body", &st.Body[0], len(st.Body))
	got, err := st.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != m.Description {
		t.Fatal("description changed")
	}
	within("the description", unsafe.StringData(got.Description), len(got.Description))
	if err := st.Verify(); err != nil {
		t.Fatal(err)
	}
	// The body cannot grow into the signature that follows it.
	if cap(st.Body) != len(st.Body) {
		t.Fatalf("body has capacity %d beyond its %d bytes", cap(st.Body), len(st.Body))
	}
}
