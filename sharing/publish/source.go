package publish

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
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
