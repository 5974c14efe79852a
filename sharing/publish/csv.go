package publish

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/caravan-consortium/caravan/schemas"
)

// CSVRecords reads a CSV file with a header row (spreadsheet exports). A
// column is a field path:
//
//	declarant.name        a field of an object
//	items[0].hs_code      a field of an array's element (items[1].hs_code, ...)
//	tags[0]               an array's element (tags[1], ...)
//	treatments            a whole array or object, written as JSON in its cells
//
// Each cell is converted to the type the schema gives its field; empty
// cells are left out, and so are the elements of an array that all their
// cells leave out (the others keep their order). The input is UTF-8 (a
// byte-order mark first is dropped) unless opts names another encoding;
// cells are separated by opts.Delimiter. A record larger than
// MaxRecordSize is refused at its line, and the file is read on past it.
func CSVRecords(r io.Reader, s *schemas.Schema, opts Input) (Source, error) {
	delim, err := opts.delimiter()
	if err != nil {
		return nil, err
	}
	text, err := decodeInput(r, opts.Encoding)
	if err != nil {
		return nil, err
	}
	lim := newRecordLimiter(text.r, byte(delim), MaxRecordSize)
	cr := csv.NewReader(bufio.NewReaderSize(lim, 64<<10))
	cr.ReuseRecord = true
	cr.Comma = delim
	cr.FieldsPerRecord = -1 // a row of the wrong width is that row's error, below
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("CSV header: %w", csvError(err))
	}
	if lim.wasCut(1) {
		return nil, &RecordError{Line: 1, Msg: fmt.Sprintf("the header is larger than %d bytes", MaxRecordSize)}
	}
	cols, err := csvColumns(header, cr, text, s, delim)
	if err != nil {
		return nil, err
	}
	return SourceFunc(func() (int, []byte, error) {
		row, err := cr.Read()
		if err == io.EOF {
			return 0, nil, err
		}
		line, _ := cr.FieldPos(0)
		if lim.wasCut(line) {
			return line, nil, &RecordError{Line: line, Msg: fmt.Sprintf("record is larger than %d bytes", MaxRecordSize)}
		}
		if err != nil {
			if pe := (*csv.ParseError)(nil); errors.As(err, &pe) {
				return pe.StartLine, nil, &RecordError{Line: pe.StartLine, Msg: csvError(err).Error()}
			}
			return 0, nil, err
		}
		for i, cell := range row {
			l, c := cr.FieldPos(i)
			if e := text.checkText(cell, l, c); e != nil {
				return line, nil, e
			}
		}
		if len(row) > len(cols) {
			_, c := cr.FieldPos(len(cols))
			return line, nil, &RecordError{Line: line, Msg: fmt.Sprintf("column %d: the row has %d cells, the header %d", c, len(row), len(cols))}
		}
		rec := node{}
		for i, cell := range row {
			if cell == "" {
				continue
			}
			v, err := cols[i].convert(cell)
			if err != nil {
				return line, nil, &RecordError{Line: line, Field: cols[i].name, Msg: err.Error()}
			}
			if err := rec.set(cols[i].path, v); err != nil {
				return line, nil, &RecordError{Line: line, Field: cols[i].name, Msg: err.Error()}
			}
		}
		raw, err := json.Marshal(rec.value())
		return line, raw, err
	}), nil
}

// csvColumns reads the header's columns as field paths of s.
func csvColumns(header []string, cr *csv.Reader, text textInput, s *schemas.Schema, delim rune) ([]column, error) {
	cols := make([]column, len(header))
	for i, h := range header {
		l, c := cr.FieldPos(i)
		if e := text.checkText(h, l, c); e != nil {
			return nil, e
		}
		h = strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")
		path, err := parsePath(h)
		if err == nil {
			cols[i] = column{name: h, path: path, typ: s.TypeAt(path.schemaPath()), sensitive: s.SensitiveField(h)}
			if cols[i].typ == "" {
				err = errors.New("column is not a field of schema " + s.Ref())
			}
		}
		if err != nil {
			if len(header) == 1 {
				for _, d := range []string{";", "\t", ","} {
					if d != string(delim) && strings.Contains(h, d) {
						name := map[string]string{";": "';'", "\t": "a tab", ",": "','"}[d]
						flag := map[string]string{";": "--delimiter ';'", "\t": "--delimiter tab", ",": "--delimiter ','"}[d]
						err = fmt.Errorf("%v (the header is one column that contains %s: is the file delimited by %s? Say so with %s)", err, name, name, flag)
						break
					}
				}
			}
			return nil, &RecordError{Line: 1, Field: h, Msg: err.Error()}
		}
	}
	return cols, nil
}

// csvError words encoding/csv's errors with the column they are at.
func csvError(err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return err
	}
	return fmt.Errorf("column %d: %w", pe.Column, pe.Err)
}

