package manifest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/internal/jcs"
)

// strictJSON is the decoder the body decoders replaced: encoding/json,
// refusing unknown fields.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// exactKeys reports whether every key of obj, and of its members named in
// nested, is one of known (encoding/json would also take other cases).
func exactKeys(obj *jcs.Value, known []string, nested map[string][]string) bool {
	for _, m := range obj.Members() {
		if !strings.Contains(","+strings.Join(known, ",")+",", ","+m.Key+",") {
			return false
		}
		if sub, ok := nested[m.Key]; ok && m.Value.Kind == jcs.Object && !exactKeys(&m.Value, sub, nil) {
			return false
		}
	}
	return true
}

var (
	manifestKeys = []string{"type", "dataset", "version", "previous", "schema", "publisher", "created", "records", "tree", "labels", "description", "purposes"}
	manifestSubs = map[string][]string{"schema": {"id", "version", "cid"}, "tree": {"size", "root"}}
	retractKeys  = []string{"type", "dataset", "publisher", "created", "last", "reason"}
	sealedKeys   = []string{"type", "publisher", "created", "statement"}
)

// checkBodyDecoders decodes a JSON object as a manifest and as a retraction
// with both decoders: they must agree on success and on the result.
func checkBodyDecoders(t *testing.T, data []byte) {
	v, err := jcs.ParseValue(data)
	if err != nil || v.Kind != jcs.Object {
		return
	}
	agree(t, "manifest", data, &v, decodeManifest, manifestKeys, manifestSubs)
	agree(t, "retraction", data, &v, decodeRetraction, retractKeys, nil)
	agree(t, "sealed", data, &v, decodeSealed, sealedKeys, nil)
}

func agree[T any](t *testing.T, what string, data []byte, v *jcs.Value, decode func(*jcs.Value) (*T, error), keys []string, subs map[string][]string) {
	t.Helper()
	got, err := decode(v)
	var want T
	werr := strictJSON(data, &want)
	switch {
	case !exactKeys(v, keys, subs):
		if err == nil {
			t.Fatalf("%s %s: a key in another case was taken", what, data)
		}
	case (err == nil) != (werr == nil):
		t.Fatalf("%s %s: ours %v, encoding/json %v", what, data, err, werr)
	case err == nil && !reflect.DeepEqual(*got, want):
		t.Fatalf("%s %s:\nours %+v\nwant %+v", what, data, *got, want)
	}
}

var bodySeeds = []string{
	`{"created":"2026-11-27T08:00:00Z","dataset":"khorgos-declarations","description":"Declarations","labels":["customs"],"previous":"","publisher":"customs-cn","purposes":["customs-clearance"],"records":3,"schema":{"cid":"bagaaiera5xekmnuzg4dwdbpu43niod6yqag2r7wqnin7542oke3zz7edepwq","id":"customs-declaration","version":1},"tree":{"root":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=","size":3},"type":"caravan.manifest/v1","version":1}`,
	`{"created":"2026-11-27T08:00:00+08:00","dataset":"d","last":"bagaaiera5xekmnuzg4dwdbpu43niod6yqag2r7wqnin7542oke3zz7edepwq","publisher":"p","reason":"withdrawn","type":"caravan.retraction/v1"}`,
	`{"labels":null,"purposes":[],"schema":null,"tree":{"root":"","size":0},"version":0}`,
	`{"labels":[null,"a"],"records":1.0}`,
	`{"version":-1}`,
	`{"schema":{"version":1e2}}`,
	`{"schema":{"version":9223372036854775808}}`,
	`{"records":18446744073709551616}`,
	`{"created":"2026-13-01T00:00:00Z"}`,
	`{"created":"2026-11-27 08:00:00Z"}`,
	`{"created":null,"tree":{"root":"not base64!"}}`,
	`{"tree":{"root":"AA\nAA=="}}`,
	`{"tree":{"extra":1}}`,
	`{"Dataset":"x"}`,
	`{"dataset":1}`,
	`{"labels":"x"}`,
	`{"schema":"x"}`,
	`{"unknown":true}`,
	`{"reason":{"a":1}}`,
	`{"created":"2026-11-27T08:00:00Z","publisher":"customs-cn","statement":"bagaaiera5xekmnuzg4dwdbpu43niod6yqag2r7wqnin7542oke3zz7edepwq","type":"caravan.sealed/v1"}`,
	`{"statement":1}`,
}

