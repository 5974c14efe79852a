package devnet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/caravan-consortium/caravan/api"

	"github.com/caravan-consortium/caravan/gateway"
)

func init() { register(fetchBenchScenario) }

// fetchBenchRuns is how many datasets the fetch-bench scenario fetches per
// transport, one fetch each: this VM moves a single run by a third.
const fetchBenchRuns = 5

func fetchBenchScenario() Scenario {
	return Scenario{
		Name: "fetch-bench",
		Description: "one gateway fetches N generated customs declarations (~1 KiB each) from another, " +
			"each gateway its own OS process (make bench)",
		Steps: []Step{
			{"customs-cn permits partner customs to fetch, for \"bench\", every declaration that is not confidential", stepFetchBenchPolicy},
			{"the gateways listen on TCP only", func(_ context.Context, e *Env) (string, error) { return listenOn(e, "tcp") }},
			{"start every gateway as its own OS process", stepStart},
			{"the gateways form a full mesh", stepMesh},
			{"customs-cn publishes the declarations for \"bench\"; customs-kz lists them", stepFetchBenchPublish},
			{"customs-kz fetches them over TCP, verifying every record", func(ctx context.Context, e *Env) (string, error) { return fetchBench(ctx, e, 0, "TCP") }},
			{"the gateways restart listening on QUIC only", stepRestartOnQUIC},
			{"customs-kz fetches them over QUIC, verifying every record", func(ctx context.Context, e *Env) (string, error) { return fetchBench(ctx, e, 1, "QUIC") }},
			{"a clean shutdown leaves nothing running", stepShutdown},
		},
	}
}

// FetchBenchPolicy lets partner customs fetch for "bench" everything that
// is not confidential: a real per-record filter (about 5 in 6 pass; the
// demo's customs-clearance policy passes fewer than 1 in 5, which would
// measure deciding more than moving records). BenchmarkFetch uses it too.
const FetchBenchPolicy = `@id("bench")
permit (principal in Group::"customs-authorities", action == Action::"fetch", resource)
when { context.purpose == "bench" };
@id("bench-no-confidential")
forbid (principal, action == Action::"fetch", resource)
when { resource has classification && resource.classification == "confidential" };
`

func stepFetchBenchPolicy(_ context.Context, e *Env) (string, error) {
	if len(e.Net.Orgs) < 2 {
		return "", fmt.Errorf("needs 2 orgs, has %d", len(e.Net.Orgs))
	}
	path := filepath.Join(e.Net.Orgs[0].Dir, "policies", "zz-bench.cedar")
	if err := os.WriteFile(path, []byte(FetchBenchPolicy), 0o600); err != nil {
		return "", err
	}
	return "wrote " + path, nil
}

