package server

import (
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/ecrn/crvsx/node/exchange"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the node's Prometheus registry and the instruments the shell
// updates. Other packages report through the small callbacks it offers
// (no package but this one imports prometheus).
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	// Exchange instruments.
	Received     *prometheus.CounterVec // by outcome: accepted, duplicate, rejected
	Rejected     *prometheus.CounterVec // by code
	Delivered    prometheus.Counter
	Attempts     *prometheus.CounterVec // by outcome
	DeadLetters  prometheus.Counter
	Dead         prometheus.Gauge
	Pending      prometheus.Gauge
	BreakerOpen  *prometheus.GaugeVec // by peer: 1 while open
	RegistryLag  prometheus.Gauge     // seconds since the registry replica was last in sync
	RegistryIdx  prometheus.Gauge
	WebhookFails prometheus.Counter
	// peerRefused counts connections the peer listener's budget closed.
	peerRefused *prometheus.CounterVec

	// Gauges the node refreshes (node.gauges).
	PeerBacklog    *prometheus.GaugeVec // pending deliveries by peer node
	InboxUnacked   *prometheus.GaugeVec // received, not yet acknowledged, by consumer
	RegistryTerm   prometheus.Gauge
	RegistryLeader prometheus.Gauge     // 1 while this node leads the registry
	KeyExpiry      *prometheus.GaugeVec // seconds until notAfter of each active key
	CertExpiry     *prometheus.GaugeVec // seconds until notAfter of each active conformance certificate
	StorageFull    prometheus.Gauge     // 1 while the store's volume is full (store DESIGN §6)
	ClockOffset    prometheus.Gauge     // this node's clock minus its peers', seconds (exchange DESIGN §8)
	// RecordEvents counts the persons of inbound events the records
	// follower looked up, by outcome (node/records DESIGN R6).
	RecordEvents *prometheus.CounterVec

	queries queryMetrics // POST /v1/queries (query_metrics.go)
}

// NewMetrics builds the registry with the Go and process collectors and the
// node's instruments.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crvsx_http_requests_total", Help: "HTTP requests by API, route and status."}, []string{"api", "route", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "crvsx_http_request_seconds", Help: "HTTP request latency by API and route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"api", "route"})
	m.Received = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crvsx_inbound_messages_total", Help: "Inbound messages by outcome."}, []string{"outcome"})
	m.Rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crvsx_inbound_rejected_total", Help: "Inbound messages refused, by problem code."}, []string{"code"})
	m.Delivered = prometheus.NewCounter(prometheus.CounterOpts{Name: "crvsx_outbox_delivered_total", Help: "Deliveries completed with a valid receipt."})
	m.Attempts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crvsx_outbox_attempts_total", Help: "Delivery attempts by outcome."}, []string{"outcome"})
	m.DeadLetters = prometheus.NewCounter(prometheus.CounterOpts{Name: "crvsx_outbox_dead_letter_total", Help: "Deliveries moved to dead-letter (alert on any increase)."})
	m.Dead = prometheus.NewGauge(prometheus.GaugeOpts{Name: "crvsx_outbox_dead", Help: "Deliveries currently in dead-letter."})
	m.Pending = prometheus.NewGauge(prometheus.GaugeOpts{Name: "crvsx_outbox_pending", Help: "Deliveries waiting for a receipt."})
	m.BreakerOpen = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "crvsx_peer_breaker_open", Help: "1 while the circuit breaker to a peer is open."}, []string{"peer"})
	m.RegistryLag = prometheus.NewGauge(prometheus.GaugeOpts{Name: "crvsx_registry_staleness_seconds", Help: "Seconds since the registry replica was last known in sync."})
	m.RegistryIdx = prometheus.NewGauge(prometheus.GaugeOpts{Name: "crvsx_registry_applied_index", Help: "Applied index of the registry replica."})
	m.WebhookFails = prometheus.NewCounter(prometheus.CounterOpts{Name: "crvsx_webhook_failures_total", Help: "Failed webhook pushes to the national system."})
	m.peerRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crvsx_peer_connections_refused_total",
		Help: "Connections the peer listener closed before serving them, by reason (pintls.Budget)."}, []string{"reason"})
	m.PeerBacklog = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "crvsx_outbox_pending_by_peer", Help: "Deliveries waiting for a receipt, by peer node."}, []string{"peer"})
	m.InboxUnacked = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "crvsx_inbox_unacknowledged", Help: "Received messages the national system has not acknowledged, by consumer (pull or webhook)."}, []string{"consumer"})
	m.RegistryTerm = prometheus.NewGauge(prometheus.GaugeOpts{Name: "crvsx_registry_term", Help: "Raft term of the registry replica."})
	m.RegistryLeader = prometheus.NewGauge(prometheus.GaugeOpts{Name: "crvsx_registry_leader", Help: "1 while this node is the registry leader."})
	m.KeyExpiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "crvsx_registry_key_expiry_seconds", Help: "Seconds until an active key's notAfter (alert at 60, 30 and 7 days)."}, []string{"member", "kid", "role"})
	m.CertExpiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "crvsx_registry_certificate_expiry_seconds", Help: "Seconds until an active conformance certificate's notAfter."}, []string{"id", "subject"})
	m.StorageFull = prometheus.NewGauge(prometheus.GaugeOpts{Name: "crvsx_storage_full", Help: "1 while the store's volume is full and writes are refused (STORAGE_FULL, 507)."})
	m.ClockOffset = prometheus.NewGauge(prometheus.GaugeOpts{Name: "crvsx_clock_offset_seconds",
		Help: "This node's clock minus its peers' (from the Date of their answers, node/exchange DESIGN §8); 0 without evidence."})
	m.RecordEvents = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crvsx_records_event_persons_total",
		Help: "Persons of inbound death/marriage/divorce/annulment/separation events, by outcome: applied to a uniquely matched record, no-match, ambiguous (nothing changed), unreadable."}, []string{"outcome"})
	m.reg.MustRegister(m.RecordEvents)
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "crvsx_build_info", Help: "Always 1: the binary's version, VCS revision and Go version as labels."}, []string{"version", "revision", "goversion"})
	version, revision := BuildVersion()
	build.WithLabelValues(version, revision, runtime.Version()).Set(1)
	m.reg.MustRegister(build, m.PeerBacklog, m.InboxUnacked, m.RegistryTerm, m.RegistryLeader, m.KeyExpiry, m.CertExpiry, m.StorageFull, m.ClockOffset)
	m.reg.MustRegister(m.peerRefused, m.requests, m.latency, m.Received, m.Rejected, m.Delivered, m.Attempts, m.DeadLetters, m.Dead,
		m.Pending, m.BreakerOpen, m.RegistryLag, m.RegistryIdx, m.WebhookFails)
	return m
}