func TestBodyDecoderMatchesEncodingJSON(t *testing.T) {
	for _, s := range bodySeeds {
		checkBodyDecoders(t, []byte(s))
	}
	// The first two seeds are a valid manifest and a valid retraction.
	v, _ := jcs.ParseValue([]byte(bodySeeds[0]))
	if m, err := decodeManifest(&v); err != nil || m.Validate() != nil || m.Tree.Size != 3 || len(m.Tree.Root) != 32 {
		t.Fatalf("the sample manifest: %+v, %v", m, err)
	}
	v, _ = jcs.ParseValue([]byte(bodySeeds[1]))
	if r, err := decodeRetraction(&v); err != nil || r.Validate() != nil || r.Created.IsZero() {
		t.Fatalf("the sample retraction: %+v, %v", r, err)
	}
	if data, err := os.ReadFile("testdata/statement.json"); err == nil {
		if v, err := jcs.ParseValue(data); err == nil {
			body, _ := v.Members()[0].Value.AppendCanonical(nil)
			checkBodyDecoders(t, body)
		}
	}
}

func FuzzBodyDecoder(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkBodyDecoders)
}

// Errors name the member, nested ones with their path.
func TestBodyDecoderErrorsNameTheField(t *testing.T) {
	for body, want := range map[string]string{
		`{"schema":{"version":"1"}}`: "malformed statement: manifest.schema.version: want a number",
		`{"tree":{"rooot":""}}`:      `malformed statement: manifest.tree: unknown field "rooot"`,
		`{"labels":["a",1]}`:         "malformed statement: manifest.labels: item 1: want a string",
		`{"created":"yesterday"}`:    "malformed statement: manifest.created: ",
	} {
		v, err := jcs.ParseValue([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		_, err = decodeManifest(&v)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

var registrationKeys = []string{"type", "publisher", "name", "version", "created", "document"}

var registrationSeeds = []string{
	`{"created":"2026-11-29T08:00:00Z","document":{"$schema":"https://json-schema.org/draft/2020-12/schema","properties":{"pest_free":{"type":"boolean","x-caravan-policy-attribute":true}},"type":"object"},"name":"phytosanitary-certificate","publisher":"customs-kz","type":"caravan.schema/v1","version":"1.0"}`,
	`{"created":"2026-11-29T08:00:00Z","document":{ "b" : 1.0, "a" : "\u00e9" },"name":"n","publisher":"p","type":"caravan.schema/v1","version":"2.13"}`,
	`{"document":[],"version":"1.0"}`,
	`{"document":"{}"}`,
	`{"document":null}`,
	`{"version":1.0}`,
	`{"version":"01.0"}`,
	`{"version":"0.0"}`,
	`{"name":"Upper"}`,
	`{"Document":{}}`,
	`{"created":"2026-11-29"}`,
}

// checkRegistration decodes a JSON object as a schema registration, as
// FuzzDecodeRegistration does.
func checkRegistration(t *testing.T, data []byte) {
	v, err := jcs.ParseValue(data)
	if err != nil || v.Kind != jcs.Object {
		return
	}
	got, err := decodeRegistration(&v)
	var want Registration
	werr := strictJSON(data, &want)
	docObject := true
	if d, ok := findMember(&v, "document"); ok {
		docObject = d.Kind == jcs.Object
	}
	switch {
	case !exactKeys(&v, registrationKeys, nil) || !docObject:
		if err == nil {
			t.Fatalf("%s: taken, with a key in another case or a document that is not an object", data)
		}
		return
	case (err == nil) != (werr == nil):
		t.Fatalf("%s: ours %v, encoding/json %v", data, err, werr)
	case err != nil:
		return
	}
	// The document is kept in RFC 8785 form; the rest as encoding/json reads it.
	if want.Document != nil {
		if want.Document, err = jcs.Canonicalize(want.Document); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("%s:\nours %+v\nwant %+v", data, *got, want)
	}
	if got.Validate() != nil {
		return
	}
	// A valid registration survives a signed statement's round trip, and
	// its document's CID does not change on the way.
	st, err := SignStatement(got, fuzzKey)
	if err != nil {
		t.Fatalf("%s: sign: %v", data, err)
	}
	wire, err := DecodeStatement(st.Marshal())
	if err != nil {
		t.Fatalf("%s: decode the signed statement: %v", data, err)
	}
	back, err := wire.Registration()
	if err != nil || !reflect.DeepEqual(back, got) || back.DocumentCID() != got.DocumentCID() || wire.Verify() != nil {
		t.Fatalf("%s: round trip: %+v, %v", data, back, err)
	}
}

func findMember(v *jcs.Value, key string) (*jcs.Value, bool) {
	for _, m := range v.Members() {
		if m.Key == key {
			return &m.Value, true
		}
	}
	return nil, false
}

var fuzzKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

func TestRegistrationDecoder(t *testing.T) {
	for _, s := range registrationSeeds {
		checkRegistration(t, []byte(s))
	}
	v, _ := jcs.ParseValue([]byte(registrationSeeds[1]))
	r, err := decodeRegistration(&v)
	if err != nil || r.Validate() != nil || string(r.Document) != `{"a":"é","b":1}` {
		t.Fatalf("the sample registration: %+v, %v", r, err)
	}
}

func FuzzDecodeRegistration(f *testing.F) {
	for _, s := range registrationSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkRegistration)
}