// stepFetchBenchPublish publishes one dataset per run: fetching the same
// one again would rewrite the requester's copy, and the compactions of the
// overlapping tables would be measured with it.
func stepFetchBenchPublish(ctx context.Context, e *Env) (string, error) {
	n := e.Records
	if n <= 0 {
		n = 50_000
	}
	for i := range 2 * fetchBenchRuns { // for TCP, then for QUIC
		res, err := publish(ctx, e.Net.Orgs[0], fmt.Sprintf("fetch-bench-%d", i+1), "customs-declaration", n, uint64(7+i), nil, []string{"bench"})
		if err != nil {
			return "", err
		}
		e.published = append(e.published, res.CID)
		if err := waitListed(ctx, e.Net.Orgs[1:2], res.CID); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%d datasets of %d records", 2*fetchBenchRuns, n), nil
}

// fetchRun is one measured fetch.
type fetchRun struct {
	sum                 *api.FetchSummary
	took, first         time.Duration // whole fetch; to the first verified record
	provider, requester time.Duration // CPU time of each gateway's process
}

// listenOn makes every gateway listen on one transport: gateways listen on
// TCP and QUIC, a connection takes whichever dial wins, and here a QUIC
// stream costs far more CPU than a TCP one.
func listenOn(e *Env, transport string) (string, error) {
	for _, o := range e.Net.Orgs {
		if err := o.ListenOn(transport); err != nil {
			return "", err
		}
	}
	return "listen: " + transport, nil
}

func stepRestartOnQUIC(ctx context.Context, e *Env) (string, error) {
	for _, r := range e.Net.Stop(gateway.ShutdownTimeout) {
		if r.Killed || r.ExitCode != 0 {
			return "", fmt.Errorf("a gateway did not stop cleanly: %+v", r)
		}
	}
	if _, err := listenOn(e, "quic"); err != nil {
		return "", err
	}
	if _, err := stepStart(ctx, e); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		st, err := e.Net.Orgs[1].Status(ctx)
		if err != nil {
			return "", err
		}
		if connectedCount(st) == len(e.Net.Orgs)-1 && transportOf(ctx, e.Net.Orgs[1], e.Net.Orgs[0].Org) == "quic" {
			return "connected over QUIC", nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("not connected over QUIC within 30s")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// fetchBench fetches the datasets of round (0 or 1) once each through the
// requester's control endpoint, as `caravan fetch` does, and reports the
// median and range of the rate, and the CPU time each gateway's process
// spent, per fetch and per record: what an operator sizes a gateway by.
func fetchBench(ctx context.Context, e *Env, round int, transport string) (string, error) {
	prov, req := e.Net.Orgs[0], e.Net.Orgs[1]
	cl, err := api.NewClient(req.Dir)
	if err != nil {
		return "", err
	}
	if got := transportOf(ctx, req, prov.Org); got != strings.ToLower(transport) {
		return "", fmt.Errorf("%s is connected to %s over %q, want %s only", req.Org, prov.Org, got, transport)
	}
	var runs []fetchRun
	first := len(e.published) - 2*fetchBenchRuns + round*fetchBenchRuns
	for _, manifest := range e.published[first : first+fetchBenchRuns] {
		r, err := fetchOnce(ctx, cl, manifest, prov.PID(), req.PID())
		if err != nil {
			return "", err
		}
		if r.sum.Received == 0 || r.sum.Received != r.sum.Permitted {
			return "", fmt.Errorf("received %d of %d permitted records", r.sum.Received, r.sum.Permitted)
		}
		runs = append(runs, r)
	}
	sum := runs[0].sum
	rate := stat(runs, func(r fetchRun) float64 { return float64(r.sum.Received) / r.took.Seconds() })
	mbs := stat(runs, func(r fetchRun) float64 { return float64(r.sum.Bytes) / r.took.Seconds() / 1e6 })
	toFirst := stat(runs, func(r fetchRun) float64 { return float64(r.first.Milliseconds()) })
	// A gateway's CPU per fetch, and per record decided.
	cpu := func(of func(fetchRun) time.Duration) string {
		ms := stat(runs, func(r fetchRun) float64 { return float64(of(r).Milliseconds()) })
		us := stat(runs, func(r fetchRun) float64 {
			return float64(of(r).Microseconds()) / float64(r.sum.Permitted+r.sum.Withheld)
		})
		return ms.format("%.0f") + "; " + us.format("%.1f")
	}
	goal := "goal >= 200,000 records/s"
	if rate.median >= 200_000 {
		goal += ": met"
	} else {
		goal += ": NOT MET"
	}
	e.figure(transport+": fetch, gateway to gateway (verified, policy-filtered records/s)",
		rate.format("%.0f")+fmt.Sprintf(", median [range] of %d fetches", len(runs)), goal)
	e.figure(transport+": fetch throughput (MB/s of records)", mbs.format("%.1f"), "")
	e.figure(transport+": time to the first verified record (ms; deciding and journaling every record first)", toFirst.format("%.0f"), "")
	e.figure(transport+": provider CPU per fetch (ms; µs per record decided)", cpu(func(r fetchRun) time.Duration { return r.provider }), "")
	e.figure(transport+": requester CPU per fetch (ms; µs per record decided)", cpu(func(r fetchRun) time.Duration { return r.requester }), "")
	return fmt.Sprintf("%d fetches over %s of %d permitted (%d withheld) records, %.1f MB each: median %.0f records/s",
		len(runs), transport, sum.Permitted, sum.Withheld, float64(sum.Bytes)/1e6, rate.median), nil
}

// transportOf names the transports of o's connections to org: gateways
// listen on TCP and QUIC, and a connection takes whichever dial wins.
func transportOf(ctx context.Context, o *Org, org string) string {
	st, err := o.Status(ctx)
	if err != nil {
		return "?"
	}
	var ts []string
	for _, m := range st.Members {
		if m.Org != org {
			continue
		}
		for _, nd := range m.Nodes {
			for _, a := range nd.Remote {
				t := "tcp"
				if strings.Contains(a, "/quic") {
					t = "quic"
				}
				if !slices.Contains(ts, t) {
					ts = append(ts, t)
				}
			}
		}
	}
	return strings.Join(ts, "+")
}

func fetchOnce(ctx context.Context, cl *api.Client, manifest string, provPID, reqPID int) (fetchRun, error) {
	var r fetchRun
	cpus := func() (prov, req time.Duration, err error) {
		if prov, err = cpuOf(provPID); err == nil {
			req, err = cpuOf(reqPID)
		}
		return prov, req, err
	}
	p0, q0, err := cpus()
	if err != nil {
		return r, err
	}
	start := time.Now()
	sum, err := cl.Fetch(ctx, api.FetchRequest{Manifest: manifest, Purpose: "bench"}, func(ev api.FetchEvent) {
		if r.first == 0 && ev.Received > 0 {
			r.first = time.Since(start)
		}
	})
	if err != nil {
		return r, err
	}
	r.took = time.Since(start)
	p1, q1, err := cpus()
	r.sum, r.provider, r.requester = sum, p1-p0, q1-q0
	return r, err
}

// spread is the median and range of a figure over runs.
type spread struct{ median, lo, hi float64 }

func stat(runs []fetchRun, f func(fetchRun) float64) spread {
	var v []float64
	for _, r := range runs {
		v = append(v, f(r))
	}
	slices.Sort(v)
	return spread{v[len(v)/2], v[0], v[len(v)-1]}
}

func (s spread) format(verb string) string {
	return fmt.Sprintf(verb+" ["+verb+"-"+verb+"]", s.median, s.lo, s.hi)
}
