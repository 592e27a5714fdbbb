package server

import (
	"sync"

	"github.com/ecrn/crvsx/node/query"
	"github.com/prometheus/client_golang/prometheus"
)

// queryMetrics are the instruments of POST /v1/queries, registered on the
// first call of Metrics.Queries.
type queryMetrics struct {
	once    sync.Once
	queries *prometheus.CounterVec
	probing *prometheus.CounterVec
}

// Queries returns the status-query handler's view of the metrics
// (query.Metrics): crvsx_queries_total by requester and outcome (a
// matchResult, "replay", or the refusal's problem code), and
// crvsx_query_probing_total by requester and signal (alert on any
// increase).
func (m *Metrics) Queries() query.Metrics {
	qm := &m.queries
	qm.once.Do(func() {
		qm.queries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crvsx_queries_total",
			Help: "Status queries (POST /v1/queries) by requester and outcome: a matchResult, replay, or the problem code of a refusal."}, []string{"requester", "outcome"})
		qm.probing = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crvsx_query_probing_total",
			Help: "Probing signals of a requester (SPEC §11.2): near-identical-subjects, identifier-sweep."}, []string{"requester", "signal"})
		m.reg.MustRegister(qm.queries, qm.probing)
	})
	return qm
}

func (q *queryMetrics) Query(requester, outcome string) {
	q.queries.WithLabelValues(requester, outcome).Inc()
}

func (q *queryMetrics) Probing(requester, signal string) {
	q.probing.WithLabelValues(requester, signal).Inc()
}
