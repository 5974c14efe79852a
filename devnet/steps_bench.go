package devnet

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/caravan-consortium/caravan/api"

	"github.com/caravan-consortium/caravan/schemas/sample"
)

func init() { register(publishBenchScenario) }

func publishBenchScenario() Scenario {
	return Scenario{
		Name:        "publish-bench",
		Description: "publish N generated customs declarations (~1 KiB each) through a gateway (make bench)",
		Steps: []Step{
			{"start every gateway as its own OS process", stepStart},
			{"generate the records to a file", stepGenerate},
			{"publish them through the first gateway", stepPublishBench},
			{"a clean shutdown leaves nothing running", stepShutdown},
		},
	}
}

func (e *Env) benchFile() string { return filepath.Join(e.Net.Dir, "bench-records.jsonl") }

func stepGenerate(_ context.Context, e *Env) (string, error) {
	n := e.Records
	if n <= 0 {
		n = 1_000_000
	}
	f, err := os.Create(e.benchFile())
	if err != nil {
		return "", err
	}
	defer f.Close()
	start := time.Now()
	w := bufio.NewWriterSize(f, 1<<20)
	if err := sample.Write(w, "customs-declaration", n, 42, nil); err != nil {
		return "", err
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	st, _ := f.Stat()
	return fmt.Sprintf("%d records, %.1f MB (mean %d bytes) in %v", n, float64(st.Size())/1e6, st.Size()/int64(n), time.Since(start).Round(time.Millisecond)), nil
}

func stepPublishBench(ctx context.Context, e *Env) (string, error) {
	o := e.Net.Orgs[0]
	f, err := os.Open(e.benchFile())
	if err != nil {
		return "", err
	}
	defer func() {
		f.Close()
		os.Remove(e.benchFile())
	}()
	st, _ := f.Stat()
	_, rssBefore, _ := memoryOf(o.PID())
	cl, err := api.NewClient(o.Dir)
	if err != nil {
		return "", err
	}
	if err := RegisterDemoSchemas(ctx, cl); err != nil {
		return "", err
	}
	cpuBefore, _ := cpuOf(o.PID())
	start := time.Now()
	// As `caravan publish FILE` does: the gateway reads the file itself.
	res, err := cl.PublishFile(ctx, api.PublishRequest{Dataset: "bench-declarations", Schema: "customs-declaration", Purposes: []string{"benchmark"}}, e.benchFile(), nil)
	if err != nil {
		return "", err
	}
	took := time.Since(start)
	cpu, _ := cpuOf(o.PID())
	cpu -= cpuBefore
	hwm, _, _ := memoryOf(o.PID())
	n := res.Manifest.Records
	rate := float64(n) / took.Seconds()
	goal := "goal: 1,000,000 in <= 10 s (100,000 records/s)"
	if rate >= 100_000 {
		goal += ": met"
	} else {
		goal += ": NOT MET"
	}
	e.figure("publish (validate, canonicalize, CID, tree, store, sign, announce)",
		fmt.Sprintf("%d records in %v: %.0f records/s, %.1f MB/s", n, took.Round(time.Millisecond), rate, float64(st.Size())/1e6/took.Seconds()), goal)
	e.figure("gateway CPU time during the publish (user+sys)", fmt.Sprintf("%.2f s: %.0f%% of one core on average, %.1f µs per record", cpu.Seconds(), 100*cpu.Seconds()/took.Seconds(), float64(cpu.Microseconds())/float64(n)), "(this VM's speed varies: read both)")
	e.figure("gateway peak RSS (VmHWM) during the publish", fmt.Sprintf("%.1f MB (%.1f MB before)", hwm, rssBefore), "memory stays flat (streaming)")
	return fmt.Sprintf("%d records in %v (%.0f records/s); manifest %s", n, took.Round(time.Millisecond), rate, res.CID), nil
}
