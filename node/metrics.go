package node

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the gateway's Prometheus metrics, served on the control
// socket at GET /metrics.
type metrics struct {
	reg           *prometheus.Registry
	policyReloads *prometheus.CounterVec
	policyInfo    *prometheus.GaugeVec
	journalForks  prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
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
	m.policyReloads.WithLabelValues("accepted")
	m.policyReloads.WithLabelValues("refused")
	m.reg.MustRegister(m.policyReloads, m.policyInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) policyReload(accepted bool) {
	if accepted {
		m.policyReloads.WithLabelValues("accepted").Inc()
	} else {
		m.policyReloads.WithLabelValues("refused").Inc()
	}
}

func (m *metrics) policyBundle(cid string) {
	m.policyInfo.Reset()
	m.policyInfo.WithLabelValues(cid).Set(1)
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *metrics) journalFork() { m.journalForks.Inc() }
