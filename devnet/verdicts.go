package devnet

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/caravan-consortium/caravan/api"
)

// gossipVerdicts is what a gateway's gossip validators decided so far, by
// "topic result/reason" (say "catalog ignored/signer-budget"), and what
// GossipSub dropped, by "topic dropped direction/reason", read from
// its metrics (caravan_gossip_messages_in_total and _dropped_total). The hostile scenario
// reports the attack rounds' share of them: how much of the member's
// gossip the victims saw, and what they did with it.
func gossipVerdicts(ctx context.Context, o *Org) (map[string]float64, error) {
	cl, err := api.NewClient(o.Dir)
	if err != nil {
		return nil, err
	}
	text, err := cl.Metrics(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s's metrics: %w", o.Org, err)
	}
	return parseGossipVerdicts(text)
}

// parseGossipVerdicts reads the caravan_gossip_messages_in_total and
// caravan_gossip_messages_dropped_total samples of a Prometheus text
// exposition.
func parseGossipVerdicts(text []byte) (map[string]float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	out := map[string]float64{}
	for _, m := range mfs["caravan_gossip_messages_in_total"].GetMetric() {
		l := labels(m)
		out[l["topic"]+" "+l["result"]+"/"+l["reason"]] += m.GetCounter().GetValue()
	}
	for _, m := range mfs["caravan_gossip_messages_dropped_total"].GetMetric() {
		l := labels(m)
		out[l["topic"]+" dropped "+l["direction"]+"/"+l["reason"]] += m.GetCounter().GetValue()
	}
	return out, nil
}

func labels(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, lp := range m.GetLabel() {
		l[lp.GetName()] = lp.GetValue()
	}
	return l
}

// verdictsSince is what was decided between two readings, other than
// accepting new statements and notes (the honest traffic), a sorted
// "what: n" each.
func verdictsSince(before, after map[string]float64) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if strings.Contains(k, " accepted/") {
			continue
		}
		if d := after[k] - before[k]; d > 0 {
			out = append(out, fmt.Sprintf("%s: %.0f", k, d))
		}
	}
	return out
}
