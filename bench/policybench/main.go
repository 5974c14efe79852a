// Command policybench decides the same records with the same policies in
// Caravan (cedar-go, memoized and direct) and in OPA (a prepared query on the
// equivalent Rego), on one core, and prints records/s and the ratios. It
// fails if any engine decides any record differently from the others, so the
// comparison is between equivalent policies.
//
// It lives in its own module so that OPA stays out of the product's go.mod.
//
//	cd bench && go run ./policybench -records 1000000
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/cedar-policy/cedar-go/types"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/version"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/policy"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/schemas/sample"
)

//go:embed caravan.rego
var regoSource string

// Goals from DESIGN.md.
const (
	goalRate  = 2_000_000
	goalRatio = 10.0
)

type request struct {
	name string
	req  policy.Request
}

func main() {
	records := flag.Int("records", 1_000_000, "records to decide (split over the requests)")
	policies := flag.String("policies", "../configs/policies", "Cedar policy directory")
	seed := flag.Uint64("seed", 1, "sample data seed")
	flag.Parse()
	if err := run(*records, *policies, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "policybench:", err)
		os.Exit(1)
	}
}

func run(n int, dir string, seed uint64) error {
	vocab, err := policy.DemoVocabulary()
	if err != nil {
		return err
	}
	b, err := policy.Load(dir, vocab)
	if err != nil {
		return err
	}
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	dataset := policy.Dataset{Owner: "customs-cn", Name: "declarations-2026", Schema: "customs-declaration",
		Labels: []string{"customs"}, Purposes: []string{"customs-clearance", "risk-analysis", "transit-planning"}}
	reqs := []request{
		{"customs-kz, customs-clearance", policy.Request{Org: policy.Org{ID: "customs-kz", Country: "KZ", Sector: "customs",
			Groups: []string{"customs-authorities", "eaeu", "belt-and-road"}}, Dataset: dataset, Purpose: "customs-clearance", Time: at}},
		{"logistics-az, transit-planning", policy.Request{Org: policy.Org{ID: "logistics-az", Country: "AZ", Sector: "logistics",
			Groups: []string{"logistics-operators", "belt-and-road"}}, Dataset: dataset, Purpose: "transit-planning", Time: at}},
	}

	fmt.Printf("preparing %d customs declarations (seed %d) on %d cores...\n", n, seed, runtime.NumCPU())
	start := time.Now()
	recs, inputs, err := prepare(n, seed)
	if err != nil {
		return err
	}
	fmt.Printf("prepared in %v: for each record its CID and policy attributes, as Cedar values and as OPA ast values\n", time.Since(start).Round(time.Millisecond))

	pq, err := rego.New(rego.Query("data.caravan.allow"), rego.Module("caravan.rego", regoSource)).PrepareForEval(context.Background())
	if err != nil {
		return fmt.Errorf("rego: %w", err)
	}

	// One core for every engine from here on.
	runtime.GOMAXPROCS(1)
	var results []result
	for _, e := range []struct {
		name   string
		decide decideFunc
	}{
		{"caravan, memoized (cedar-go)", cedarDecider(b, recs, true)},
		{"caravan, direct cedar-go (no memo)", cedarDecider(b, recs, false)},
		{"OPA " + opaVersion() + ", prepared query", opaDecider(pq, inputs)},
	} {
		r, err := measure(e.name, reqs, n, e.decide)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	if err := agree(results, recs); err != nil {
		return err
	}
	report(results, n)
	return nil
}

// decideFunc decides the records [lo, hi) for request r into out.
type decideFunc func(r request, lo, hi int, out []bool) error

// result is one engine's decisions and the time they took.
type result struct {
	engine    string
	decisions []bool
	took      time.Duration
}

// measure times one engine deciding n records, split evenly between reqs.
func measure(engine string, reqs []request, n int, decide decideFunc) (result, error) {
	runtime.GC()
	out := make([]bool, n)
	t0 := time.Now()
	for i, r := range reqs {
		lo, hi := i*n/len(reqs), (i+1)*n/len(reqs)
		if err := decide(r, lo, hi, out); err != nil {
			return result{}, fmt.Errorf("%s: %w", engine, err)
		}
	}
	return result{engine, out, time.Since(t0)}, nil
}

// cedarDecider decides with the bundle, memoized or not.
func cedarDecider(b *policy.Bundle, recs []policy.Record, memo bool) decideFunc {
	return func(r request, lo, hi int, out []bool) error {
		s := b.Fetch(r.req, nil)
		if !memo {
			s.DisableMemo()
		}
		ds := make([]policy.Decision, 0, 4096)
		for i := lo; i < hi; i += 4096 {
			j := min(i+4096, hi)
			ds = s.Decide(recs[i:j], ds[:0])
			for k, d := range ds {
				out[i+k] = d.Permit
			}
		}
		return nil
	}
}

// opaDecider decides with OPA's prepared query, counting released records
// as the Cedar session does.
func opaDecider(pq rego.PreparedEvalQuery, inputs []*ast.Term) decideFunc {
	return func(r request, lo, hi int, out []bool) error {
		principal := ast.NewTerm(mustValue(map[string]any{"id": r.req.Org.ID, "country": r.req.Org.Country, "groups": r.req.Org.Groups}))
		ds := ast.NewTerm(mustValue(map[string]any{"owner": r.req.Dataset.Owner, "purposes": r.req.Dataset.Purposes}))
		purpose, timeMS := ast.StringTerm(r.req.Purpose), ast.IntNumberTerm(int(r.req.Time.UnixMilli()))
		released := 0
		ctx := context.Background()
		for i := lo; i < hi; i++ {
			in := ast.NewObject(
				ast.Item(ast.StringTerm("principal"), principal),
				ast.Item(ast.StringTerm("dataset"), ds),
				ast.Item(ast.StringTerm("context"), ast.ObjectTerm(
					ast.Item(ast.StringTerm("purpose"), purpose),
					ast.Item(ast.StringTerm("time_ms"), timeMS),
					ast.Item(ast.StringTerm("released_today"), ast.IntNumberTerm(released)))),
				ast.Item(ast.StringTerm("resource"), inputs[i]))
			rs, err := pq.Eval(ctx, rego.EvalParsedInput(in))
			if err != nil {
				return err
			}
			allow, ok := rs[0].Expressions[0].Value.(bool)
			if !ok {
				return fmt.Errorf("record %d: allow is %v", i, rs[0].Expressions[0].Value)
			}
			out[i] = allow
			if allow {
				released++
			}
		}
		return nil
	}
}

// agree checks that every engine decided every record alike.
func agree(results []result, recs []policy.Record) error {
	permitted := 0
	for i := range recs {
		for _, r := range results[1:] {
			if r.decisions[i] != results[0].decisions[i] {
				return fmt.Errorf("record %d (%v): %s says %v, %s says %v", i, recs[i].Attrs,
					results[0].engine, results[0].decisions[i], r.engine, r.decisions[i])
			}
		}
		if results[0].decisions[i] {
			permitted++
		}
	}
	fmt.Printf("\nall %d engines agree on all %d records (%d permitted, %d denied)\n\n", len(results), len(recs), permitted, len(recs)-permitted)
	return nil
}

// report prints each engine's rate beside OPA's (the last) and the goals.
func report(results []result, n int) {
	opa := results[len(results)-1]
	opaRate := float64(n) / opa.took.Seconds()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "engine (GOMAXPROCS=1)\trecords\tseconds\trecords/s\tx OPA\t")
	for _, r := range results {
		rate := float64(n) / r.took.Seconds()
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.0f\t%.1f\t\n", r.engine, n, r.took.Seconds(), rate, rate/opaRate)
	}
	tw.Flush()
	best := float64(n) / results[0].took.Seconds()
	fmt.Printf("\ngoal: >= %d decisions/s on one core: %s (%.0f)\n", goalRate, verdict(best >= goalRate), best)
	fmt.Printf("goal: >= %.0fx OPA: %s (%.1fx)\n", goalRatio, verdict(best/opaRate >= goalRatio), best/opaRate)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT MET"
}

