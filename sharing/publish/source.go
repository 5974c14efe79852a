package publish

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

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
			// JSON's white space only (RFC 8259): a record wrapped in a
			// no-break space, U+2028 or a vertical tab is not JSON.
			if t := bytes.Trim(b, " \t\r\n"); len(t) > 0 {
				return line, t, nil
			}
			if err != nil {
				return 0, nil, err
			}
		}
	})
}

// Input is how an input file is written.
type Input struct {
	Format   string // "jsonl" (default) or "csv"
	Encoding string // "utf-8" (default), or another: see Encodings
	// Delimiter separates a CSV file's cells: "," (default), ";", "tab"
	// (or a tab itself) or "|".
	Delimiter string
}

// delimiter is the CSV delimiter in.Delimiter names.
func (in Input) delimiter() (rune, error) {
	switch in.Delimiter {
	case "", ",":
		return ',', nil
	case ";":
		return ';', nil
	case "tab", "\t", "\\t", "TAB":
		return '\t', nil
	case "|":
		return '|', nil
	}
	return 0, fmt.Errorf("delimiter %.20q: want ',', ';', 'tab' or '|'", in.Delimiter)
}

// Open reads r as in says, for records of schema s (which CSV needs for
// its cells' types).
func Open(r io.Reader, s *schemas.Schema, in Input) (Source, error) {
	switch in.Format {
	case "", "jsonl":
		if in.Delimiter != "" {
			return nil, errors.New("delimiter: only a CSV file has one")
		}
		text, err := decodeInput(r, in.Encoding)
		if err != nil {
			return nil, err
		}
		lines := JSONLines(text.r)
		return SourceFunc(func() (int, []byte, error) {
			line, raw, err := lines.Next()
			if err == nil && !text.clean(raw) {
				return line, nil, text.checkText(string(raw), line, 1)
			}
			return line, raw, err
		}), nil
	case "csv":
		return CSVRecords(r, s, in)
	}
	return nil, fmt.Errorf("format %q: want jsonl or csv", in.Format)
}
