// Package yamlfile decodes YAML documents strictly and reports errors that
// name the file, the line and the field, so that an operator can go straight
// to the mistake.
package yamlfile

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"
)

// Error is a problem in a YAML file. Line is 0 when it is not known.
type Error struct {
	File  string // path of the file, as given by the caller
	Line  int    // 1-based line, or 0
	Field string // dotted path of the field, e.g. "limits.max_streams", or ""
	Err   error  // what is wrong
}

// Unwrap returns the underlying error, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Decode decodes data (read from file) into v. Unknown fields are errors, so
// that a misspelt key is reported instead of silently ignored.
func Decode(file string, data []byte, v any) error {
	err := yaml.UnmarshalWithOptions(data, v, yaml.DisallowUnknownField(), yaml.Strict())
	if err == nil {
		return nil
	}
	var yerr yaml.Error
	if errors.As(err, &yerr) {
		line := 0
		if tk := yerr.GetToken(); tk != nil && tk.Position != nil {
			line = tk.Position.Line
		}
		return &Error{File: file, Line: line, Err: errors.New(yerr.GetMessage())}
	}
	return &Error{File: file, Err: err}
}

// FieldError returns an Error for field (a dotted path such as "listen[1]" or
// "limits.max_streams") with the line where the field stands in data, if it
// can be found.
func FieldError(file string, data []byte, field, format string, args ...any) *Error {
	return &Error{File: file, Line: Line(data, field), Field: field, Err: fmt.Errorf(format, args...)}
}

// Line returns the 1-based line of field in the YAML document data, or 0.
func Line(data []byte, field string) int {
	if field == "" || len(data) == 0 {
		return 0
	}
	p, err := yaml.PathString("$." + field)
	if err != nil {
		return 0
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return 0
	}
	n, err := p.FilterFile(f)
	if err != nil || n == nil || n.GetToken() == nil || n.GetToken().Position == nil {
		return 0
	}
	return n.GetToken().Position.Line
}
