package devnet

import (
	"bytes"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// The parser reads what the Prometheus client library writes.
func TestParseGossipVerdicts(t *testing.T) {
	reg := prometheus.NewRegistry()
	in := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "caravan_gossip_messages_in_total", Help: "Messages."},
		[]string{"topic", "result", "reason"})
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "caravan_gossip_messages_dropped_total", Help: "Dropped."},
		[]string{"direction", "topic", "reason"})
	other := prometheus.NewCounter(prometheus.CounterOpts{Name: "caravan_other_total", Help: "Other."})
	reg.MustRegister(in, dropped, other)
	dropped.WithLabelValues("in", "catalog", "validation queue full").Add(3)
	in.WithLabelValues("catalog", "ignored", "signer-budget").Add(344)
	in.WithLabelValues("catalog", "accepted", "new").Add(310)
	in.WithLabelValues("journal", "ignored", `un"clean, or not`).Add(2)
	other.Add(9)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	got, err := parseGossipVerdicts(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"catalog ignored/signer-budget": 344, "catalog accepted/new": 310, `journal ignored/un"clean, or not`: 2,
		"catalog dropped in/validation queue full": 3}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %v, want %v", k, got[k], v)
		}
	}
	since := verdictsSince(map[string]float64{"catalog ignored/signer-budget": 300}, got)
	if s := strings.Join(since, "; "); s != `catalog dropped in/validation queue full: 3; catalog ignored/signer-budget: 44; journal ignored/un"clean, or not: 2` {
		t.Errorf("since: %s", s)
	}
}

func TestParseGossipVerdictsNamesTheBadLine(t *testing.T) {
	_, err := parseGossipVerdicts([]byte("# HELP x\ncaravan_gossip_messages_in_total{topic=\"catalog\"} many\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("got %v, want an error that names line 2", err)
	}
}
