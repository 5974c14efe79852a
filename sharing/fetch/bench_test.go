package fetch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/devnet"
	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/internal/keyfile"
	"github.com/caravan-consortium/caravan/schemas/sample"
	"github.com/caravan-consortium/caravan/sharing/fetch"
)

// bigDeclaration pads a generated declaration to about size bytes with
// extra items (the schema allows 999).
func bigDeclaration(b *testing.B, i, size int) []byte {
	rec, err := sample.Record("customs-declaration", 5, i)
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := json.Marshal(rec)
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	_ = d.Decode(&m)
	items := m["items"].([]any)
	first := items[0].(map[string]any)
	item := func() any {
		it := map[string]any{}
		for k, v := range first {
			it[k] = v
		}
		it["line"] = len(items) + 1
		it["description"] = strings.Repeat(fmt.Sprintf("bulk cargo lot %d ", len(items)), 20)[:200]
		return it
	}
	// Add about as many items as fit at once (marshalling after each one
	// made the set-up take most of a minute), then one at a time.
	if len(raw) < size {
		one, _ := json.Marshal(item())
		for n := (size - len(raw)) / (len(one) + 1); n > 1 && len(items) < 999; n-- {
			items = append(items, item())
		}
		m["items"] = items
		raw, _ = json.Marshal(m)
	}
	for len(raw) < size && len(items) < 999 {
		items = append(items, item())
		m["items"] = items
		raw, _ = json.Marshal(m)
	}
	return raw
}

// BenchmarkFetch fetches between two gateways on loopback: 1 KiB records
// (goal: 200,000 verified, filtered records/s) and 64 KiB records next to a
// raw libp2p stream copy of the same bytes between the same hosts (goal: at
// least 60% of its throughput). Each runs over TCP (Noise, yamux) and over
// QUIC: gateways listen on both and a connection takes whichever dial wins,
// and a raw stream over TCP here is about twice as fast as over QUIC.
func BenchmarkFetch(b *testing.B) {
	for _, tc := range []struct {
		name string
		n    int
		size int
		raw  bool
	}{{"1KiB", 50_000, 0, false}, {"64KiB", 600, 64 << 10, true}} {
		for _, transport := range []string{"tcp", "quic"} {
			b.Run(tc.name+"/"+transport, func(b *testing.B) { benchFetch(b, tc.n, tc.size, tc.raw, transport) })
		}
	}
}

func benchFetch(b *testing.B, n, size int, raw bool, transport string) {
	ctx := context.Background()
	nt, nodes, pub := fetchBenchNet(b, n, size, transport)
	id := cid.MustParse(pub.CID)
	key, _ := keyfile.Load(datadir.Dir(nt.Orgs[1].Dir).Key())
	f := &fetch.Client{Host: nodes[1].Host(), Key: key, Org: nt.Orgs[1].Org, Store: nodes[1].Store()}
	// The requester checks every record against the dataset's schema, as
	// a gateway's fetch does.
	schema, ok := nodes[1].Registry().ForManifest(pub.Manifest.Schema.ID, cid.MustParse(pub.Manifest.Schema.CID))
	if !ok {
		b.Fatal("the requester's registry lacks the dataset's schema")
	}
	stopProfile := func() {}
	if path := os.Getenv("CARAVAN_FETCH_PROFILE"); path != "" {
		// A CPU profile of the fetch alone, without the set-up.
		out, err := os.Create(path + "." + b.Name()[strings.LastIndexByte(b.Name(), '/')+1:])
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			b.Fatal(err)
		}
		defer out.Close()
		stopProfile = pprof.StopCPUProfile
	}
	// One fetch per call, whatever b.N: the figures are the metrics below,
	// timed here. The benchmark timer runs through the set-up, so that the
	// framework, seeing a call take over a second, does not call again with
	// a larger b.N (each call builds two gateways and publishes; with the
	// set-up excluded, 'go test -bench .' called it until b.N reached 1e9,
	// 19 minutes of make bench).
	start, startCPU := time.Now(), processCPU()
	var firstAt time.Time // the first verified chunk: the decision phase is over
	var firstCPU time.Duration
	progress := func(received, _ uint64) {
		if firstAt.IsZero() {
			firstAt, firstCPU = time.Now(), processCPU()
		}
	}
	res, err := f.Fetch(ctx, nodes[0].PeerID(), pub.Manifest, fetch.Options{Manifest: id, Purpose: "bench", Progress: progress, Schema: schema})
	took := time.Since(start)
	endCPU := processCPU()
	dataCPU := endCPU - firstCPU
	stopProfile()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(res.Received)/took.Seconds(), "records/s")
	b.ReportMetric(float64(n)/took.Seconds(), "decided/s")
	fetchMBs := float64(res.Bytes) / took.Seconds() / 1e6
	b.ReportMetric(fetchMBs, "MB/s")
	b.ReportMetric(0, "ns/op")
	// The fixed part (request, deciding every record, journaling the
	// decision) and the data phase, separately: with a small dataset the
	// first weighs on the whole-fetch rate.
	fixed, data := firstAt.Sub(start), time.Since(firstAt)-(time.Since(start)-took)
	dataMBs := float64(res.Bytes) / data.Seconds() / 1e6
	b.ReportMetric(float64(fixed.Milliseconds()), "ms-to-first-record")
	b.ReportMetric(dataMBs, "data-phase-MB/s")
	// Both gateways share this process: CPU time over wall time in the data
	// phase says whether it is short of cores (200% on this machine).
	b.ReportMetric(100*dataCPU.Seconds()/data.Seconds(), "data-phase-cpu-%")
	// The CPU time both gateways spent on the fetch: far steadier from run
	// to run than the wall time on this VM, and what a change of work
	// shows in when the cores are saturated.
	b.ReportMetric(float64((endCPU - startCPU).Milliseconds()), "cpu-ms")
	b.Logf("%d of %d records permitted and verified in %v (%d bytes): %v to the first record, then %.1f MB/s", res.Received, n, took.Round(time.Millisecond), res.Bytes, fixed.Round(time.Millisecond), dataMBs)
	for _, c := range nodes[1].Host().Network().ConnsToPeer(nodes[0].PeerID()) {
		if !strings.Contains(c.RemoteMultiaddr().String(), "/"+transport) {
			b.Fatalf("want %s connections only, have %v", transport, c.RemoteMultiaddr())
		}
	}
	if !raw {
		return
	}
	// The same number of bytes over a raw libp2p stream between the same hosts.
	rawMBs := float64(res.Bytes) / rawCopy(b, nodes, int64(res.Bytes)).Seconds() / 1e6
	b.ReportMetric(rawMBs, "raw-MB/s")
	b.ReportMetric(100*fetchMBs/rawMBs, "%-of-raw")
	b.ReportMetric(100*dataMBs/rawMBs, "data-phase-%-of-raw")
}

