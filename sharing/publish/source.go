package publish

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/caravan-consortium/caravan/schemas"
)

// MaxRecordSize bounds one record of input.
const MaxRecordSize = 1 << 20

// Source yields raw JSON records with the input line they start on. Next
// returns io.EOF after the last record.
type Source interface {
	Next() (line int, raw []byte, err error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func() (int, []byte, error)

// Next calls f.
func (f SourceFunc) Next() (int, []byte, error) { return f() }

// JSONLines reads one JSON record per line; blank lines are skipped. The
// returned bytes are valid until the next call.
func JSONLines(r io.Reader) Source {
	br := bufio.NewReaderSize(r, 1<<20)
	line := 0
	return SourceFunc(func() (int, []byte, error) {
		for {
			b, err := br.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				// A line longer than the buffer: gather it, within the limit,
				// and skip the rest of a line over the limit.
				long := append([]byte(nil), b...)
				for errors.Is(err, bufio.ErrBufferFull) {
					b, err = br.ReadSlice('\n')
					if len(long) <= MaxRecordSize {
						long = append(long, b...)
					}
				}
				b = long
			}
			if len(b) == 0 && err != nil {
				return 0, nil, err
			}
			line++
			if len(b) > MaxRecordSize {
				return line, nil, &RecordError{Line: line, Msg: fmt.Sprintf("record is larger than %d bytes", MaxRecordSize)}
			}
			if t := bytes.TrimSpace(b); len(t) > 0 {
				return line, t, nil
			}
			if err != nil {
				return 0, nil, err
			}
		}
	})
}

// CSVRecords reads a CSV file with a header row. Column names are field
// paths ("declarant.name", "location.unlocode"); each cell is converted to
// the type the schema gives its field; empty cells are left out.
func CSVRecords(r io.Reader, s *schemas.Schema) (Source, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<20))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("CSV header: %w", err)
	}
	cols := make([]column, len(header))
	for i, h := range header {
		path, err := parsePath(strings.TrimSpace(h))
		if err != nil {
			return nil, &RecordError{Line: 1, Field: h, Msg: err.Error()}
		}
		cols[i] = column{name: h, path: path, typ: s.TypeAt(path)}
		if cols[i].typ == "" {
			return nil, &RecordError{Line: 1, Field: h, Msg: "column is not a field of schema " + s.Ref()}
		}
	}
	return SourceFunc(func() (int, []byte, error) {
		row, err := cr.Read()
		if err != nil {
			return 0, nil, err
		}
		line, _ := cr.FieldPos(0)
		obj := map[string]any{}
		for i, cell := range row {
			if cell == "" || i >= len(cols) {
				continue
			}
			v, err := cols[i].convert(cell)
			if err != nil {
				return line, nil, &RecordError{Line: line, Field: cols[i].name, Msg: err.Error()}
			}
			if err := setPath(obj, cols[i].path, v); err != nil {
				return line, nil, &RecordError{Line: line, Field: cols[i].name, Msg: err.Error()}
			}
		}
		raw, err := json.Marshal(obj)
		return line, raw, err
	}), nil
}

type column struct {
	name string
	path []string
	typ  string
}

func (c column) convert(cell string) (any, error) {
	switch c.typ {
	case "integer", "number":
		if _, err := strconv.ParseFloat(cell, 64); err != nil {
			return nil, fmt.Errorf("%q is not a number", cell)
		}
		return json.Number(cell), nil
	case "boolean":
		b, err := strconv.ParseBool(cell)
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", cell)
		}
		return b, nil
	}
	return cell, nil
}

// parsePath splits "a.b.c" into ["a", "b", "c"]. Arrays cannot be spelt in
// CSV columns: such records are published as JSONL.
func parsePath(s string) ([]string, error) {
	if strings.ContainsAny(s, "[]") {
		return nil, fmt.Errorf("array fields cannot be given as CSV columns; publish this dataset as JSONL")
	}
	parts := strings.Split(s, ".")
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("bad field path %q", s)
		}
	}
	return parts, nil
}

// setPath stores v at path in obj, creating objects on the way.
func setPath(obj map[string]any, path []string, v any) error {
	for i, p := range path[:len(path)-1] {
		next, ok := obj[p].(map[string]any)
		if !ok {
			if _, taken := obj[p]; taken {
				return fmt.Errorf("%q is both a value and an object", strings.Join(path[:i+1], "."))
			}
			next = map[string]any{}
			obj[p] = next
		}
		obj = next
	}
	obj[path[len(path)-1]] = v
	return nil
}
