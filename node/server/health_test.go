package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// A scrape of /metrics reports the state at the moment of the scrape: the
// gauges are refreshed first, so /metrics never says "fresh" while
// /readyz already says "stale".
func TestMetricsScrapeRefreshesGaugesFirst(t *testing.T) {
	m := NewMetrics()
	lag := 0.0
	rt := &Routes{Metrics: m, Log: slog.New(slog.DiscardHandler),
		Refresh: func(context.Context) { m.RegistryLag.Set(lag) }}
	h := rt.Health()
	scrape := func() string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		require.Equal(t, http.StatusOK, rec.Code)
		b, err := io.ReadAll(rec.Body)
		require.NoError(t, err)
		return string(b)
	}
	lag = 3
	require.Contains(t, scrape(), "\ncrvsx_registry_staleness_seconds 3\n")
	lag = 42
	require.Contains(t, scrape(), "\ncrvsx_registry_staleness_seconds 42\n")
}
