package policy

import (
	"fmt"
	"time"
)

// keysRequest is the session KeysOf builds keys in.
var keysRequest = Request{Org: Org{ID: "customs-kz", Country: "KZ", Sector: "customs"}, Purpose: "customs-clearance",
	Time: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}

// PlanString describes the memo plan, for tests.
func PlanString(b *Bundle) string { return fmt.Sprintf("%+v", b.plan) }

// MemoOn reports whether b's sessions memoize.
func MemoOn(b *Bundle) bool { return b.plan.memo }

// KeysOf returns r's memo key built from its attribute map and, if r has a
// tuple, from the tuple (nil otherwise).
func KeysOf(b *Bundle, r Record, counter int64) (fromMap, fromTuple []byte) {
	sc := b.plan.resolve(keysRequest.Org.entity(), keysRequest.fetchContext(counter))
	m := Materialized(r) // as Session.appendKey does before a map key
	fromMap = b.plan.appendKey(nil, sc, &m, counter)
	if r.layout != nil {
		fromTuple, _ = b.plan.appendTupleKey(nil, sc, b.plan.project(r.layout), &r, counter)
	}
	return fromMap, fromTuple
}

// Materialized returns r with its ID and Attrs made, as a session makes them
// for a lazy record.
func Materialized(r Record) Record {
	if err := r.materialize(); err != nil {
		panic(err)
	}
	return r
}

// TupleOf returns r's compact copy of its attributes.
func TupleOf(r Record) []byte { return r.tuple }

// DecideDirect decides r without the memo: the oracle for memoized
// decisions. It does not count towards released_today.
func DecideDirect(s *Session, r Record) Decision {
	d, _ := s.direct(&r)
	return d
}

// NewExtractor is an extractor of the demo vocabulary's attributes.
func NewExtractor(names []string) (*Extractor, error) {
	v, err := DemoVocabulary()
	if err != nil {
		return nil, err
	}
	return v.Extractor(names)
}
