package publish_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/sharing/publish"
)

// flatten writes a record as a spreadsheet row: nested fields as a.b,
// array elements as a[i] and a[i].b; with jsonCells, the named arrays as
// JSON in one cell instead.
func flatten(prefix string, v any, row map[string]string, jsonCells []string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			name := k
			if prefix != "" {
				name = prefix + "." + k
			}
			flatten(name, x, row, jsonCells)
		}
	case []any:
		if slices.Contains(jsonCells, prefix) {
			b, _ := json.Marshal(v)
			row[prefix] = string(b)
			return
		}
		for i, x := range v {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), x, row, jsonCells)
		}
	case json.Number:
		row[prefix] = v.String()
	default:
		row[prefix] = fmt.Sprint(v)
	}
}

// toCSV flattens JSONL records into CSV, with the union of their columns.
func toCSV(t *testing.T, jsonl []byte, jsonCells []string) []byte {
	var rows []map[string]string
	var cols []string
	for _, line := range bytes.Split(bytes.TrimSpace(jsonl), []byte("\n")) {
		d := json.NewDecoder(bytes.NewReader(line))
		d.UseNumber()
		var rec map[string]any
		if err := d.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		row := map[string]string{}
		flatten("", rec, row, jsonCells)
		for c := range row {
			if !slices.Contains(cols, c) {
				cols = append(cols, c)
			}
		}
		rows = append(rows, row)
	}
	slices.Sort(cols)
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(cols)
	for _, row := range rows {
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = row[c]
		}
		w.Write(cells)
	}
	w.Flush()
	return b.Bytes()
}

// Customs declarations exported from a spreadsheet, their line items as
// items[0].hs_code... columns or as JSON in one cell, are the same records,
// CID for CID, as their JSON Lines.
func TestCSVCarriesArrays(t *testing.T) {
	s := testkit.Schema(t, "customs-declaration")
	jsonl := testkit.JSONL(t, "customs-declaration", 200, 5)
	want, res, err := build(t, jsonl, publish.BuildOptions{Schema: s})
	if err != nil || res.Records != 200 {
		t.Fatal(res, err)
	}
	for name, jsonCells := range map[string][]string{"columns per element": nil, "JSON in a cell": {"items"}} {
		t.Run(name, func(t *testing.T) {
			data := toCSV(t, jsonl, jsonCells)
			if header, _, _ := bytes.Cut(data, []byte("\n")); jsonCells == nil && !bytes.Contains(header, []byte("items[1].hs_code")) {
				t.Fatalf("the export has no array columns: %s", header)
			}
			src, err := publish.CSVRecords(bytes.NewReader(data), s, publish.Input{})
			if err != nil {
				t.Fatal(err)
			}
			var got []publish.Record
			if _, err := publish.Build(context.Background(), src, publish.BuildOptions{Schema: s}, func(b []publish.Record) error {
				got = append(got, cloneRecords(b)...)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d records from CSV, %d from JSONL", len(got), len(want))
			}
			for i := range got {
				if got[i].CID != want[i].CID {
					t.Fatalf("record %d differs:\ncsv   %s\njsonl %s", i, got[i].Canonical, want[i].Canonical)
				}
			}
		})
	}
}

// A cell of a JSON column that is not JSON, and an element given twice,
// name the line and the column.
func TestCSVArrayErrors(t *testing.T) {
	s := testkit.Schema(t, "customs-declaration")
	for _, c := range []struct{ csv, field, msg string }{
		{"declaration_id,items\nX,[not json\n", "items", "cell is JSON"},
		{"declaration_id,items[0],items[0].hs_code\nX,1,2\n", "items[0].hs_code", "both a value and an object"},
		{"declaration_id,items[0].hs_code,items[0].hs_code\nX,1,2\n", "items[0].hs_code", "given twice"},
	} {
		src, err := publish.CSVRecords(strings.NewReader(c.csv), s, publish.Input{})
		if err == nil {
			_, _, err = src.Next()
		}
		var re *publish.RecordError
		if !errors.As(err, &re) || re.Field != c.field || !strings.Contains(re.Msg, c.msg) {
			t.Errorf("%q: %v, want %s: %s", c.csv, err, c.field, c.msg)
		}
	}
}
