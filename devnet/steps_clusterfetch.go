package devnet

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/journal"
)

// partnerFetch is one partner's fetch, with its progress over time.
type partnerFetch struct {
	org    *Org
	sum    *api.FetchSummary
	err    error
	mu     sync.Mutex
	events []progressAt
}

type progressAt struct {
	at       time.Time
	received uint64
}

// fetchAtOnce has partners fetch manifest for "bench" at the same time;
// onFirst runs once, when the first records arrive at any partner.
func fetchAtOnce(ctx context.Context, manifest string, partners []*Org, onFirst func()) ([]*partnerFetch, time.Duration) {
	out := make([]*partnerFetch, len(partners))
	var wg sync.WaitGroup
	var once sync.Once
	start := time.Now()
	for i, o := range partners {
		pf := &partnerFetch{org: o}
		out[i] = pf
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := api.NewClient(o.Dir)
			if err != nil {
				pf.err = err
				return
			}
			pf.sum, pf.err = cl.Fetch(ctx, api.FetchRequest{Manifest: manifest, Purpose: "bench"}, func(ev api.FetchEvent) {
				if ev.Received == 0 {
					return
				}
				pf.mu.Lock()
				pf.events = append(pf.events, progressAt{time.Now(), ev.Received})
				pf.mu.Unlock()
				if onFirst != nil {
					once.Do(func() { go onFirst() })
				}
			})
		}()
	}
	wg.Wait()
	return out, time.Since(start)
}

// decided sums what the fetches decided, and checks each received every
// record it was permitted.
func decided(fetches []*partnerFetch) (uint64, error) {
	var n uint64
	for _, f := range fetches {
		if f.err != nil {
			return 0, fmt.Errorf("%s: %w", f.org.Org, f.err)
		}
		if f.sum.Received == 0 || f.sum.Received != f.sum.Permitted {
			return 0, fmt.Errorf("%s received %d of %d permitted records: %+v", f.org.Org, f.sum.Received, f.sum.Permitted, *f.sum)
		}
		n += f.sum.Permitted + f.sum.Withheld
	}
	return n, nil
}

func stepEmbeddedFetch(ctx context.Context, e *Env) (string, error) {
	cr := e.cluster()
	kz, az := e.Net.Orgs[1], e.Net.Orgs[2]
	partners := []*Org{cr.nodes[0], az}
	p0, r0 := cpuOfAll(kz.PID()), cpuOfAll(cr.nodes[0].PID(), az.PID())
	fetches, took := fetchAtOnce(ctx, cr.embedded[0], partners, nil)
	n, err := decided(fetches)
	if err != nil {
		return "", err
	}
	prov, req := cpuOfAll(kz.PID())-p0, cpuOfAll(cr.nodes[0].PID(), az.PID())-r0
	cr.fetchCPU = float64(prov.Microseconds()) / float64(n)
	e.figure("embedded: two partners fetch at once", fmt.Sprintf("%d records decided in %v: %.0f records/s", n, took.Round(time.Millisecond), float64(n)/took.Seconds()), "")
	e.figure("embedded: fetch CPU per record decided (provider; requesters)", fmt.Sprintf("%.1f µs; %.1f µs",
		cr.fetchCPU, float64(req.Microseconds())/float64(n)), "")
	return fmt.Sprintf("%d records decided, each partner received all it was permitted", n), nil
}

