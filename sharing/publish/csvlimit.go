package publish

import "io"

// recordLimiter sits between a CSV file and encoding/csv, which holds a
// whole record in memory whatever its size: one 50 MB cell would cost the
// gateway a 50 MB record, and more in the pipeline behind it. The limiter
// follows the CSV grammar (RFC 4180: quoted fields, "" inside them,
// line breaks inside quotes) over every byte it passes, and cuts a record
// that grows past max bytes: it drops the rest of the record, closes an open
// quote, ends the record, and passes on one empty line for each line break
// it dropped, which encoding/csv skips, so that later line numbers stay
// true. The source asks wasCut for each record it reads and refuses the
// cut ones, at their line, as a JSONL source refuses a long line.
type recordLimiter struct {
	r     io.Reader
	delim byte
	max   int

	in  []byte // read from r
	out []byte // to hand to encoding/csv
	err error  // r's error, once in is spent

	// The grammar's state after the last byte scanned.
	inQuotes, quotePending bool
	fieldStart             bool

	line     int // the line of the next byte, 1-based
	recStart int // the line the current record starts on
	size     int // bytes of the current record so far
	skipping bool
	dropped  int   // line breaks dropped from the current cut record
	cut      []int // the start lines of cut records, oldest first
}

func newRecordLimiter(r io.Reader, delim byte, max int) *recordLimiter {
	return &recordLimiter{r: r, delim: delim, max: max, in: make([]byte, 64<<10),
		fieldStart: true, line: 1, recStart: 1}
}

func (l *recordLimiter) Read(p []byte) (int, error) {
	for len(l.out) == 0 {
		if l.err != nil {
			return 0, l.err
		}
		n, err := l.r.Read(l.in)
		for _, c := range l.in[:n] {
			l.feed(c)
		}
		l.err = err
	}
	n := copy(p, l.out)
	l.out = l.out[n:]
	if len(l.out) == 0 {
		l.out = l.out[:0:0]
	}
	return n, nil
}

// feed scans one byte and passes it on, unless it belongs to a record
// being cut.
func (l *recordLimiter) feed(c byte) {
	end := l.scan(c)
	if c == '\n' {
		l.line++
	}
	if l.skipping {
		if !end {
			if c == '\n' {
				l.dropped++
			}
			return
		}
		l.out = append(l.out, '\n')
		for range l.dropped {
			l.out = append(l.out, '\n')
		}
		l.skipping, l.dropped = false, 0
	} else {
		l.out = append(l.out, c)
		l.size++
	}
	if end {
		l.size, l.recStart = 0, l.line
		return
	}
	if l.size > l.max {
		l.cut = append(l.cut, l.recStart)
		l.skipping = true
		if l.inQuotes && !l.quotePending {
			l.out = append(l.out, '"') // a pending quote closes the field itself
		}
	}
}

// scan advances the grammar over c and reports whether c ends a record.
func (l *recordLimiter) scan(c byte) bool {
	if l.inQuotes {
		if !l.quotePending {
			l.quotePending = c == '"'
			return false
		}
		l.quotePending = false
		if c == '"' { // "" is a quote inside the field
			return false
		}
		l.inQuotes = false // the quote closed the field; c follows it
	}
	switch c {
	case l.delim:
		l.fieldStart = true
	case '\n':
		l.fieldStart = true
		return true
	case '"':
		l.inQuotes = l.fieldStart
		l.fieldStart = false
	default:
		l.fieldStart = false
	}
	return false
}

// wasCut reports whether the record that starts on line was cut; the
// source asks for its records in order.
func (l *recordLimiter) wasCut(line int) bool {
	for len(l.cut) > 0 && l.cut[0] < line {
		l.cut = l.cut[1:]
	}
	if len(l.cut) > 0 && l.cut[0] == line {
		l.cut = l.cut[1:]
		return true
	}
	return false
}
