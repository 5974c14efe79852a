package publish_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/publish"
)

// cloneRecords copies records out of Build's reused buffers.
func cloneRecords(b []publish.Record) []publish.Record {
	out := make([]publish.Record, len(b))
	for i, r := range b {
		r.Canonical, r.Attributes = slices.Clone(r.Canonical), slices.Clone(r.Attributes)
		out[i] = r
	}
	return out
}

// build runs Build over data and returns the records handed to the sink.
func build(t testing.TB, data []byte, opts publish.BuildOptions) ([]publish.Record, *publish.BuildResult, error) {
	t.Helper()
	var recs []publish.Record
	res, err := publish.Build(context.Background(), publish.JSONLines(bytes.NewReader(data)), opts, func(b []publish.Record) error {
		recs = append(recs, cloneRecords(b)...)
		return nil
	})
	return recs, res, err
}

// The same input gives the same CIDs and root, in input order, whatever the
// number of workers; and a record's CID ignores key order and white space.
func TestBuildIsDeterministic(t *testing.T) {
	data := testkit.JSONL(t, "customs-declaration", 3000, 1)
	s := testkit.Schema(t, "customs-declaration")
	one, r1, err := build(t, data, publish.BuildOptions{Schema: s, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	many, r2, err := build(t, data, publish.BuildOptions{Schema: s, Workers: 7})
	if err != nil {
		t.Fatal(err)
	}
	if r1.Records != 3000 || !bytes.Equal(r1.Tree.Root, r2.Tree.Root) {
		t.Fatalf("results differ: %v / %v", r1, r2)
	}
	for i := range one {
		if !one[i].CID.Equals(many[i].CID) || one[i].Index != uint64(i) || many[i].Line != i+1 {
			t.Fatalf("record %d differs: %v %v", i, one[i], many[i])
		}
	}

	a := `{"b": 1, "a": {"y": [1, 2.50], "x": "\u00e9"}}`
	b := "{\"a\":{\"x\":\"é\",\"y\":[1,2.5]},\n \"b\":1}"
	ra, _, _ := build(t, []byte(a+"\n"), publish.BuildOptions{})
	rb, _, _ := build(t, []byte(strings.ReplaceAll(b, "\n", " ")+"\n"), publish.BuildOptions{})
	if !ra[0].CID.Equals(rb[0].CID) {
		t.Fatalf("key order or white space changed the CID: %s vs %s", ra[0].CID, rb[0].CID)
	}
}

// The CID is CIDv1 json sha2-256 of the canonical bytes, assembled here by
// hand from the multiformats specs, as any IPFS tool would.
func TestRecordCIDIsStandard(t *testing.T) {
	recs, _, err := build(t, []byte(`{ "hello" : "world" }`+"\n"), publish.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	canon := []byte(`{"hello":"world"}`)
	if !bytes.Equal(recs[0].Canonical, canon) {
		t.Fatalf("canonical %s", recs[0].Canonical)
	}
	sum := sha256.Sum256(canon)
	raw := append([]byte{0x01, 0x80, 0x04, 0x12, 0x20}, sum[:]...) // v1, json (varint 0x0200), sha2-256, 32 bytes
	want := "b" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
	if got := recs[0].CID.String(); got != want {
		t.Fatalf("CID %s, want %s", got, want)
	}
	if c, _ := cid.Decode(want); c.Prefix().Codec != 0x0200 {
		t.Fatal("go-cid does not read it as json")
	}
	// The same CID that js-multiformats documents for
	// json.encode({hello: 'world'}): an independent implementation agrees.
	if got := recs[0].CID.String(); got != "bagaaierasords4njcts6vs7qvdjfcvgnume4hqohf65zsfguprqphs3icwea" {
		t.Fatalf("CID %s differs from js-multiformats'", got)
	}
}

// The tree root matches RFC 6962's recursive definition of MTH.
func TestTreeRootIsRFC6962(t *testing.T) {
	var leaves []cid.Cid
	for n := 0; n <= 33; n++ {
		head, err := manifest.TreeHeadOf(leaves)
		if err != nil {
			t.Fatal(err)
		}
		var data [][]byte
		for _, c := range leaves {
			data = append(data, c.Bytes())
		}
		if want := mth(data); !bytes.Equal(head.Root, want) || head.Size != uint64(n) {
			t.Fatalf("size %d: root %x, want %x", n, head.Root, want)
		}
		recs, _, _ := build(t, []byte(fmt.Sprintf(`{"n":%d}`+"\n", n)), publish.BuildOptions{})
		leaves = append(leaves, recs[0].CID)
	}
}

// mth is RFC 6962 section 2.1, written out.
func mth(d [][]byte) []byte {
	switch len(d) {
	case 0:
		s := sha256.Sum256(nil)
		return s[:]
	case 1:
		s := sha256.Sum256(append([]byte{0}, d[0]...))
		return s[:]
	}
	k := 1
	for k*2 < len(d) {
		k *= 2
	}
	s := sha256.Sum256(append(append([]byte{1}, mth(d[:k])...), mth(d[k:])...))
	return s[:]
}

func TestBuildErrorNamesLineAndField(t *testing.T) {
	data := testkit.JSONL(t, "customs-declaration", 10, 1)
	lines := strings.Split(string(data), "\n")
	lines[6] = strings.Replace(lines[6], `"hs_code":"`, `"hs_code":"X`, 1)
	lines[8] = `{"not": "closed"`
	data = []byte(strings.Join(lines, "\n"))
	_, _, err := build(t, data, publish.BuildOptions{Schema: testkit.Schema(t, "customs-declaration")})
	var re *publish.RecordError
	if !errors.As(err, &re) || re.Line != 7 || re.Field != "items[0].hs_code" {
		t.Fatalf("err = %v, want line 7, field items[0].hs_code", err)
	}

	// With a reject sink, the valid records go on and each bad one is
	// reported with its line.
	var rejected []string
	recs, res, err := build(t, data, publish.BuildOptions{Schema: testkit.Schema(t, "customs-declaration"), Reject: func(raw []byte, e *publish.RecordError) error {
		rejected = append(rejected, e.Error())
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 8 || res.Rejected != 2 || !strings.HasPrefix(rejected[0], "line 7: items[0].hs_code:") || !strings.HasPrefix(rejected[1], "line 9:") {
		t.Fatalf("%d records, rejected %q", len(recs), rejected)
	}
}

func TestJSONLinesRefusesHugeRecord(t *testing.T) {
	huge := `{"a":"` + strings.Repeat("x", publish.MaxRecordSize+10) + `"}`
	data := []byte(`{"a":1}` + "\n" + huge + "\n" + `{"a":3}` + "\n")
	var lines []int
	_, res, err := build(t, data, publish.BuildOptions{Reject: func(raw []byte, e *publish.RecordError) error {
		lines = append(lines, e.Line)
		return nil
	}})
	if err != nil || res.Records != 2 || len(lines) != 1 || lines[0] != 2 {
		t.Fatalf("err %v, res %v, rejected lines %v", err, res, lines)
	}
}

func TestCSVRecords(t *testing.T) {
	s := testkit.Schema(t, "shipment-event")
	csvText := "event_id,shipment_id,event_type,occurred_at,location.unlocode,location.name,location.lat,country,mode,carrier,seal_intact,classification\n" +
		"6f1c9a5e-3b2d-4c1a-8e7f-0a1b2c3d4e5f,SHP-KZ-000001,departed,2026-03-01T10:00:00Z,KZALT,Altynkol,44.2,KZ,rail,KTZ Express,true,internal\n" +
		"6f1c9a5e-3b2d-4c1a-8e7f-0a1b2c3d4e60,SHP-KZ-000001,arrived,2026-03-02T10:00:00Z,KZDOS,Dostyk,north,KZ,rail,KTZ Express,true,internal\n"
	src, err := publish.CSVRecords(strings.NewReader(csvText), s, publish.Input{})
	if err != nil {
		t.Fatal(err)
	}
	var recs []publish.Record
	_, err = publish.Build(context.Background(), src, publish.BuildOptions{Schema: s}, func(b []publish.Record) error {
		recs = append(recs, cloneRecords(b)...)
		return nil
	})
	var re *publish.RecordError
	if !errors.As(err, &re) || re.Line != 3 || re.Field != "location.lat" {
		t.Fatalf("err = %v, want line 3, field location.lat", err)
	}
	if _, err := publish.CSVRecords(strings.NewReader("event_id,colour\n"), s, publish.Input{}); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("unknown column: %v", err)
	}
}

// Each record's attributes are the canonical object of exactly its members
// named as policy attributes, as encoding/json finds them in its canonical
// bytes, for every schema.
func TestBuildProjectsAttributes(t *testing.T) {
	for _, id := range []string{"customs-declaration", "certificate-of-origin", "shipment-event", "company-registry-extract"} {
		s := testkit.Schema(t, id)
		if len(s.PolicyAttributes) == 0 {
			t.Fatalf("%s: no policy attributes", id)
		}
		want := map[string]bool{}
		for _, a := range s.PolicyAttributes {
			want[a] = true
		}
		recs, _, err := build(t, testkit.JSONL(t, id, 500, 7), publish.BuildOptions{Schema: s, Attributes: s.PolicyAttributes})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			var all map[string]json.RawMessage
			if err := json.Unmarshal(r.Canonical, &all); err != nil {
				t.Fatal(err)
			}
			picked := map[string]json.RawMessage{}
			for k, v := range all {
				if want[k] {
					picked[k] = v
				}
			}
			raw, _ := json.Marshal(picked)
			exp, err := jcs.Canonicalize(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r.Attributes, exp) {
				t.Fatalf("%s record %d: attributes %s, want %s", id, r.Index, r.Attributes, exp)
			}
		}
	}
}

// A record whose policy attribute passes the schema but is no Cedar value
// is refused at publish, at its line and field, not withheld from every
// partner at the first fetch; a local offset is no such record.
func TestAttributeThatCedarCannotTakeIsRefusedAtPublish(t *testing.T) {
	s, err := schemas.Compile([]byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","x-caravan-schema":{"id":"permits","version":1},
		"type":"object","properties":{"valid_until":{"type":"string","format":"date-time","x-caravan-policy-attribute":true},
		"seats":{"type":"integer","x-caravan-policy-attribute":true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(`{"valid_until":"2026-03-01T17:00:00+05:00","seats":2}
{"valid_until":"2026-03-01t09:00:00.5-03:00"}
{"valid_until":"2026-03-01T+1:00:00Z"}
{"seats":1e30}
`)
	// jsonschema/v6's format check takes line 3 (strconv.Atoi reads "+1"):
	// only the Cedar check stands between it and a record no partner gets.
	var rejected []*publish.RecordError
	recs, _, err := build(t, data, publish.BuildOptions{Schema: s, Attributes: s.PolicyAttributes, Reject: func(_ []byte, e *publish.RecordError) error {
		rejected = append(rejected, e)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || len(rejected) != 2 {
		t.Fatalf("%d kept, rejected %v", len(recs), rejected)
	}
	if r := rejected[0]; r.Line != 3 || r.Field != "valid_until" || !strings.Contains(r.Msg, "RFC 3339") {
		t.Errorf("line 3: %v", r)
	}
	if r := rejected[1]; r.Line != 4 || r.Field != "seats" {
		t.Errorf("line 4: %v", r)
	}
}