// servedCount sums a node's caravan_fetch_requests_served_total.
func servedCount(ctx context.Context, o *Org) float64 {
	cl, err := api.NewClient(o.Dir)
	if err != nil {
		return 0
	}
	data, err := cl.Metrics(ctx)
	if err != nil {
		return 0
	}
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "caravan_fetch_requests_served_total{") {
			if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// killServing kills the first node of nodes whose served count passed its
// count in before, and returns it, when, and its CPU time until then.
func killServing(ctx context.Context, nodes []*Org, before []float64) (*Org, time.Time, time.Duration) {
	for ctx.Err() == nil {
		for i, n := range nodes {
			if servedCount(ctx, n) > before[i] {
				cpu := cpuOfAll(n.PID())
				n.Kill()
				return n, time.Now(), cpu
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil, time.Time{}, 0
}

// failoverLogged finds when o's gateway logged that it lost the
// provider's node and asked another (its log's first field is the time).
func failoverLogged(o *Org, after time.Time) (time.Time, bool) {
	data, err := os.ReadFile(o.Log())
	if err != nil {
		return time.Time{}, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, "lost the provider's node") {
			continue
		}
		ts, _, _ := strings.Cut(line, " ")
		if at, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(ts)); err == nil && at.After(after) {
			return at, true
		}
	}
	return time.Time{}, false
}

// resumedAfter is when a fetch's records flowed again after the kill: the
// first progress past what had arrived 100 ms after it (frames in flight).
func (f *partnerFetch) resumedAfter(kill time.Time) (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	settled := kill.Add(100 * time.Millisecond)
	var base uint64
	for _, ev := range f.events {
		if ev.at.Before(settled) {
			base = max(base, ev.received)
		} else if ev.received > base {
			return ev.at.Sub(kill), true
		}
	}
	return 0, false
}

// stepClusterFetch: the partners fetch the half published through A,
// with every node up: the CPU figure next to embedded.
func stepClusterFetch(ctx context.Context, e *Env) (string, error) {
	cr := e.cluster()
	partners := []*Org{e.Net.Orgs[1], e.Net.Orgs[2]}
	provPIDs := []int{cr.nodes[0].PID(), cr.nodes[1].PID(), cr.nodes[2].PID()}
	p0, s0, r0 := cpuOfAll(provPIDs...), serverCPU(cr.servers.PIDs()), cpuOfAll(partners[0].PID(), partners[1].PID())
	fetches, took := fetchAtOnce(ctx, cr.cluster[0], partners, nil)
	n, err := decided(fetches)
	if err != nil {
		return "", err
	}
	prov, srv := cpuOfAll(provPIDs...)-p0, serverCPU(cr.servers.PIDs()).minus(s0)
	req := cpuOfAll(partners[0].PID(), partners[1].PID()) - r0
	perRecord := float64((prov + srv.total()).Microseconds()) / float64(n)
	e.figure("cluster: two partners fetch at once", fmt.Sprintf("%d records decided in %v: %.0f records/s",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds()), "")
	e.figure("cluster: fetch CPU per record decided (nodes + servers; requesters)",
		fmt.Sprintf("%.1f µs (nodes %.1f, %s): %.2fx embedded; %.1f µs", perRecord,
			float64(prov.Microseconds())/float64(n), srv.per(n), perRecord/cr.fetchCPU,
			float64(req.Microseconds())/float64(n)), goalRatio(perRecord/cr.fetchCPU, 1.5))
	var served []string
	for _, f := range fetches {
		served = append(served, fmt.Sprintf("%s by %s", f.org.Org, shortIDs(f.sum.Nodes)))
	}
	return fmt.Sprintf("%d records decided; served: %s", n, strings.Join(served, ", ")), nil
}

func shortIDs(ids []string) string {
	var out []string
	for _, id := range ids {
		out = append(out, "..."+id[max(0, len(id)-6):])
	}
	return strings.Join(out, " then ")
}

// stepClusterKill: the partners fetch the half published through B; the
// node serving one of them is killed as the records flow.
func stepClusterKill(ctx context.Context, e *Env) (string, error) {
	cr := e.cluster()
	partners := []*Org{e.Net.Orgs[1], e.Net.Orgs[2]}
	before := make([]float64, len(cr.nodes))
	for i, n := range cr.nodes {
		before[i] = servedCount(ctx, n)
	}
	var killed *Org
	var killedAt time.Time
	fetches, took := fetchAtOnce(ctx, cr.cluster[1], partners, func() {
		killed, killedAt, _ = killServing(ctx, cr.nodes, before)
	})
	n, err := decided(fetches)
	if err != nil {
		return "", err
	}
	if killed == nil {
		return "", fmt.Errorf("no node of customs-cn was seen serving the fetches")
	}
	var resumes []string
	worst, resumed := time.Duration(0), 0
	for _, f := range fetches {
		switch {
		case len(f.sum.Nodes) == 0 || f.sum.Nodes[0] != killed.PeerID:
			resumes = append(resumes, f.org.Org+": not served by the killed node")
			continue
		case len(f.sum.Nodes) == 1:
			resumes = append(resumes, f.org.Org+": ended before the kill")
			continue
		}
		d, ok := f.resumedAfter(killedAt)
		if !ok {
			return "", fmt.Errorf("%s's fetch did not resume through another node: %+v", f.org.Org, f.sum)
		}
		worst, resumed = max(worst, d), resumed+1
		asked := "?"
		if at, ok := failoverLogged(f.org, killedAt); ok {
			asked = at.Sub(killedAt).Round(time.Millisecond).String()
		}
		resumes = append(resumes, fmt.Sprintf("%s: asked another node after %s, records again after %v", f.org.Org, asked, d.Round(time.Millisecond)))
	}
	if resumed == 0 && !e.Smoke {
		return "", fmt.Errorf("no fetch was cut by the kill: %s", strings.Join(resumes, "; "))
	}
	// Records flow again once the new node has decided the rest of the
	// request and journaled the decision: a provider decides before it
	// streams (deciding while streaming is planned, not built).
	goal := "goal: records again within 5 s of the kill"
	switch {
	case resumed == 0:
		goal = "(no fetch was cut: a smoke run's fetches are short)"
	case worst <= 5*time.Second:
		goal += ": met"
	default:
		goal += ": NOT MET"
	}
	e.figure("cluster: a partner's fetch resumed through another node after the kill", strings.Join(resumes, "; "), goal)
	e.figure("cluster: two partners fetch at once, a node killed", fmt.Sprintf("%d records decided in %v", n, took.Round(time.Millisecond)), "")
	// The killed node comes back and serves again.
	if err := e.Net.StartOrg(e.Binary, killed); err != nil {
		return "", err
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := e.Net.WaitReady(rctx); err != nil {
		return "", err
	}
	return fmt.Sprintf("killed node ...%s mid-fetch; every permitted record arrived, verified; the node is back", killed.PeerID[len(killed.PeerID)-6:]), nil
}

// appendLatencies appends n events from 16 writers at once and returns
// each append's time to durable (Append returned) and to checkpointed (a
// published checkpoint covers it, sampled every 5 ms as the appends run).
func appendLatencies(ctx context.Context, cfg journal.LogConfig, n int) (durable, checkpointed []time.Duration, err error) {
	_, key, _ := ed25519.GenerateKey(nil)
	cfg.Origin = journal.Origin("silk-road-devnet", "latency-bench")
	if cfg.Signer, err = journal.NewLogSigner(cfg.Origin, key); err != nil {
		return nil, nil, err
	}
	l, err := journal.Open(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()
	type sample struct {
		at   time.Time
		size uint64
	}
	var samples []sample
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if raw, cerr := l.Checkpoint(ctx); cerr == nil {
				if cp, perr := journal.ParseCheckpoint(raw); perr == nil {
					samples = append(samples, sample{time.Now(), cp.Size})
					if cp.Size >= uint64(n) {
						return
					}
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	starts, idx := make([]time.Time, n), make([]uint64, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	jobs := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				t := time.Now()
				j, aerr := l.Append(ctx, &journal.Event{Type: journal.TypePolicy, Org: "latency-bench", Bundle: fmt.Sprintf("bench-%d", i), Time: t})
				mu.Lock()
				if aerr != nil && err == nil {
					err = aerr
				}
				starts[i], idx[i] = t, j
				durable = append(durable, time.Since(t))
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	select {
	case <-sampled:
	case <-time.After(30 * time.Second):
		close(stop)
		<-sampled
		return nil, nil, fmt.Errorf("no checkpoint covered all %d entries within 30 s", n)
	}
	if err != nil {
		return nil, nil, err
	}
	for i := range n {
		k, _ := slices.BinarySearchFunc(samples, idx[i]+1, func(s sample, size uint64) int { return cmpUint(s.size, size) })
		checkpointed = append(checkpointed, samples[k].at.Sub(starts[i]))
	}
	return durable, checkpointed, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(d)
	return d[len(d)/2], d[len(d)*99/100]
}

func stepJournalLatency(ctx context.Context, e *Env) (string, error) {
	cr := e.cluster()
	const n = 2000
	sp, err := cr.servers.NewSpace(ctx, "latency")
	if err != nil {
		return "", err
	}
	conn := sp.Conn()
	var out []string
	for _, c := range []struct {
		name string
		cfg  journal.LogConfig
	}{{"embedded", journal.LogConfig{Dir: e.Net.Dir + "/latency-journal"}}, {"cluster", journal.LogConfig{Cluster: &conn}}} {
		dur, cp, err := appendLatencies(ctx, c.cfg, n)
		if err != nil {
			return "", fmt.Errorf("%s: %w", c.name, err)
		}
		d50, d99 := percentiles(dur)
		c50, c99 := percentiles(cp)
		goal := ""
		if c.name == "cluster" {
			// Here seven processes share two cores with the writers; the
			// goal (p99 under 50 ms) is judged on a quiet machine by
			// BenchmarkClusterAppend, which make bench runs too.
			goal = "under this run's load; goal judged by BenchmarkClusterAppend"
		}
		e.figure(c.name+": journal append, 16 writers (p50 / p99 to durable; to checkpointed)",
			fmt.Sprintf("%v / %v; %v / %v", d50.Round(100*time.Microsecond), d99.Round(100*time.Microsecond),
				c50.Round(time.Millisecond), c99.Round(time.Millisecond)), goal)
		out = append(out, fmt.Sprintf("%s durable p99 %v", c.name, d99.Round(100*time.Microsecond)))
	}
	return fmt.Sprintf("%d appends each: %s", n, strings.Join(out, ", ")), nil
}

func stepClusterVerify(ctx context.Context, e *Env) (string, error) {
	for _, o := range e.Net.Nodes {
		if r := o.Stop(gateway.ShutdownTimeout); r.Killed || r.ExitCode != 0 {
			return "", fmt.Errorf("node %s did not stop cleanly: %+v", o.Dir, r)
		}
	}
	if _, err := stepShutdown(ctx, e); err != nil {
		return "", err
	}
	logs, entries := 0, uint64(0)
	for _, o := range append(append([]*Org{}, e.Net.Orgs...), e.Net.Nodes...) {
		checks, err := datadir.VerifyJournals(ctx, o.Dir)
		if err != nil {
			return "", fmt.Errorf("%s: %w", o.Dir, err)
		}
		for _, c := range checks {
			if c.Err != nil || len(c.BadEvents) > 0 || c.Entries != c.Size {
				return "", fmt.Errorf("%s: the journal of %s does not verify: %v %v (%d of %d entries)", o.Dir, c.Org, c.Err, c.BadEvents, c.Entries, c.Size)
			}
			logs++
			entries += c.Entries
		}
	}
	return fmt.Sprintf("every gateway stopped; %d journals (own and mirrors, on every node) verified offline, %d entries", logs, entries), nil
}
