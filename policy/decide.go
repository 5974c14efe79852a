package policy

import (
	"fmt"
	"slices"
	"time"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
)

// Decision is the outcome for one record or dataset.
type Decision struct {
	Permit bool
	// Policies are the ids of the policies that decided: the satisfied forbids
	// for a deny, the satisfied permits for a permit, none for a default deny.
	// Sorted. Shared between decisions: do not modify.
	Policies []string
}

// Explanation is a decision with everything that went into it.
type Explanation struct {
	Decision
	Bundle string // bundle CID
	// Errors are policies that could not be evaluated for this request (for
	// example a missing attribute read without `has`); Cedar skips them.
	Errors []string
	// Entities and Context are what the policies saw, in Cedar's JSON form.
	Principal types.Entity
	Resource  types.Entity
	Context   types.Record
}

// memoMax bounds a session's memo; past it, new tuples are decided directly.
const memoMax = 1 << 16

// Session decides the records of one fetch request. It is not safe for
// concurrent use; run one session per request.
type Session struct {
	b       *Bundle
	req     Request
	ledger  Volume
	err     error // the first failed ledger update
	day     string
	store   store
	memo    map[string]Decision
	key     []byte
	proj    *projection // for records with a tuple in proj.layout
	eq      *sessionComparands
	counter int64 // released_today when there is no ledger

	permitted, denied int
	// unledgered are the permits of chunks decided without the ledger
	// (the bundle never reads released_today): Commit adds them to it in
	// one update.
	unledgered int64
}

// Fetch starts a session for req. With a non-nil ledger, released_today comes
// from and goes to the ledger; call Commit before releasing the permitted
// records so that the count survives a crash.
func (b *Bundle) Fetch(req Request, ledger Volume) *Session {
	s := &Session{b: b, req: req, ledger: ledger, day: req.Day(), counter: req.ReleasedToday}
	s.store = store{org: req.Org.entity(), dataset: req.Dataset.entity()}
	if req.Owner != nil {
		s.store.owner, s.store.hasOwner = req.Owner.entity(), true
	}
	if b.plan.memo {
		s.memo = make(map[string]Decision)
		s.eq = b.plan.resolve(s.store.org, req.fetchContext(0))
	}
	return s
}

// DisableMemo makes the session decide every record with Cedar directly.
// Decisions are the same (TestMemoAgreesWithDirect); benchmarks use it to
// measure what the memo saves.
func (s *Session) DisableMemo() { s.memo = nil }

// Bundle is the bundle the session decides with, even if a newer one has
// been loaded since it started.
func (s *Session) Bundle() *Bundle { return s.b }

// Counts are the session's permitted and denied records so far.
func (s *Session) Counts() (permitted, denied int) { return s.permitted, s.denied }

// Decide decides recs in order, appending one decision per record to out.
// Each permit counts towards released_today for the following records.
// With a ledger, the chunk is decided inside one ledger update: no other
// fetch of the same org, on any node, counts in between. If the update
// fails, every record of the chunk is denied and Commit returns the error.
//
// A bundle that never reads released_today decides the same whatever the
// count: its chunks are decided without the ledger, and Commit counts
// their permits in one update, before any record is released. To another
// fetch of the org the session is then one step at Commit, as if it ran
// whole there; on cluster storage this saves a database transaction per
// chunk.
func (s *Session) Decide(recs []Record, out []Decision) []Decision {
	if s.ledger == nil {
		return s.decideChunk(recs, out)
	}
	if !s.b.plan.readsCounter() {
		permitted := s.permitted
		out = s.decideChunk(recs, out)
		s.unledgered += int64(s.permitted - permitted)
		return out
	}
	base, permitted, denied := len(out), s.permitted, s.denied
	err := s.ledger.Update(s.day, s.req.Org.ID, func(released int64) int64 {
		// A retried update decides the chunk again.
		out, s.counter, s.permitted, s.denied = out[:base], released, permitted, denied
		out = s.decideChunk(recs, out)
		return s.counter
	})
	if err != nil {
		if s.err == nil {
			s.err = fmt.Errorf("released_today: %w", err)
		}
		out = out[:base]
		for range recs {
			out = append(out, Decision{})
			s.denied++
		}
	}
	return out
}

// decideChunk decides recs against s.counter.
func (s *Session) decideChunk(recs []Record, out []Decision) []Decision {
	for i := range recs {
		d := s.decide(&recs[i])
		if d.Permit {
			s.counter++
			s.permitted++
		} else {
			s.denied++
		}
		out = append(out, d)
	}
	return out
}