type column struct {
	name      string
	path      fieldPath
	typ       string
	sensitive bool // the column's values are never shown
}

// convert reads a cell as its field's type. The error quotes the cell
// unless the field is sensitive.
func (c column) convert(cell string) (any, error) {
	switch c.typ {
	case "integer", "number":
		if _, err := strconv.ParseFloat(cell, 64); err != nil || !json.Valid([]byte(cell)) {
			return nil, fmt.Errorf("%s is not a number", c.shown(cell))
		}
		return json.Number(cell), nil
	case "boolean":
		b, err := strconv.ParseBool(cell)
		if err != nil {
			return nil, fmt.Errorf("%s is not true or false", c.shown(cell))
		}
		return b, nil
	case "array", "object":
		var v any
		d := json.NewDecoder(strings.NewReader(cell))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			if c.sensitive {
				return nil, fmt.Errorf("a %s field's cell is JSON; %s is not", c.typ, c.shown(cell))
			}
			return nil, fmt.Errorf("a %s field's cell is JSON, e.g. %s: %v", c.typ, map[string]string{"array": `["a","b"]`, "object": `{"k":"v"}`}[c.typ], err)
		}
		return v, nil
	}
	return cell, nil
}

// shown is a cell as an error message may quote it.
func (c column) shown(cell string) string {
	if c.sensitive {
		return "the cell (a sensitive field: its value is not shown)"
	}
	return fmt.Sprintf("%.40q", cell)
}

// step is one step of a field path: a property, then an array index if
// the path gives one (-1 if not).
type step struct {
	name  string
	index int
}

// fieldPath is a column's path into a record.
type fieldPath []step

var stepPattern = regexp.MustCompile(`^([^\[\]]+)(?:\[([0-9]{1,4})\])?$`)

// parsePath splits "items[0].hs_code" into its steps.
func parsePath(s string) (fieldPath, error) {
	var out fieldPath
	for _, part := range strings.Split(s, ".") {
		m := stepPattern.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Errorf("bad field path %q: write fields as a.b, array elements as items[0].hs_code", s)
		}
		st := step{name: m[1], index: -1}
		if m[2] != "" {
			st.index, _ = strconv.Atoi(m[2])
		}
		out = append(out, st)
	}
	return out, nil
}

// schemaPath is the path as schemas.Schema.TypeAt takes it: property
// names, and "[]" for an array's items.
func (p fieldPath) schemaPath() []string {
	var out []string
	for _, st := range p {
		out = append(out, st.name)
		if st.index >= 0 {
			out = append(out, "[]")
		}
	}
	return out
}

// node is a record being built from a row: an object whose members are
// values, nodes, or arrays of nodes by index.
type node map[string]any

// elements are an array's elements by index: values or nodes.
type elements map[int]any

// set stores v at path, making objects and array elements on the way.
func (n node) set(path fieldPath, v any) error {
	st := path[0]
	last := len(path) == 1
	switch cur := n[st.name].(type) {
	case nil:
		if last && st.index < 0 {
			n[st.name] = v
			return nil
		}
	case node:
		if st.index < 0 && !last {
			return cur.set(path[1:], v)
		}
	case elements:
		if st.index >= 0 {
			return cur.set(st.index, path[1:], v)
		}
	}
	if n[st.name] != nil {
		return fmt.Errorf("%q is given twice, or both as a value and as a part", st.name)
	}
	if st.index < 0 {
		child := node{}
		n[st.name] = child
		return child.set(path[1:], v)
	}
	els := elements{}
	n[st.name] = els
	return els.set(st.index, path[1:], v)
}

// set stores v at rest of element i: the element itself if rest is empty.
func (e elements) set(i int, rest fieldPath, v any) error {
	if len(rest) == 0 {
		if e[i] != nil {
			return fmt.Errorf("element %d is given twice", i)
		}
		e[i] = v
		return nil
	}
	el, ok := e[i].(node)
	if !ok {
		if e[i] != nil {
			return fmt.Errorf("element %d is both a value and an object", i)
		}
		el = node{}
		e[i] = el
	}
	return el.set(rest, v)
}

// value is the record as encoding/json writes it: arrays in index order,
// their empty elements left out.
func (n node) value() map[string]any {
	out := make(map[string]any, len(n))
	for k, v := range n {
		switch v := v.(type) {
		case node:
			out[k] = v.value()
		case elements:
			idx := make([]int, 0, len(v))
			for i := range v {
				idx = append(idx, i)
			}
			sort.Ints(idx)
			arr := make([]any, 0, len(idx))
			for _, i := range idx {
				switch el := v[i].(type) {
				case node:
					if len(el) > 0 {
						arr = append(arr, el.value())
					}
				default:
					arr = append(arr, el)
				}
			}
			out[k] = arr
		default:
			out[k] = v
		}
	}
	return out
}
