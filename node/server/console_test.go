package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The console (node/console DESIGN §1): /console/ on the admin listener
// bypasses the bearer check (it has its own login); every other admin
// route still needs the token; the health listener serves only the
// public part.
func TestConsoleMounts(t *testing.T) {
	toks, err := NewTokens(map[string]string{"op": strings.Repeat("t", 32)})
	require.NoError(t, err)
	mark := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })
	}
	rt := &Routes{AdminTokens: toks, Registry: mark("registry"), Console: mark("console"), ConsolePublic: mark("public"),
		Metrics: NewMetrics(), Log: slog.New(slog.DiscardHandler), Live: func() error { return nil }}
	get := func(h http.Handler, path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	code, body := get(rt.Admin(), "/console/overview")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "console", body)
	code, _ = get(rt.Admin(), "/v1/registry/status")
	require.Equal(t, http.StatusUnauthorized, code, "the admin API keeps its bearer check")
	code, _ = get(rt.Admin(), "/v1/admin/backup")
	require.Equal(t, http.StatusUnauthorized, code)
	code, body = get(rt.Health(), "/console/verify")
	require.Equal(t, "public", body)
	code, _ = get(rt.Health(), "/livez")
	require.Equal(t, http.StatusOK, code)

	rt.Console, rt.ConsolePublic = nil, nil
	code, _ = get(rt.Admin(), "/console/overview")
	require.Equal(t, http.StatusUnauthorized, code, "no console: the path is the admin API's")
	code, _ = get(rt.Health(), "/console/verify")
	require.Equal(t, http.StatusNotFound, code)
}

func TestTokensMatch(t *testing.T) {
	tok := strings.Repeat("a", 32)
	toks, err := NewTokens(map[string]string{"alice": tok})
	require.NoError(t, err)
	name, ok := toks.Match(tok)
	require.True(t, ok)
	require.Equal(t, "alice", name)
	for _, bad := range []string{"", tok + "a", tok[:31], strings.Repeat("b", 32)} {
		_, ok := toks.Match(bad)
		require.False(t, ok, bad)
	}
}

func TestClientLimiter(t *testing.T) {
	l := NewClientLimiter(2, time.Hour, 3, time.Hour)
	require.True(t, l.Allow("a"))
	require.True(t, l.Allow("a"))
	require.False(t, l.Allow("a"), "over the client's burst")
	require.True(t, l.Allow("b"), "the global budget was not spent by a's refused attempt")
	require.False(t, l.Allow("c"), "over the global burst")
}
