package publish_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing/publish"
)

// permitSchema is a new agency's own schema: road transport permits, with a
// sensitive driver's id.
func permitSchema(t testing.TB) *schemas.Schema {
	t.Helper()
	s, err := schemas.Compile([]byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema",
	"x-caravan-schema":{"id":"road-permit","version":1},"type":"object","required":["permit_no"],
	"properties":{
		"permit_no":{"type":"string","pattern":"^P-[0-9]+$"},
		"carrier":{"type":"string"},
		"route":{"type":"string","x-caravan-policy-attribute":true},
		"axles":{"type":"integer","x-caravan-sensitive":true},
		"driver_id":{"type":"string","pattern":"^[0-9]{12}$","x-caravan-sensitive":true},
		"valid_until":{"type":"string","format":"date-time","x-caravan-policy-attribute":true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// publishCSV builds a CSV input as a publish does, and returns the
// canonical records, the rejected ones (if reject), and the error.
func publishInput(t testing.TB, data []byte, in publish.Input, reject bool) ([]string, []*publish.RecordError, error) {
	t.Helper()
	s := permitSchema(t)
	src, err := publish.Open(bytes.NewReader(data), s, in)
	if err != nil {
		return nil, nil, err
	}
	var rejected []*publish.RecordError
	opts := publish.BuildOptions{Schema: s, Attributes: s.PolicyAttributes}
	if reject {
		opts.Reject = func(_ []byte, e *publish.RecordError) error {
			rejected = append(rejected, e)
			return nil
		}
	}
	var recs []string
	_, err = publish.Build(context.Background(), src, opts, func(b []publish.Record) error {
		for _, r := range b {
			recs = append(recs, string(r.Canonical))
		}
		return nil
	})
	return recs, rejected, err
}

const permitsCSV = "permit_no,carrier,route\nP-1,Kazakh Road,Almaty-Khorgos\nP-2,Алматы Транс,Алматы-Хоргос\nP-3,Żółw Cargo,Brest-Małaszewicze\n"

// A file that is not UTF-8 is refused whole, at the line and column of its
// first bad byte, with or without a reject file: never published with its
// text replaced by U+FFFD.
func TestFileNotInUTF8IsRefusedAtLineAndColumn(t *testing.T) {
	cp1251, err := charmap.Windows1251.NewEncoder().String(strings.NewReplacer("Żółw", "Zolw", "Małaszewicze", "Malaszewicze").Replace(permitsCSV))
	if err != nil {
		t.Fatal(err)
	}
	for _, reject := range []bool{false, true} {
		recs, _, err := publishInput(t, []byte(cp1251), publish.Input{Format: "csv"}, reject)
		var ee *publish.EncodingError
		if !errors.As(err, &ee) || ee.Line != 3 || ee.Column != 5 {
			t.Fatalf("reject %v: %v, want line 3, column 5", reject, err)
		}
		if !strings.Contains(err.Error(), "--encoding") {
			t.Errorf("no hint: %v", err)
		}
		_ = recs
	}
	// The same as JSON Lines.
	jsonl, _ := charmap.Windows1251.NewEncoder().String(`{"permit_no":"P-1"}` + "\n" + `{"permit_no":"P-2","carrier":"Алматы"}` + "\n")
	_, _, err = publishInput(t, []byte(jsonl), publish.Input{}, true)
	var ee *publish.EncodingError
	if !errors.As(err, &ee) || ee.Line != 2 {
		t.Fatalf("JSONL: %v, want line 2", err)
	}
}

// --encoding reads the encodings agencies' spreadsheets export, and the
// records hold the text the agency wrote.
func TestEncodingsAreDecoded(t *testing.T) {
	text := map[string]string{
		"windows-1251": "Алматы Транс", "koi8-r": "Алматы Транс", "iso-8859-5": "Алматы Транс",
		"gb18030": "霍尔果斯物流", "gbk": "霍尔果斯物流", "iso-8859-2": "Żółw Cargo", "windows-1250": "Żółw Cargo",
	}
	encs := map[string]encoding.Encoding{
		"windows-1251": charmap.Windows1251, "koi8-r": charmap.KOI8R, "iso-8859-5": charmap.ISO8859_5,
		"gb18030": simplifiedchinese.GB18030, "gbk": simplifiedchinese.GBK, "iso-8859-2": charmap.ISO8859_2, "windows-1250": charmap.Windows1250,
	}
	for name, want := range text {
		t.Run(name, func(t *testing.T) {
			csvText := "permit_no;carrier\nP-1;" + want + "\n"
			enc, err := encs[name].NewEncoder().String(csvText)
			if err != nil {
				t.Fatal(err)
			}
			recs, _, err := publishInput(t, []byte(enc), publish.Input{Format: "csv", Encoding: strings.ToUpper(name), Delimiter: ";"}, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || !strings.Contains(recs[0], `"carrier":"`+want+`"`) {
				t.Fatalf("records %q, want carrier %q", recs, want)
			}
		})
	}
	if _, _, err := publishInput(t, []byte(permitsCSV), publish.Input{Format: "csv", Encoding: "ebcdic-martian"}, false); err == nil || !strings.Contains(err.Error(), "windows-1251") {
		t.Fatalf("unknown encoding: %v", err)
	}
	// A byte that is not valid in the named encoding is refused too.
	bad := append([]byte("permit_no,carrier\nP-1,"), 0x81, 0x20, '\n')
	if _, _, err := publishInput(t, bad, publish.Input{Format: "csv", Encoding: "gb18030"}, false); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("invalid GB18030: %v", err)
	}
}

// Excel's "CSV UTF-8" starts with a byte-order mark; European and Russian
// Excel separate cells with ';'; a header that is one column holding ';'
// or a tab says which delimiter to name.
func TestSpreadsheetExports(t *testing.T) {
	recs, _, err := publishInput(t, append([]byte("\xEF\xBB\xBF"), permitsCSV...), publish.Input{Format: "csv"}, false)
	if err != nil || len(recs) != 3 || !strings.Contains(recs[1], "Алматы Транс") {
		t.Fatalf("with a BOM: %v, %q", err, recs)
	}
	for _, d := range []struct{ flag, sep string }{{";", ";"}, {"tab", "\t"}, {"|", "|"}} {
		data := strings.ReplaceAll(permitsCSV, ",", d.sep)
		recs, _, err := publishInput(t, []byte(data), publish.Input{Format: "csv", Delimiter: d.flag}, false)
		if err != nil || len(recs) != 3 {
			t.Fatalf("delimiter %q: %v, %d records", d.flag, err, len(recs))
		}
		if d.flag == "|" {
			continue
		}
		_, _, err = publishInput(t, []byte(data), publish.Input{Format: "csv"}, false)
		if err == nil || !strings.Contains(err.Error(), "--delimiter "+map[string]string{";": "';'", "tab": "tab"}[d.flag]) {
			t.Errorf("delimited by %q, read with ',': %v", d.flag, err)
		}
	}
	if _, _, err := publishInput(t, []byte(permitsCSV), publish.Input{Format: "csv", Delimiter: "::"}, false); err == nil {
		t.Error("a delimiter of two characters was taken")
	}
}

// A CSV record is capped like a JSONL line: a 10 MiB cell, quoted over
// many lines or not, is refused at its line, the records after it are
// read with their true line numbers, and the whole publish allocates a
// bounded amount (it was 3.4 GB for one such cell).
func TestHugeCSVCellIsRefusedAndMemoryStaysBounded(t *testing.T) {
	huge := strings.Repeat("x", 10<<20)
	hugeQuoted := `"` + strings.Repeat(`line ""quoted"", and a comma`+"\n", (10<<20)/30) + `"`
	data := "permit_no,carrier,route\nP-1,a,b\nP-2," + huge + ",b\nP-3,c,d\nP-4," + hugeQuoted + ",e\nP-5,f,g\n"
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	recs, rejected, err := publishInput(t, []byte(data), publish.Input{Format: "csv"}, true)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || len(rejected) != 2 || rejected[0].Line != 3 || rejected[1].Line != 5 {
		t.Fatalf("%d records, rejected %v", len(recs), rejected)
	}
	if !strings.Contains(recs[2], `"P-5"`) {
		t.Fatalf("the record after the quoted cell: %q", recs[2])
	}
	// The last record's line: the quoted cell spans many lines.
	bad := data + "P-6,h\n"
	_, rejected, _ = publishInput(t, []byte(bad+"P-7,i,j,k\n"), publish.Input{Format: "csv"}, true)
	wantLine := strings.Count(bad, "\n") + 1
	if last := rejected[len(rejected)-1]; last.Line != wantLine || !strings.Contains(last.Msg, "4 cells") {
		t.Fatalf("last rejected %v, want line %d with 4 cells", last, wantLine)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 400<<20 {
		t.Fatalf("publishing two 10 MiB cells allocated %d MB", alloc>>20)
	}
	t.Logf("allocated %d MB for %d MB of input", (after.TotalAlloc-before.TotalAlloc)>>20, len(data)>>20)
}

// JSON Lines: a record of 1 MiB first does not size every batch for a
// million records.
func TestLargeFirstRecordKeepsBatchesSmall(t *testing.T) {
	var b strings.Builder
	fmt.Fprintf(&b, `{"permit_no":"P-0","carrier":"%s"}`+"\n", strings.Repeat("y", publish.MaxRecordSize-100))
	for i := 1; i < 2000; i++ {
		fmt.Fprintf(&b, `{"permit_no":"P-%d"}`+"\n", i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	recs, _, err := publishInput(t, []byte(b.String()), publish.Input{}, false)
	runtime.ReadMemStats(&after)
	if err != nil || len(recs) != 2000 {
		t.Fatalf("%v, %d records", err, len(recs))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 100<<20 {
		t.Fatalf("allocated %d MB", alloc>>20)
	}
}

// No value of a sensitive field appears in an error: the schema's
// messages and the CSV cell messages name the field and the rule only.
func TestSensitiveValuesNeverInErrors(t *testing.T) {
	data := "permit_no,driver_id,axles\nP-1,SECRET-ID-4711,2\nP-2,123456789012,SECRET-AXLES\nP-3,123456789012,\"[\"\"SECRET-JSON\"\"]\"\n"
	_, rejected, err := publishInput(t, []byte(data), publish.Input{Format: "csv"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rejected) != 3 {
		t.Fatalf("rejected %v", rejected)
	}
	for _, r := range rejected {
		if strings.Contains(r.Error(), "SECRET") {
			t.Errorf("line %d: a sensitive value in %q", r.Line, r.Error())
		}
	}
	if !strings.Contains(rejected[0].Error(), "driver_id: does not match pattern") {
		t.Errorf("the rule is lost: %v", rejected[0])
	}
	jsonl := `{"permit_no":"P-1","driver_id":"SECRET-1"}` + "\n" + `{"permit_no":"bad","axles":"SECRET-2","driver_id":"SECRET-3"}` + "\n"
	_, rejected, _ = publishInput(t, []byte(jsonl), publish.Input{}, true)
	for _, r := range rejected {
		if strings.Contains(r.Error(), "SECRET") {
			t.Errorf("JSONL line %d: a sensitive value in %q", r.Line, r.Error())
		}
	}
	if len(rejected) != 2 || len(rejected[1].Others) != 2 {
		t.Fatalf("JSONL rejected %v", rejected)
	}
}

// Records wrapped in white space that JSON does not know (a no-break
// space, U+2028, a vertical tab) are not JSON, as RFC 8259 says.
func TestNonJSONWhiteSpaceIsRefused(t *testing.T) {
	for _, ws := range []string{"\u00a0", "\u2028", "\v", "\f", "\u0085"} {
		data := `{"permit_no":"P-1"}` + "\n" + ws + `{"permit_no":"P-2"}` + "\n" + `{"permit_no":"P-3"}` + ws + "\n"
		recs, rejected, err := publishInput(t, []byte(data), publish.Input{}, true)
		if err != nil || len(recs) != 1 || len(rejected) != 2 {
			t.Errorf("%q: %v, %d kept, rejected %v", ws, err, len(recs), rejected)
		}
	}
}
