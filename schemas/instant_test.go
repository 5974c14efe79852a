package schemas_test

import (
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/schemas"
)

// Every string ParseInstant takes is one that the schema's own "date-time"
// or "date" check takes, and it is the instant Go's RFC 3339 parser reads
// where that parser reads one.
func FuzzParseInstant(f *testing.F) {
	for _, s := range []string{"2026-03-01T17:00:00+05:00", "2026-03-01t12:00:00.123456789z", "2016-12-31T23:59:60Z",
		"2026-03-01", "2026-03-01T12:00:00-00:00", "2026-03-01T+1:00:00Z", "2026-02-29"} {
		f.Add(s)
	}
	dateTime, date := schemas.FormatCheck("date-time"), schemas.FormatCheck("date")
	f.Fuzz(func(t *testing.T, s string) {
		at, err := schemas.ParseInstant(s)
		if err != nil {
			return
		}
		if at.Location() != time.UTC {
			t.Fatalf("%q: %v is not in UTC", s, at)
		}
		if len(s) == 10 {
			if date(s) != nil {
				t.Fatalf("%q: a date the schema refuses", s)
			}
			return
		}
		if err := dateTime(s); err != nil {
			t.Fatalf("%q: a date-time the schema refuses: %v", s, err)
		}
		if goat, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s)); err == nil && !goat.Equal(at) {
			t.Fatalf("%q: %v, but Go reads %v", s, at, goat)
		}
	})
}
