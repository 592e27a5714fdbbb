package server

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ecrn/crvsx/node/internal/httpio"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPeerQueriesRoute is SPEC §11.2 on the real peer listener: POST
// /v1/queries reaches the queries handler with a requester's client key
// (which the handler checks against the query's requester, node/query), and
// every other route keeps refusing a requester's key (NODE_PIN_MISMATCH).
func TestPeerQueriesRoute(t *testing.T) {
	serverCert, tjCert, reqCert := mustNodeKey(t, "TJ-SRV"), mustNodeKey(t, "TJ-MOJ-CRVS"), mustNodeKey(t, "INT-UNHCR")
	tjPin, _ := pintls.Pin(tjCert)
	reqPin, _ := pintls.Pin(reqCert)
	serverPin, _ := pintls.Pin(serverCert)
	nodes := map[string]Peer{tjPin: {NodeID: "TJ-MOJ-CRVS", Member: "TJ"}}
	rt := &Routes{
		Peers:    func(pin string) (Peer, bool) { p, ok := nodes[pin]; return p, ok },
		Registry: http.NotFoundHandler(),
		Queries: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			pin := pintls.PeerPin(*r.TLS)
			if pin != reqPin { // what node/query decides from the registry
				httpio.WriteProblem(w, r, quiet, protocol.Errorf(protocol.CodeNodePinMismatch, "not the requester's key"))
				return
			}
			io.WriteString(w, "query from "+pin)
		}),
		Log: quiet,
	}
	srv := httptest.NewUnstartedServer(rt.Peer())
	srv.TLS = pintls.ServerConfig(serverCert)
	srv.StartTLS()
	defer srv.Close()
	post := func(t *testing.T, cert *tls.Certificate, path string) (int, string) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: pintls.ClientConfig(cert, pintls.ExpectPin(serverPin))}}
		resp, err := c.Post(srv.URL+path, protocol.MediaTypeJOSE, bytes.NewReader([]byte("a.b.c")))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	t.Run("ok/requester-key-reaches-queries", func(t *testing.T) {
		st, body := post(t, &reqCert, "/v1/queries")
		assert.Equal(t, 200, st)
		assert.Equal(t, "query from "+reqPin, body)
	})
	t.Run("fail/member-node-key-is-not-a-requester", func(t *testing.T) {
		st, body := post(t, &tjCert, "/v1/queries")
		assert.Equal(t, 403, st)
		assert.Contains(t, body, string(protocol.CodeNodePinMismatch))
	})
	t.Run("fail/requester-key-refused-on-messages", func(t *testing.T) {
		st, body := post(t, &reqCert, "/v1/messages")
		assert.Equal(t, 403, st)
		assert.Contains(t, body, string(protocol.CodeNodePinMismatch))
	})
}

// TestQueryMetrics: the handler's events become crvsx_queries_total and
// crvsx_query_probing_total.
func TestQueryMetrics(t *testing.T) {
	m := NewMetrics()
	q := m.Queries()
	q.Query("INT-UNHCR", "unique-match")
	m.Queries().Probing("INT-UNHCR", "identifier-sweep")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	assert.Contains(t, rec.Body.String(), `crvsx_queries_total{outcome="unique-match",requester="INT-UNHCR"} 1`)
	assert.Contains(t, rec.Body.String(), `crvsx_query_probing_total{requester="INT-UNHCR",signal="identifier-sweep"} 1`)
}