// fetchBenchNet starts two gateways on transport, customs-cn's with the
// benchmark's policy, and publishes n records of about size bytes (the
// generated declarations for 0); it returns once customs-kz lists them.
func fetchBenchNet(b *testing.B, n, size int, transport string) (*devnet.Net, []*gateway.Gateway, *api.PublishSummary) {
	ctx := context.Background()
	nt, err := devnet.Create(filepath.Join(b.TempDir(), "net"), 2)
	if err != nil {
		b.Fatal(err)
	}
	for _, o := range nt.Orgs {
		if err := o.ListenOn(transport); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(nt.Orgs[0].Dir, "policies", "zz-bench.cedar"), []byte(devnet.FetchBenchPolicy), 0o600); err != nil {
		b.Fatal(err)
	}
	var nodes []*gateway.Gateway
	for _, o := range nt.Orgs {
		nd, err := gateway.Start(ctx, gateway.Options{Dir: o.Dir, Logger: benchLogger()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { nd.Close() })
		nodes = append(nodes, nd)
	}
	var body bytes.Buffer
	if size == 0 {
		if err := sample.Write(&body, "customs-declaration", n, 1, nil); err != nil {
			b.Fatal(err)
		}
	} else {
		for i := range n {
			body.Write(bigDeclaration(b, i, size))
			body.WriteByte('\n')
		}
	}
	cl, _ := api.NewClient(nt.Orgs[0].Dir)
	if err := devnet.RegisterDemoSchemas(ctx, cl); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); nodes[0].Services().Admin.Status().Policy.Waiting != "" || len(nodes[1].Registry().All()) == 0; {
		if time.Now().After(deadline) {
			b.Fatal("the demo's schemas not registered, or policies not in force")
		}
		time.Sleep(20 * time.Millisecond)
	}
	pub, err := cl.Publish(ctx, api.PublishRequest{Dataset: "bench", Schema: "customs-declaration", Format: "jsonl", Purposes: []string{"bench"}}, &body, nil)
	if err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		if _, err := nodes[1].Services().Sharing.CatalogItem(pub.CID); err == nil && len(nodes[1].Host().Network().Peers()) > 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("manifest not listed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nt, nodes, pub
}

// rawCopy copies total bytes over a raw libp2p stream from nodes[0] to
// nodes[1], three times, and returns the median time.
func rawCopy(b *testing.B, nodes []*gateway.Gateway, total int64) time.Duration {
	ctx := context.Background()
	nodes[0].Host().SetStreamHandler("/bench/raw", func(s network.Stream) {
		buf := make([]byte, 64<<10)
		for left := total; left > 0; left -= int64(len(buf)) {
			if _, err := s.Write(buf[:min(int64(len(buf)), left)]); err != nil {
				s.Reset()
				return
			}
		}
		s.Close()
	})
	// A copy takes about 100 ms, which this VM's hiccups move a lot: the
	// median of three.
	var copies []time.Duration
	for range 3 {
		s, err := nodes[1].Host().NewStream(ctx, nodes[0].PeerID(), "/bench/raw")
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		got, err := io.Copy(io.Discard, s)
		copies = append(copies, time.Since(start))
		s.Close()
		if err != nil || got != total {
			b.Fatalf("raw copy: %d of %d bytes, %v", got, total, err)
		}
	}
	slices.Sort(copies)
	return copies[1]
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchLogger() *zap.Logger {
	if os.Getenv("CARAVAN_BENCH_LOG") != "" {
		l, _ := zap.NewDevelopment()
		return l
	}
	return zap.NewNop()
}