// prepare generates n customs declarations and turns each into a policy
// record (CID, Cedar attributes) and an OPA input value, on every core.
func prepare(n int, seed uint64) ([]policy.Record, []*ast.Term, error) {
	reg, err := schemas.Demo()
	if err != nil {
		return nil, nil, err
	}
	s, err := reg.Lookup("customs-declaration")
	if err != nil {
		return nil, nil, err
	}
	vocab, err := policy.VocabularyOf(reg)
	if err != nil {
		return nil, nil, err
	}
	ex := vocab.ExtractorFor(s)
	// The prepared data is large and long-lived: collect less often while
	// building it.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	recs := make([]policy.Record, n)
	inputs := make([]*ast.Term, n)
	workers := runtime.NumCPU()
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			var p jcs.Parser
			var canon []byte
			for i := w; i < n; i += workers {
				rec, err := sample.Record("customs-declaration", seed, i)
				if err != nil {
					errs[w] = err
					return
				}
				raw, err := json.Marshal(rec)
				if err != nil {
					errs[w] = err
					return
				}
				v, err := p.Parse(raw)
				if err != nil {
					errs[w] = err
					return
				}
				if canon, err = v.AppendCanonical(canon[:0]); err != nil {
					errs[w] = err
					return
				}
				r, err := ex.RecordValue(cids.OfJSON(canon).String(), &v)
				if err != nil {
					errs[w] = fmt.Errorf("record %d: %w", i, err)
					return
				}
				recs[i] = r
				inputs[i] = ast.NewTerm(opaValue(r.Attrs))
			}
		})
	}
	wg.Wait()
	return recs, inputs, errors.Join(errs...)
}

// opaValue is a record's attributes as OPA sees them; datetimes become
// NAME_ms numbers.
func opaValue(attrs types.RecordMap) ast.Value {
	obj := ast.NewObject()
	for k, v := range attrs {
		switch v := v.(type) {
		case types.String:
			obj.Insert(ast.StringTerm(string(k)), ast.StringTerm(string(v)))
		case types.Long:
			obj.Insert(ast.StringTerm(string(k)), ast.IntNumberTerm(int(v)))
		case types.Datetime:
			obj.Insert(ast.StringTerm(string(k)+"_ms"), ast.IntNumberTerm(int(v.Milliseconds())))
		case types.Boolean:
			obj.Insert(ast.StringTerm(string(k)), ast.BooleanTerm(bool(v)))
		default:
			panic(fmt.Sprintf("attribute %s: type %T not mapped", k, v))
		}
	}
	return obj
}

func mustValue(v any) ast.Value {
	val, err := ast.InterfaceToValue(v)
	if err != nil {
		panic(err)
	}
	return val
}

func opaVersion() string { return "v" + version.Version }
