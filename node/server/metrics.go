package server

import (
	"net/http"
	"strconv"
	"time"

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
	m.reg.MustRegister(m.requests, m.latency, m.Received, m.Rejected, m.Delivered, m.Attempts, m.DeadLetters, m.Dead,
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
