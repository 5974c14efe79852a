package publish

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/transform"
)

// Input files are UTF-8 unless the publisher names another encoding. A file
// that is not valid in its encoding is refused at the line and column of
// the first bad byte: decoding it anyway would put U+FFFD in place of the
// agency's text, and that would be signed and delivered as authentic.

// Encodings lists examples of the names Input.Encoding takes: any IANA
// character set name or WHATWG label that golang.org/x/text knows.
const Encodings = "utf-8 (default), gb18030, gbk, windows-1251, koi8-r, iso-8859-1 .. iso-8859-16, windows-1250 .. windows-1258"

// utf8BOM is the byte-order mark that Excel's "CSV UTF-8" writes first.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// textInput is an input decoded to UTF-8, with what a source needs to say
// where a byte was invalid.
type textInput struct {
	r io.Reader
	// name is the encoding's name for messages, "" for UTF-8.
	name string
}

// decodeInput returns r as UTF-8 text: a UTF-8 byte-order mark at the
// start is dropped, and any other encoding is decoded. The sources check
// what comes out (checkText).
func decodeInput(r io.Reader, name string) (textInput, error) {
	enc, canon, err := lookupEncoding(name)
	if err != nil {
		return textInput{}, err
	}
	br := bufio.NewReaderSize(r, 1<<20)
	if enc == nil {
		if head, _ := br.Peek(3); bytes.Equal(head, utf8BOM) {
			_, _ = br.Discard(3)
		}
		return textInput{r: br}, nil
	}
	return textInput{r: transform.NewReader(br, enc.NewDecoder()), name: canon}, nil
}

// lookupEncoding finds an encoding by name; nil means UTF-8.
func lookupEncoding(name string) (encoding.Encoding, string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" || n == "utf-8" || n == "utf8" {
		return nil, "", nil
	}
	enc, err := ianaindex.IANA.Encoding(n)
	if enc == nil || err != nil {
		enc, err = htmlindex.Get(n)
	}
	if enc == nil || err != nil {
		return nil, "", fmt.Errorf("encoding %q is not known: use one of %s", name, Encodings)
	}
	if canon, err := ianaindex.IANA.Name(enc); err == nil {
		n = strings.ToLower(canon)
	}
	if n == "utf-8" {
		return nil, "", nil
	}
	return enc, n, nil
}

// EncodingError is a byte that is not valid in the input's encoding. It
// fails the whole publish, with or without a reject file: a file in the
// wrong encoding is wrong throughout, not on a few lines.
type EncodingError struct {
	// Line and Column are 1-based; the column counts bytes of the line as
	// UTF-8 (for decoded input, after decoding).
	Line, Column int
	Encoding     string // "" for UTF-8
}

func (e *EncodingError) Error() string {
	if e.Encoding == "" {
		return fmt.Sprintf("line %d, column %d: the file is not UTF-8 (a byte here is not valid UTF-8); if it is in another encoding, name it, e.g. --encoding windows-1251 (%s)", e.Line, e.Column, Encodings)
	}
	return fmt.Sprintf("line %d, column %d: a byte here is not valid %s; is the file in another encoding?", e.Line, e.Column, e.Encoding)
}

// clean reports quickly, without copying, that b holds no invalid byte
// (checkText finds it otherwise).
func (in textInput) clean(b []byte) bool {
	if in.name == "" {
		return utf8.Valid(b)
	}
	return !bytes.ContainsRune(b, utf8.RuneError)
}

// checkText finds the first invalid byte of s, which starts at line and
// column of its file: for UTF-8 input, a byte that is not UTF-8; for
// decoded input, the U+FFFD its decoder put in place of an invalid byte.
// It returns nil if s is clean.
func (in textInput) checkText(s string, line, column int) *EncodingError {
	bad := -1
	if in.name == "" {
		if !utf8.ValidString(s) {
			for i, r := range s {
				if r == utf8.RuneError {
					if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
						bad = i
						break
					}
				}
			}
		}
	} else {
		bad = strings.IndexRune(s, utf8.RuneError)
	}
	if bad < 0 {
		return nil
	}
	for _, c := range []byte(s[:bad]) {
		column++
		if c == '\n' {
			line, column = line+1, 1
		}
	}
	return &EncodingError{Line: line, Column: column, Encoding: in.name}
}