func (m *Metrics) observe(api, route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(api, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(api, route).Observe(d.Seconds())
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Delivery returns the delivery worker's view of the metrics
// (exchange.DeliveryMetrics).
func (m *Metrics) Delivery() exchange.DeliveryMetrics { return deliveryMetrics{m} }

// deliveryMetrics turns the deliverer's events into instruments.
type deliveryMetrics struct{ m *Metrics }

func (d deliveryMetrics) Attempt(peer, outcome string)     { d.m.Attempts.WithLabelValues(outcome).Inc() }
func (d deliveryMetrics) Delivered(peer string)            { d.m.Delivered.Inc() }
func (d deliveryMetrics) DeadLettered(peer, reason string) { d.m.DeadLetters.Inc() }
func (d deliveryMetrics) Breaker(peer string, s exchange.BreakerState) {
	v := 0.0
	if s == exchange.BreakerOpen {
		v = 1
	}
	d.m.BreakerOpen.WithLabelValues(peer).Set(v)
}

// PeerConnRefused counts a connection the peer listener's budget closed.
func (m *Metrics) PeerConnRefused(reason string) { m.peerRefused.WithLabelValues(reason).Inc() }

// build is the version and commit the binary was linked with
// (SetBuildInfo); empty when it was not.
var build struct{ version, commit string }

// SetBuildInfo records the version and commit a release build was linked
// with (cmd/crvsx's -ldflags "-X main.version=… -X main.commit=…"), for
// BuildVersion and crvsx_build_info. Call it before NewMetrics.
func SetBuildInfo(version, commit string) { build.version, build.commit = version, commit }

// BuildVersion is the binary's version and commit: what SetBuildInfo
// recorded, else what the Go toolchain recorded in the binary (the module
// version or "(devel)"; vcs.revision or "unknown", with ", modified" for
// a work tree with uncommitted changes).
func BuildVersion() (version, revision string) {
	version, revision = build.version, build.commit
	modified := false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if version == "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && revision == "":
				revision = s.Value
			case s.Key == "vcs.modified" && build.commit == "":
				modified = s.Value == "true"
			}
		}
	}
	if version == "" {
		version = "(devel)"
	}
	if revision == "" {
		revision = "unknown"
	}
	if modified {
		revision += ", modified"
	}
	return version, revision
}
