// Package metrics are a gateway's Prometheus metrics, served on the
// control socket at GET /metrics.
package metrics

import (
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/caravan-consortium/caravan/api"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are a gateway's Prometheus metrics: its counters, which the
// gateway's parts tell of what they do, and its state (state.go), read
// when the metrics are scraped.
type Metrics struct {
	reg           *prometheus.Registry
	policyReloads *prometheus.CounterVec
	policyInfo    *prometheus.GaugeVec
	journalForks  prometheus.Counter

	publishes, recordsPublished    prometheus.Counter
	served                         *prometheus.CounterVec // decisions made for partners, by requester
	decided                        *prometheus.CounterVec // records decided for partners, by requester, purpose, verdict
	fetches                        *prometheus.CounterVec // fetches made, by provider and result
	receivedRecords, receivedBytes prometheus.Counter
	fetchDuration                  prometheus.Histogram
	toWitnessed                    prometheus.Histogram // this org's checkpoints, announced to witnessed

	mu        sync.Mutex
	witnessed []api.WitnessSample // the newest keepWitnessSamples, oldest first, for the console's plot
}

// keepWitnessSamples is how many times to witnessed the gateway keeps.
const keepWitnessSamples = 500

// New returns the metrics, registered.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		policyReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "caravan_policy_reloads_total",
			Help: "Policy bundle reloads, by result: accepted (a new bundle is in force) or refused (invalid; the old one stays).",
		}, []string{"result"}),
		policyInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "caravan_policy_bundle_info",
			Help: "1 for the CID of the policy bundle in force.",
		}, []string{"cid"}),
	}
	m.journalForks = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "caravan_journal_fork_alerts_total",
		Help: "Checkpoints of a member's journal that contradicted one already verified (evidence in DIR/journal/alerts).",
	})
	m.reg.MustRegister(m.journalForks)
	m.publishes = prometheus.NewCounter(prometheus.CounterOpts{Name: "caravan_publishes_total",
		Help: "Dataset versions this org published."})
	m.recordsPublished = prometheus.NewCounter(prometheus.CounterOpts{Name: "caravan_records_published_total",
		Help: "Records in the dataset versions this org published."})
	m.served = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "caravan_fetch_requests_served_total",
		Help: "Partners' fetch requests this gateway decided and journaled, by requesting org."}, []string{"requester"})
	m.decided = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "caravan_fetch_records_decided_total",
		Help: "Records decided for partners' fetches, by requesting org, purpose and verdict (permitted, withheld)."},
		[]string{"requester", "purpose", "verdict"})
	m.fetches = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "caravan_fetches_total",
		Help: "Fetches this gateway made, by provider org and result (ok: records received; denied: none permitted; failed)."},
		[]string{"provider", "result"})
	m.receivedRecords = prometheus.NewCounter(prometheus.CounterOpts{Name: "caravan_fetch_received_records_total",
		Help: "Records received and verified by this gateway's fetches."})
	m.receivedBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "caravan_fetch_received_bytes_total",
		Help: "Bytes of the records received and verified by this gateway's fetches."})
	m.fetchDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "caravan_fetch_duration_seconds",
		Help: "How long this gateway's fetches took, request to receipt, failed ones included.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 8)})
	// The resource manager's own series (libp2p_rcmgr_*), refusals among
	// them (libp2p_rcmgr_blocked_resources).
	rcmgr.MustRegisterWith(m.reg)
	m.toWitnessed = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "caravan_journal_time_to_witnessed_seconds",
		Help:    "From a checkpoint of this org's journal first announced to it carrying the cosignatures the roster requires.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)})
	m.reg.MustRegister(m.toWitnessed)
	m.reg.MustRegister(m.publishes, m.recordsPublished, m.served, m.decided, m.fetches, m.receivedRecords, m.receivedBytes, m.fetchDuration)
	m.policyReloads.WithLabelValues("accepted")
	m.policyReloads.WithLabelValues("refused")
	m.reg.MustRegister(m.policyReloads, m.policyInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) PolicyReload(accepted bool) {
	if accepted {
		m.policyReloads.WithLabelValues("accepted").Inc()
	} else {
		m.policyReloads.WithLabelValues("refused").Inc()
	}
}

func (m *Metrics) PolicyBundle(cid string) {
	m.policyInfo.Reset()
	m.policyInfo.WithLabelValues(cid).Set(1)
}

func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *Metrics) JournalFork() { m.journalForks.Inc() }

func (m *Metrics) Published(records uint64) {
	m.publishes.Inc()
	m.recordsPublished.Add(float64(records))
}

func (m *Metrics) Decision(requester, purpose string, permitted, withheld uint64) {
	m.served.WithLabelValues(requester).Inc()
	m.decided.WithLabelValues(requester, purpose, "permitted").Add(float64(permitted))
	m.decided.WithLabelValues(requester, purpose, "withheld").Add(float64(withheld))
}

func (m *Metrics) Fetched(provider, result string, records, bytes uint64, took time.Duration) {
	m.fetches.WithLabelValues(provider, result).Inc()
	m.receivedRecords.Add(float64(records))
	m.receivedBytes.Add(float64(bytes))
	m.fetchDuration.Observe(took.Seconds())
}

func (m *Metrics) WitnessedAfter(d time.Duration) {
	m.toWitnessed.Observe(d.Seconds())
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.witnessed) == keepWitnessSamples {
		m.witnessed = append(m.witnessed[:0], m.witnessed[1:]...)
	}
	m.witnessed = append(m.witnessed, api.WitnessSample{At: time.Now().UTC(), Seconds: d.Seconds()})
}

// WitnessTimes returns the newest times to witnessed, oldest first.
func (m *Metrics) WitnessTimes() []api.WitnessSample {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.witnessed)
}

// Register adds a collector: the gateway's state (State).
func (m *Metrics) Register(c prometheus.Collector) { m.reg.MustRegister(c) }
