package server

import (
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ecrn/crvsx/node/internal/httpio"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var quiet = slog.New(slog.DiscardHandler)

func TestWrapRecoversPanics(t *testing.T) {
	h := Wrap("peer", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }), quiet, NewMetrics())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	assert.Equal(t, 500, rec.Code)
	p := protocol.DecodeProblem("", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes()).Problem
	assert.Equal(t, protocol.CodeInternal, p.Code)
	assert.NotEmpty(t, rec.Header().Get("Crvs-Request-Id"))
	assert.Equal(t, rec.Header().Get("Crvs-Request-Id"), p.Instance)
}

func TestBearerTokens(t *testing.T) {
	_, err := NewTokens(map[string]string{"short": "abc"})
	require.Error(t, err, "short tokens refused")
	tok := strings.Repeat("s3cr3t", 6)
	ts, err := NewTokens(map[string]string{"national-system": tok})
	require.NoError(t, err)
	h := RequireBearer(ts, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }),
		func(w http.ResponseWriter, r *http.Request) {
			httpio.WriteProblem(w, r, quiet, &protocol.Error{Code: protocol.CodeUnauthorized, Detail: "bearer token required"})
		})
	for _, tc := range []struct {
		name, header string
		status       int
	}{
		{"ok/valid-token", "Bearer " + tok, 204},
		{"ok/scheme-case-insensitive", "bearer " + tok, 204},
		{"fail/no-header", "", 401},
		{"fail/wrong-token", "Bearer " + tok + "x", 401},
		{"fail/basic-scheme", "Basic " + tok, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/inbox", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			assert.Equal(t, tc.status, rec.Code)
			if tc.status == 401 {
				assert.Equal(t, `Bearer realm="crvsx"`, rec.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

// TestPeerTLS is the peer listener as a node runs it: pintls.ServerConfig
// (a client key requested, not required) and WithPeer, which resolves the
// client's pin on every request and refuses an unregistered or missing key
// with a problem document.
func TestPeerTLS(t *testing.T) {
	serverCert, tjCert, strangerCert := mustNodeKey(t, "TJ-SRV"), mustNodeKey(t, "TJ-MOJ-CRVS"), mustNodeKey(t, "XX-STRANGER")
	tjPin, _ := pintls.Pin(tjCert)
	serverPin, _ := pintls.Pin(serverCert)
	registered := map[string]Peer{tjPin: {NodeID: "TJ-MOJ-CRVS", Member: "TJ"}}
	lookup := func(pin string) (Peer, bool) { p, ok := registered[pin]; return p, ok }

	srv := httptest.NewUnstartedServer(WithPeer(lookup, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := PeerFrom(r.Context())
		io.WriteString(w, p.Member+" "+p.NodeID)
	}), func(w http.ResponseWriter, r *http.Request, err error) {
		httpio.WriteProblem(w, r, quiet, &protocol.Error{Code: protocol.CodeNodePinMismatch, Detail: err.Error()})
	}))
	srv.TLS = pintls.ServerConfig(serverCert)
	srv.StartTLS()
	defer srv.Close()

	client := func(cert *tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: pintls.ClientConfig(cert, pintls.ExpectPin(serverPin))}}
	}
	post := func(t *testing.T, c *http.Client) (int, string) {
		resp, err := c.Post(srv.URL, "application/jose", bytes.NewReader(nil))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	t.Run("ok/registered-key", func(t *testing.T) {
		st, body := post(t, client(&tjCert))
		assert.Equal(t, 200, st)
		assert.Equal(t, "TJ TJ-MOJ-CRVS", body)
	})
	t.Run("fail/unregistered-key-refused", func(t *testing.T) {
		st, body := post(t, client(&strangerCert))
		assert.Equal(t, 403, st)
		assert.Contains(t, body, string(protocol.CodeNodePinMismatch))
	})
	t.Run("fail/no-client-certificate", func(t *testing.T) {
		st, body := post(t, client(nil))
		assert.Equal(t, 403, st)
		assert.Contains(t, body, string(protocol.CodeNodePinMismatch))
	})
	t.Run("fail/client-refuses-server-with-another-key", func(t *testing.T) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: pintls.ClientConfig(&tjCert, pintls.ExpectPin(tjPin))}}
		_, err := c.Post(srv.URL, "application/jose", bytes.NewReader(nil))
		require.ErrorIs(t, err, pintls.ErrPinMismatch)
	})
}

func mustNodeKey(t *testing.T, nodeID string) tls.Certificate {
	t.Helper()
	c, err := pintls.Generate(nodeID, "ES256")
	require.NoError(t, err)
	return c
}

func TestMetricsHandler(t *testing.T) {
	m := NewMetrics()
	m.DeadLetters.Inc()
	h := Wrap("local", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(202) }), quiet, m)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/outbox", nil))
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	assert.Contains(t, body, "crvsx_outbox_dead_letter_total 1")
	assert.Contains(t, body, `crvsx_http_requests_total{api="local",route="unmatched",status="202"} 1`)
	assert.Contains(t, body, "go_goroutines")
}
