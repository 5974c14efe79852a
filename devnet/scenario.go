package devnet

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Step is one verified action of a scenario. Run returns a one-line account
// of what it saw, or an error if what it saw is not what it should be.
type Step struct {
	Name string
	Run  func(ctx context.Context, e *Env) (string, error)
}

// Scenario is a named sequence of steps.
type Scenario struct {
	Name        string
	Description string
	Steps       []Step
}

// Env is what a scenario's steps share.
type Env struct {
	Net    *Net
	Binary string    // the caravan executable
	Out    io.Writer // for tables a step prints
	// Figures collects measurements that the closing summary prints,
	// e.g. "time to full mesh".
	Figures []Figure
	// Idle is how long the footprint scenario lets the gateways idle.
	Idle time.Duration
	// Records is how many records the publish-bench and fetch-bench
	// scenarios publish (0: each scenario's default).
	Records int
	// Smoke runs a scenario at a small size, to check that it runs to its
	// end: its figures are not to be trusted (make bench-smoke, in CI).
	Smoke bool

	published []string    // manifest CIDs published so far, in order
	hostile   *hostileRun // the hostile scenario's
	newcomer  *Org        // the member the demo admits
	schemas   int         // schemas registered so far (statements too)
	fetches   []fetchOutcome
	cleanups  []func() // run when the scenario ends, however it ends

	afterStop  []func()    // run after the gateways stopped
	clusterRun *clusterRun // the cluster scenario's
}

// smaller is n, or small in a smoke run.
func (e *Env) smaller(n, small int) int {
	if e.Smoke {
		return small
	}
	return n
}

// Figure is one measurement a scenario reports.
type Figure struct {
	Name, Value, Goal string
}

// onEnd has f run when the scenario ends, whether its steps passed or not
// (a process a step started, say), before the gateways stop.
func (e *Env) onEnd(f func()) { e.cleanups = append(e.cleanups, f) }

// afterGateways has f run when the scenario ends, after the gateways have
// stopped (the servers they store on).
func (e *Env) afterGateways(f func()) { e.afterStop = append(e.afterStop, f) }

func (e *Env) figure(name, value, goal string) {
	e.Figures = append(e.Figures, Figure{name, value, goal})
}

var scenarios = map[string]func() Scenario{}

func register(f func() Scenario) { scenarios[f().Name] = f }

// Scenarios lists the registered scenarios' names.
func Scenarios() []string {
	var names []string
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// StepResult is how one step went.
type StepResult struct {
	Name   string
	Detail string
	Err    error
	Took   time.Duration
}

// ErrScenarioFailed is wrapped by RunScenario when a step failed.
var ErrScenarioFailed = fmt.Errorf("scenario failed")

// RunScenario runs the named scenario on e.Net, printing each step as it
// goes and a closing summary. It stops at the first failed step, always
// stops the gateways at the end, and returns an error wrapping
// ErrScenarioFailed unless every step was verified.
func RunScenario(ctx context.Context, name string, e *Env) ([]StepResult, error) {
	mk, ok := scenarios[name]
	if !ok {
		return nil, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(Scenarios(), ", "))
	}
	sc := mk()
	fmt.Fprintf(e.Out, "scenario %s: %s\n\n", sc.Name, sc.Description)
	var results []StepResult
	failed := false
	for i, st := range sc.Steps {
		fmt.Fprintf(e.Out, "[%d/%d] %s\n", i+1, len(sc.Steps), st.Name)
		start := time.Now()
		detail, err := st.Run(ctx, e)
		r := StepResult{Name: st.Name, Detail: detail, Err: err, Took: time.Since(start)}
		results = append(results, r)
		if err != nil {
			fmt.Fprintf(e.Out, "      FAILED after %v: %v\n", r.Took.Round(time.Millisecond), err)
			failed = true
			break
		}
		fmt.Fprintf(e.Out, "      ok (%v) %s\n", r.Took.Round(time.Millisecond), detail)
	}
	for _, f := range slices.Backward(e.cleanups) {
		f()
	}
	e.cleanups = nil
	for _, n := range e.Net.Nodes {
		if n.Running() {
			n.Stop(10 * time.Second)
		}
	}
	if slices.ContainsFunc(e.Net.Orgs, (*Org).Running) {
		e.Net.Stop(10 * time.Second)
	}
	for _, f := range slices.Backward(e.afterStop) {
		f()
	}
	e.afterStop = nil
	printSummary(e, sc, results)
	if failed {
		return results, fmt.Errorf("%w: %s (logs are in %s)", ErrScenarioFailed, sc.Name, e.Net.Dir)
	}
	return results, nil
}

func printSummary(e *Env, sc Scenario, results []StepResult) {
	fmt.Fprintf(e.Out, "\nsummary of scenario %s\n", sc.Name)
	tw := tabwriter.NewWriter(e.Out, 0, 0, 2, ' ', 0)
	passed := 0
	for i, st := range sc.Steps {
		mark := "not run"
		if i < len(results) {
			mark = "verified"
			if results[i].Err != nil {
				mark = "FAILED"
			} else {
				passed++
			}
		}
		fmt.Fprintf(tw, "  %d.\t%s\t%s\n", i+1, st.Name, mark)
	}
	tw.Flush()
	if len(e.Figures) > 0 {
		fmt.Fprintln(e.Out, "\nfigures")
		tw = tabwriter.NewWriter(e.Out, 0, 0, 2, ' ', 0)
		for _, f := range e.Figures {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Name, f.Value, f.Goal)
		}
		tw.Flush()
	}
	fmt.Fprintf(e.Out, "\n%d passed, %d failed\n", passed, len(sc.Steps)-passed)
}
