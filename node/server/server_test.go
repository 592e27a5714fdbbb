package server

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var quiet = slog.New(slog.DiscardHandler)

func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder) protocol.Problem {
	t.Helper()
	assert.Equal(t, protocol.ProblemContentType, rec.Header().Get("Content-Type"))
	var p protocol.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p), rec.Body.String())
	return p
}

func TestWriteProblem(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   protocol.Code
		detail string
	}{
		{"refusal/keeps-code-and-detail", protocol.Errorf(protocol.CodeAlgNone, "alg none"), 400, protocol.CodeAlgNone, "alg none"},
		{"refusal/conflict-409", protocol.Errorf(protocol.CodeConflict, "same id"), 409, protocol.CodeConflict, "same id"},
		{"internal/cause-never-sent", errors.New("open /var/lib/crvsx/node.db: disk I/O error"), 500, protocol.CodeInternal, "internal error; the request can be retried"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteProblem(rec, httptest.NewRequest("POST", "/v1/messages", nil), quiet, tc.err)
			assert.Equal(t, tc.status, rec.Code)
			p := decodeProblem(t, rec)
			assert.Equal(t, tc.code, p.Code)
			assert.Equal(t, tc.code.TypeURI(), p.Type)
			assert.Equal(t, tc.detail, p.Detail)
			assert.NotContains(t, rec.Body.String(), "disk I/O")
		})
	}
}

func TestWrapRecoversPanics(t *testing.T) {
	h := Wrap("peer", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }), quiet, NewMetrics())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	assert.Equal(t, 500, rec.Code)
	p := decodeProblem(t, rec)
	assert.Equal(t, protocol.CodeInternal, p.Code)
	assert.NotEmpty(t, rec.Header().Get("Crvs-Request-Id"))
	assert.Equal(t, rec.Header().Get("Crvs-Request-Id"), p.Instance)
}

func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		name          string
		body          string
		contentLength int64
		code          protocol.Code
	}{
		{"ok/within-limit", "abcd", 4, ""},
		{"fail/content-length-over-limit", "abcdefgh", 8, protocol.CodeTooLarge},
		{"fail/chunked-over-limit", "abcdefgh", -1, protocol.CodeTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", io.NopCloser(strings.NewReader(tc.body)))
			r.ContentLength = tc.contentLength
			b, err := ReadBody(httptest.NewRecorder(), r, 5)
			if tc.code == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.body, string(b))
				return
			}
			assert.Equal(t, tc.code, protocol.CodeOf(err))
		})
	}
}

func TestBearerTokens(t *testing.T) {
	_, err := NewTokens(map[string]string{"short": "abc"})
	require.Error(t, err, "short tokens refused")
	tok := strings.Repeat("s3cr3t", 6)
	ts, err := NewTokens(map[string]string{"national-system": tok})
	require.NoError(t, err)
	h := RequireBearer(ts, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }),
		func(w http.ResponseWriter, r *http.Request) {
			WriteProblem(w, r, quiet, &protocol.Error{Code: protocol.CodeUnauthorized, Detail: "bearer token required"})
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

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: leaf}
}

func TestPeerTLS(t *testing.T) {
	serverCert, tjCert, strangerCert := selfSigned(t), selfSigned(t), selfSigned(t)
	registered := map[string]Peer{SPKIPin(tjCert.Leaf): {NodeID: "TJ-MOJ-CRVS", Member: "TJ"}}
	lookup := func(pin string) (Peer, bool) { p, ok := registered[pin]; return p, ok }

	srv := httptest.NewUnstartedServer(WithPeer(lookup, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := PeerFrom(r.Context())
		io.WriteString(w, p.Member+" "+p.NodeID)
	}), func(w http.ResponseWriter, r *http.Request, err error) {
		WriteProblem(w, r, quiet, &protocol.Error{Code: protocol.CodeSenderMismatch, Detail: err.Error()})
	}))
	srv.TLS = PeerTLSConfig(serverCert, lookup)
	srv.StartTLS()
	defer srv.Close()

	client := func(cert tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true, // the test client does not pin the server
			MinVersion: tls.VersionTLS13,
		}}}
	}
	t.Run("ok/registered-key", func(t *testing.T) {
		resp, err := client(tjCert).Post(srv.URL, "application/jose", bytes.NewReader(nil))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		assert.Equal(t, "TJ TJ-MOJ-CRVS", string(b))
	})
	t.Run("fail/unregistered-key-refused-in-handshake", func(t *testing.T) {
		resp, err := client(strangerCert).Post(srv.URL, "application/jose", bytes.NewReader(nil))
		if err == nil {
			resp.Body.Close()
		}
		require.Error(t, err)
	})
	t.Run("fail/no-client-certificate", func(t *testing.T) {
		resp, err := client(tls.Certificate{}).Post(srv.URL, "application/jose", bytes.NewReader(nil))
		if err == nil {
			resp.Body.Close()
		}
		require.Error(t, err)
	})
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
