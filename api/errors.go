package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// The kinds of error a gateway's services return, and that the client's
// errors answer to with errors.Is. Each kind is one HTTP status; the table
// kindStatus below is the one place that maps them.
var (
	// ErrInvalid: the request is malformed (400).
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound: what the request names is not held here (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request is refused in the gateway's present state:
	// a reload that is refused, a fetch already in progress, an ambiguous
	// name (409).
	ErrConflict = errors.New("conflict")
	// ErrGone: what the request names was retracted by its owner (410).
	ErrGone = errors.New("gone")
	// ErrRefused: the request is well formed but its content does not
	// check: records that do not validate, a policy bundle with problems,
	// evidence that does not verify (422).
	ErrRefused = errors.New("refused")
)

var kindStatus = []struct {
	kind   error
	status int
}{
	{ErrInvalid, http.StatusBadRequest},
	{ErrNotFound, http.StatusNotFound},
	{ErrConflict, http.StatusConflict},
	{ErrGone, http.StatusGone},
	{ErrRefused, http.StatusUnprocessableEntity},
}

// Error is a service's error of a kind (one of the Err* above), about one
// field of the request if Field is set.
type Error struct {
	Kind error
	// Field, if set, is the request's field that was wrong: a query
	// parameter or a JSON member, as the route names it.
	Field string
	Err   error
}

func (e *Error) Error() string   { return e.Err.Error() }
func (e *Error) Unwrap() []error { return []error{e.Kind, e.Err} }

// Errorf returns an *Error of kind.
func Errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Err: fmt.Errorf(format, args...)}
}

// FieldErrorf returns an *Error of kind about one field of the request,
// which the answer's problem names.
func FieldErrorf(kind error, field, format string, args ...any) error {
	return &Error{Kind: kind, Field: field, Err: fmt.Errorf(format, args...)}
}

// StatusOf is the HTTP status of err's kind, or def if it has none.
func StatusOf(err error, def int) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	for _, k := range kindStatus {
		if errors.Is(err, k.kind) {
			return k.status
		}
	}
	return def
}

// FieldOf is the request field err names, if any.
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Field != "" {
		return e.Field
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Field
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	return ""
}

// StatusError is the client's error for an error answer: its HTTP status,
// the field its problem names, and its detail. errors.Is matches it with
// the kind its status stands for.
type StatusError struct {
	Code  int
	Field string
	Err   error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// Is reports whether the status stands for kind.
func (e *StatusError) Is(kind error) bool {
	for _, k := range kindStatus {
		if k.kind == kind {
			return k.status == e.Code
		}
	}
	return false
}
