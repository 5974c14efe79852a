package gateway_test

import (
	"context"
	"regexp"
	"strconv"
	"testing"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testnet"
)

// metricValue is the value of the series line that matches re (the name
// and its labels, as /metrics prints them), or -1.
func metricValue(text, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// What operators scrape: after a publish and a fetch, the series count
// what happened on each side, with the requesting org and purpose.
func TestMetricsCountWhatHappened(t *testing.T) {
	fn := testnet.NewFetchNet(t, 300)
	provider, requester := fn.C.Dir(0), fn.C.Dir(1)
	sum, err := fn.Nodes[1].Services().Fetching.Fetch(context.Background(), api.FetchRequest{Manifest: fn.CID, Purpose: "customs-clearance"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fn.Nodes[1].Services().Fetching.Fetch(context.Background(), api.FetchRequest{Manifest: fn.CID, Purpose: "marketing"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, func() bool {
		return metricValue(getControl(t, requester, "/metrics"), `caravan_catalog_statements{org="customs-cn"}`) >= 1
	}, "the requester to count the provider's statements")
	p, r := getControl(t, provider, "/metrics"), getControl(t, requester, "/metrics")
	for _, c := range []struct {
		text, series string
		want         float64
	}{
		{p, `caravan_publishes_total`, 1},
		{p, `caravan_records_published_total`, 300},
		{p, `caravan_fetch_requests_served_total{requester="customs-kz"}`, 2},
		{p, `caravan_fetch_records_decided_total{purpose="customs-clearance",requester="customs-kz",verdict="permitted"}`, float64(sum.Permitted)},
		{p, `caravan_fetch_records_decided_total{purpose="customs-clearance",requester="customs-kz",verdict="withheld"}`, float64(sum.Withheld)},
		{p, `caravan_fetch_records_decided_total{purpose="marketing",requester="customs-kz",verdict="withheld"}`, 300},
		{p, `caravan_members`, 3},
		{p, `caravan_members_connected`, 2},
		{p, `caravan_gossip_messages_out_total{topic="catalog"}`, 5}, // the demo's four schemas and the dataset
		{r, `caravan_fetches_total{provider="customs-cn",result="ok"}`, 1},
		{r, `caravan_fetches_total{provider="customs-cn",result="denied"}`, 1},
		{r, `caravan_fetch_received_records_total`, float64(sum.Received)},
		{r, `caravan_fetch_duration_seconds_count`, 2},
		{r, `caravan_gossip_messages_in_total{reason="new",result="accepted",topic="catalog"}`, 5},
	} {
		if got := metricValue(c.text, c.series); got != c.want {
			t.Errorf("%s = %v, want %v", c.series, got, c.want)
		}
	}
	poll.Until(t, func() bool {
		return metricValue(getControl(t, provider, "/metrics"), `caravan_journal_time_to_witnessed_seconds_count`) >= 1
	}, "a checkpoint of the provider's journal witnessed, and timed")
	if lag := metricValue(r, `caravan_journal_mirror_lag_entries{org="customs-cn"}`); lag < 0 {
		t.Errorf("no mirror lag for customs-cn's journal")
	}
	for _, series := range []string{`caravan_gossip_messages_in_total{reason="valid",result="accepted",topic="journal"}`,
		`caravan_gossip_messages_out_total{topic="journal"}`, `caravan_journal_size{log="caravan/`, `caravan_journal_witnessed `, `libp2p_rcmgr_connections{`} {
		if !regexp.MustCompile(regexp.QuoteMeta(series)).MatchString(p) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}
