package schemas

import (
	"errors"
	"fmt"
	"time"
)

// ErrNotInstant is the error of ParseInstant for a string that is not an RFC
// 3339 date-time or full-date.
var ErrNotInstant = errors.New("not an RFC 3339 date-time (2006-01-02T15:04:05Z, 2006-01-02T15:04:05.123+05:00) or date (2006-01-02)")

// ParseInstant reads the value of a "date-time" or "date" policy attribute
// as the instant it names, in UTC: every RFC 3339 spelling of one instant
// gives the same time.Time, so a decision never depends on how a time was
// written. It accepts (RFC 3339 section 5.6, as JSON Schema's formats do):
//
//   - full-date: YYYY-MM-DD, the day's midnight in UTC;
//   - date-time: YYYY-MM-DD "T" hh:mm:ss [ "." 1*DIGIT ] ( "Z" / ("+"/"-") hh:mm ),
//     with "t" and "z" in either case, a fraction of any length (digits past
//     the ninth are dropped: policies see milliseconds), and a leap second
//     (:60) counted as the first instant of the next minute, as POSIX time
//     does.
//
// Anything else, such as an offset without its colon or a field out of
// range, is ErrNotInstant wrapped with what is wrong.
func ParseInstant(s string) (time.Time, error) {
	bad := func(what string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("%w: %s", ErrNotInstant, what)
	}
	if len(s) < 10 || !quickDate(s[:10]) {
		return bad("the date must be YYYY-MM-DD, a day that exists")
	}
	y, _ := digitsAt(s, 0, 4)
	mo, _ := digitsAt(s, 5, 2)
	d, _ := digitsAt(s, 8, 2)
	if len(s) == 10 {
		return time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC), nil
	}
	if s[10] != 'T' && s[10] != 't' {
		return bad("the time must follow the date after a T")
	}
	rest := s[11:]
	if len(rest) < 9 || rest[2] != ':' || rest[5] != ':' {
		return bad("the time must be hh:mm:ss")
	}
	h, ok1 := digitsAt(rest, 0, 2)
	mi, ok2 := digitsAt(rest, 3, 2)
	sec, ok3 := digitsAt(rest, 6, 2)
	if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || sec > 60 {
		return bad("hour, minute or second out of range")
	}
	rest = rest[8:]
	nsec := 0
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			if n <= 9 {
				nsec = nsec*10 + int(rest[n]-'0')
			}
			n++
		}
		if n == 1 {
			return bad("a decimal point must be followed by digits")
		}
		for i := n; i <= 9; i++ {
			nsec *= 10
		}
		rest = rest[n:]
	}
	offset := 0
	switch {
	case rest == "Z" || rest == "z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digitsAt(rest, 1, 2)
		om, ok2 := digitsAt(rest, 4, 2)
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return bad("offset out of range")
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return bad("the time must end in Z or an offset such as +05:00")
	}
	local := time.Date(y, time.Month(mo), d, h, mi, 0, 0, time.UTC)
	utc := local.Add(time.Duration(sec-offset)*time.Second + time.Duration(nsec))
	if sec == 60 {
		if u := utc.Add(-time.Second); u.Hour() != 23 || u.Minute() != 59 || u.Second() != 59 {
			return bad("a leap second is 23:59:60 in UTC")
		}
	}
	return utc, nil
}
