package metrics

import (
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/journal/witness"
	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/sharing/catalog"
)

// stateCollector reads the gateway's state when it is scraped: members
// connected, catalog statements per org, gossip verdicts, journal sizes.
// Nothing is counted twice: the catalog and the witness service keep their
// own counts, and this reads them.
// Sources are the parts of a running gateway its state is read from.
type Sources struct {
	Org     string
	Host    host.Host
	Roster  *consortium.Roster
	Gater   *p2p.Gater
	Catalog *catalog.Catalog
	Gossip  *catalog.Service
	Drops   *p2p.GossipDrops
	Witness *witness.Service
}

type stateCollector struct {
	sources func() (Sources, bool) // false: not started yet

	members, connected, statements, journalSize, witnessed, gossipIn, gossipOut, refused, lag *prometheus.Desc
	refusedEarly, tarpit, gossipDropped, rosterExpires, rosterExpired                         *prometheus.Desc
}

// State is the collector of a gateway's state, read from sources (false
// until the gateway has started).
func State(sources func() (Sources, bool)) prometheus.Collector {
	return &stateCollector{sources: sources,
		members: prometheus.NewDesc("caravan_members", "Member orgs in the roster in force, this one included.", nil, nil),
		connected: prometheus.NewDesc("caravan_members_connected",
			"Other member orgs with at least one node connected to this gateway.", nil, nil),
		statements: prometheus.NewDesc("caravan_catalog_statements",
			"Statements the catalog holds of each org (shared ones; the quota counts these).", []string{"org"}, nil),
		journalSize: prometheus.NewDesc("caravan_journal_size",
			"Entries in a journal: this org's own log, and each member's mirrored log.", []string{"org", "log"}, nil),
		witnessed: prometheus.NewDesc("caravan_journal_witnessed",
			"1 if this org's newest checkpoint is cosigned by the witnesses the roster requires.", nil, nil),
		gossipIn: prometheus.NewDesc("caravan_gossip_messages_in_total",
			"Messages other members gossiped, by topic (catalog, journal), the validator's result (accepted, rejected, ignored) and reason.",
			[]string{"topic", "result", "reason"}, nil),
		gossipOut: prometheus.NewDesc("caravan_gossip_messages_out_total",
			"This org's messages gossiped, by topic: catalog statements, journal checkpoint notes.", []string{"topic"}, nil),
		gossipDropped: prometheus.NewDesc("caravan_gossip_messages_dropped_total",
			"Messages GossipSub dropped before a validator saw them (direction in) or before they were sent (out), by its reason: "+
				"a full validation queue, validation throttled, a peer's full outbound queue, a subscriber too slow.",
			[]string{"direction", "topic", "reason"}, nil),
		lag: prometheus.NewDesc("caravan_journal_mirror_lag_entries",
			"How far this gateway's mirror of a member's journal is behind the newest checkpoint of it heard.", []string{"org"}, nil),
		refused: prometheus.NewDesc("caravan_connections_refused_total",
			"Connections and dials refused because the peer is not in the roster.", nil, nil),
		refusedEarly: prometheus.NewDesc("caravan_connections_refused_before_handshake_total",
			"Inbound connections refused before their handshake: more than the rate one IP outside the roster may start.", nil, nil),
		rosterExpires: prometheus.NewDesc("caravan_roster_expires_timestamp_seconds",
			"When the roster in force expires (Unix time); absent if it does not.", nil, nil),
		rosterExpired: prometheus.NewDesc("caravan_roster_expired",
			"1 if the roster in force has expired: the gateway keeps serving under it until the admins sign a new version.", nil, nil),
		tarpit: prometheus.NewDesc("caravan_connections_tarpit",
			"Refused inbound connections held open, unread, instead of closed at once.", nil, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.members, c.connected, c.statements, c.journalSize, c.witnessed, c.gossipIn, c.gossipOut, c.refused, c.lag, c.refusedEarly, c.tarpit, c.gossipDropped, c.rosterExpires, c.rosterExpired} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	n, ok := c.sources()
	if !ok {
		return // not started yet
	}
	r := n.Roster
	connected := 0
	for _, m := range r.Members {
		if m.Org == n.Org {
			continue
		}
		for _, nd := range m.Nodes {
			if p, err := peer.Decode(nd.PeerID); err == nil && n.Host.Network().Connectedness(p) == network.Connected {
				connected++
				break
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(c.members, prometheus.GaugeValue, float64(len(r.Members)))
	if at, ok := r.ExpiresAt(); ok {
		expired := 0.0
		if r.Expired(time.Now()) {
			expired = 1
		}
		ch <- prometheus.MustNewConstMetric(c.rosterExpires, prometheus.GaugeValue, float64(at.Unix()))
		ch <- prometheus.MustNewConstMetric(c.rosterExpired, prometheus.GaugeValue, expired)
	}
	ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, float64(connected))
	ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(n.Gater.Refused()))
	early, held := n.Gater.RefusedBeforeHandshake()
	ch <- prometheus.MustNewConstMetric(c.refusedEarly, prometheus.CounterValue, float64(early))
	ch <- prometheus.MustNewConstMetric(c.tarpit, prometheus.GaugeValue, float64(held))
	if n.Catalog != nil {
		for org, u := range n.Catalog.Usages() {
			ch <- prometheus.MustNewConstMetric(c.statements, prometheus.GaugeValue, float64(u.Statements), org)
		}
	}
	if n.Gossip != nil {
		for v, count := range n.Gossip.GossipCounts() {
			ch <- prometheus.MustNewConstMetric(c.gossipIn, prometheus.CounterValue, float64(count), "catalog", v.Result, v.Reason)
		}
		ch <- prometheus.MustNewConstMetric(c.gossipOut, prometheus.CounterValue, float64(n.Gossip.Announced()), "catalog")
	}
	for d, count := range n.Drops.Counts() {
		ch <- prometheus.MustNewConstMetric(c.gossipDropped, prometheus.CounterValue, float64(count), d.Direction, topicKind(r.Consortium, d.Topic), d.Reason)
	}
	if n.Witness != nil {
		for v, count := range n.Witness.GossipCounts() {
			ch <- prometheus.MustNewConstMetric(c.gossipIn, prometheus.CounterValue, float64(count), "journal", v.Result, v.Reason)
		}
		ch <- prometheus.MustNewConstMetric(c.gossipOut, prometheus.CounterValue, float64(n.Witness.Announced()), "journal")
	}
	if n.Witness != nil {
		st := n.Witness.Status()
		ch <- prometheus.MustNewConstMetric(c.journalSize, prometheus.GaugeValue, float64(st.Size), n.Org, st.Origin)
		for _, m := range st.Mirrors {
			ch <- prometheus.MustNewConstMetric(c.journalSize, prometheus.GaugeValue, float64(m.Size), m.Org, journal.Origin(r.Consortium, m.Org))
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(m.Heard-min(m.Heard, m.Size)), m.Org)
		}
		w := 0.0
		if st.Witness {
			w = 1
		}
		ch <- prometheus.MustNewConstMetric(c.witnessed, prometheus.GaugeValue, w)
	}
}

// topicKind is a gossip topic's name in the metrics: catalog, journal, or
// (a topic of another consortium, once the roster changed) other.
func topicKind(consortium, topic string) string {
	switch topic {
	case catalog.Topic(consortium):
		return "catalog"
	case witness.Topic(consortium):
		return "journal"
	}
	return "other"
}
