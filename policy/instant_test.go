package policy_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/policy"
)

// spellings returns ways of writing the instant t (which has no more than
// digits digits of fraction) as RFC 3339 allows: any offset, a fraction of
// any length that still holds t, "t" and "z" in either case.
func spellings(rng *rand.Rand, t time.Time, digits, n int) []string {
	out := make([]string, 0, n)
	for range n {
		off := time.Duration(rng.IntN(2*24*60-1)-(24*60-1)) * time.Minute
		if rng.IntN(4) == 0 {
			off = 0
		}
		local := t.In(time.FixedZone("", int(off/time.Second)))
		var b strings.Builder
		b.WriteString(local.Format("2006-01-02"))
		b.WriteByte("Tt"[rng.IntN(2)])
		b.WriteString(local.Format("15:04:05"))
		if d := digits + rng.IntN(10-digits); d > 0 {
			frac := fmt.Sprintf("%09d", local.Nanosecond())
			b.WriteString("." + (frac + "000")[:d])
		}
		switch {
		case off == 0 && rng.IntN(2) == 0:
			b.WriteByte("Zz"[rng.IntN(2)])
		default:
			sign, o := '+', off
			if o < 0 {
				sign, o = '-', -o
			}
			if o == 0 && rng.IntN(2) == 0 {
				sign = '-' // RFC 3339's "unknown local offset": still UTC
			}
			fmt.Fprintf(&b, "%c%02d:%02d", sign, int(o.Hours()), int(o.Minutes())%60)
		}
		out = append(out, b.String())
	}
	return out
}

// A decision on a record never depends on how its time was spelled: random
// instants, each written many ways, are decided exactly as their UTC
// spelling is, by every way a record is built, against times just before,
// at and just after them.
func TestSpellingOfATimeNeverChangesADecision(t *testing.T) {
	const src = `
@id("before") permit (principal, action == Action::"fetch", resource)
when { resource has valid_until && resource.valid_until < context.time };
@id("same") forbid (principal, action == Action::"fetch", resource)
when { resource has valid_until && resource.valid_until == context.time };
@id("soon") permit (principal, action == Action::"fetch", resource)
when { resource has valid_until && resource.valid_until.offset(duration("-1s")) <= context.time };
`
	b, err := policy.Parse(map[string][]byte{"times.cedar": []byte(src)}, demoVocabulary)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := policy.NewExtractor([]string{"valid_until"})
	if err != nil {
		t.Fatal(err)
	}
	record := func(how int, s string) policy.Record {
		t.Helper()
		src := []byte(`{"valid_until":"` + s + `"}`)
		var r policy.Record
		var err error
		switch how {
		case 0:
			r, err = ex.Record("r", map[string]any{"valid_until": s})
		case 1:
			var v jcs.Value
			if v, err = jcs.ParseValue(src); err == nil {
				r, err = ex.RecordValue("r", &v)
			}
		default:
			var v jcs.Value
			if v, err = jcs.ParseValue(src); err == nil {
				r, err = ex.RecordLazy(cids.OfJSON(src), src, &v)
			}
		}
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		return r
	}
	rng := rand.New(rand.NewPCG(24, 1))
	instants := 300
	if testing.Short() {
		instants = 100
	}
	// Years 0002 to 9998, so that every offset keeps the local date within
	// RFC 3339's four-digit years.
	lo, hi := time.Date(2, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(9998, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	decided := 0
	for range instants {
		digits := rng.IntN(10)
		unit := int64(1)
		for range 9 - digits {
			unit *= 10
		}
		ns := rng.Int64N(1e9)
		at := time.Unix(lo+rng.Int64N(hi-lo), ns-ns%unit).UTC()
		utc := at.Format("2006-01-02T15:04:05.000000000Z")
		spelled := spellings(rng, at, digits, 12)
		for _, delta := range []time.Duration{-time.Second, -time.Millisecond, 0, time.Millisecond, 999 * time.Millisecond, time.Second} {
			req := policy.Request{Org: customsKZ, Dataset: declarations, Purpose: "customs-clearance", Time: at.Add(delta).Truncate(time.Millisecond)}
			want := b.Fetch(req, nil).Decide([]policy.Record{record(0, utc)}, nil)[0]
			for _, s := range spelled {
				recs := []policy.Record{record(0, s), record(1, s), record(2, s)}
				for how, got := range b.Fetch(req, nil).Decide(recs, nil) {
					decided++
					if got.Permit != want.Permit || strings.Join(got.Policies, ",") != strings.Join(want.Policies, ",") {
						t.Fatalf("%q (built %d) against %s: %+v; its UTC spelling %q: %+v", s, how, req.Time, got, utc, want)
					}
				}
			}
		}
	}
	t.Logf("%d decisions on other spellings agree with the UTC spelling's", decided)
}

// The forms the issue named, each the same instant as its UTC spelling;
// and strings that name no instant are an error, never a silent default.
func TestInstantSpellings(t *testing.T) {
	ex, err := policy.NewExtractor([]string{"valid_until"})
	if err != nil {
		t.Fatal(err)
	}
	same := map[string][]string{
		"2026-03-01T12:00:00Z": {"2026-03-01T17:00:00+05:00", "2026-03-01T09:00:00-03:00", "2026-03-01t12:00:00z",
			"2026-03-01T12:00:00.000000000Z", "2026-03-01T12:00:00.0Z", "2026-03-01T12:00:00-00:00", "2026-03-02T01:30:00+13:30"},
		"2026-03-01T12:00:00.123Z": {"2026-03-01T12:00:00.1234567891234Z", "2026-03-01T14:00:00.123+02:00"},
		"2017-01-01T00:00:00Z":     {"2016-12-31T23:59:60Z", "2017-01-01T05:59:60+06:00"}, // leap second
		"2026-03-01T00:00:00Z":     {"2026-03-01"},
	}
	for utc, others := range same {
		want, err := ex.Record("r", map[string]any{"valid_until": utc})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range others {
			got, err := ex.Record("r", map[string]any{"valid_until": s})
			if err != nil {
				t.Errorf("%q: %v", s, err)
				continue
			}
			if !got.Attrs["valid_until"].Equal(want.Attrs["valid_until"]) {
				t.Errorf("%q is %v, want %v (%q)", s, got.Attrs["valid_until"], want.Attrs["valid_until"], utc)
			}
		}
	}
	for _, bad := range []string{"2026-03-01T12:00:00+0500", "2026-03-01 12:00:00Z", "2026-03-01T12:00:00", "2026-02-30",
		"2026-03-01T24:00:00Z", "2026-03-01T12:00:00.Z", "2026-03-01T+1:00:00Z", "2026-03-01T12:00:60Z", "26-03-01", ""} {
		if _, err := ex.Record("r", map[string]any{"valid_until": bad}); err == nil {
			t.Errorf("%q was taken for an instant", bad)
		}
	}
}