// Commit makes the ledger's counts durable; it returns the error of any
// failed update. Without a ledger it does nothing.
func (s *Session) Commit() error {
	if s.ledger == nil {
		return nil
	}
	if s.err != nil {
		return s.err
	}
	if n := s.unledgered; n > 0 {
		if err := s.ledger.Update(s.day, s.req.Org.ID, func(released int64) int64 { return released + n }); err != nil {
			s.err = fmt.Errorf("released_today: %w", err)
			return s.err
		}
		s.unledgered = 0
	}
	return s.ledger.Commit()
}

func (s *Session) decide(r *Record) Decision {
	if s.memo == nil {
		d, _ := s.direct(r)
		return d
	}
	var ok bool
	if s.key, ok = s.appendKey(r); !ok {
		d, _ := s.direct(r) // a record that cannot be materialized: denied
		return d
	}
	if d, ok := s.memo[string(s.key)]; ok {
		return d
	}
	d, _ := s.direct(r)
	if len(s.memo) < memoMax && !r.unmaterialized() {
		s.memo[string(s.key)] = d
	}
	return d
}

// appendKey builds r's memo key, from its tuple if it has one. It fails
// only for a lazy record that cannot be materialized.
func (s *Session) appendKey(r *Record) ([]byte, bool) {
	if r.bad != nil {
		return s.key[:0], false
	}
	if r.layout != nil {
		if s.proj == nil || s.proj.layout != r.layout {
			s.proj = s.b.plan.project(r.layout)
		}
		if k, ok := s.b.plan.appendTupleKey(s.key[:0], s.eq, s.proj, r, s.counter); ok {
			return k, true
		}
	}
	if err := r.materialize(); err != nil {
		return s.key[:0], false
	}
	return s.b.plan.appendKey(s.key[:0], s.eq, r, s.counter), true
}

// Explain decides r without counting it, and says why.
func (s *Session) Explain(r Record) Explanation {
	d, diag := s.direct(&r)
	e := Explanation{Decision: d, Bundle: s.b.cid, Principal: s.store.org, Resource: s.store.record,
		Context: s.req.fetchContext(s.counter)}
	for _, err := range diag.Errors {
		e.Errors = append(e.Errors, string(err.PolicyID)+": "+err.Message)
	}
	return e
}

func (s *Session) direct(r *Record) (Decision, cedar.Diagnostic) {
	if err := r.materialize(); err != nil { // fail closed
		return Decision{}, cedar.Diagnostic{Errors: []cedar.DiagnosticError{{Message: err.Error()}}}
	}
	s.store.record = types.Entity{
		UID:        r.UID(),
		Parents:    types.NewEntityUIDSet(s.store.dataset.UID),
		Attributes: recordAttrs(*r, s.store.dataset.UID),
	}
	req := cedar.Request{
		Principal: s.store.org.UID,
		Action:    ActionFetch,
		Resource:  s.store.record.UID,
		Context:   s.req.fetchContext(s.counter),
	}
	dec, diag := cedar.Authorize(s.b.list, &s.store, req)
	return decision(dec, diag), diag
}

func decision(dec cedar.Decision, diag cedar.Diagnostic) Decision {
	d := Decision{Permit: dec == cedar.Allow}
	if len(diag.Reasons) > 0 {
		d.Policies = make([]string, len(diag.Reasons))
		for i, r := range diag.Reasons {
			d.Policies[i] = string(r.PolicyID)
		}
		slices.Sort(d.Policies)
	}
	return d
}

// Discover decides whether org may see that each dataset exists. owners
// supplies the owners' Org entities when policies read them; it may be nil.
func (b *Bundle) Discover(org Org, datasets []Dataset, t time.Time, owners func(id string) (Org, bool)) []Decision {
	out := make([]Decision, len(datasets))
	st := store{org: org.entity()}
	ctx := discoverContext(t)
	for i, d := range datasets {
		st.dataset = d.entity()
		st.hasOwner = false
		if owners != nil {
			if o, ok := owners(d.Owner); ok {
				st.owner, st.hasOwner = o.entity(), true
			}
		}
		dec, diag := cedar.Authorize(b.list, &st, cedar.Request{
			Principal: st.org.UID, Action: ActionDiscover, Resource: st.dataset.UID, Context: ctx,
		})
		out[i] = decision(dec, diag)
	}
	return out
}
