package peer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/node/peer"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mustCert makes a self-signed node certificate and returns it with the
// pin of its key.
func mustCert(t *testing.T, nodeID string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: nodeID},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, protocol.SPKIPin(leaf.RawSubjectPublicKeyInfo)
}

var (
	tjNodeID = protocoltest.NodeID("TJ")
	trNodeID = protocoltest.NodeID("TR")
)

// node is a peer's API on loopback: mTLS with any client certificate, its
// own key, and a handler; it counts connections and requests.
type node struct {
	srv      *httptest.Server
	pin      string
	conns    atomic.Int64
	requests atomic.Int64
	mu       sync.Mutex
	clients  []string // pins of the client certificates seen
}

func newNode(t *testing.T, h http.HandlerFunc) *node {
	t.Helper()
	cert, pin := mustCert(t, tjNodeID)
	n := &node{pin: pin}
	n.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.requests.Add(1)
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			n.mu.Lock()
			n.clients = append(n.clients, protocol.SPKIPin(r.TLS.PeerCertificates[0].RawSubjectPublicKeyInfo))
			n.mu.Unlock()
		}
		h(w, r)
	}))
	n.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAnyClientCert, MinVersion: tls.VersionTLS13}
	n.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.conns.Add(1)
		}
	}
	n.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point of some tests
	n.srv.StartTLS()
	t.Cleanup(n.srv.Close)
	return n
}

func (n *node) addr() peer.NodeAddr { return peer.NodeAddr{ID: tjNodeID, URL: n.srv.URL} }

// pins is a registry view of node pins that tests can change.
type pins struct {
	mu sync.Mutex
	m  map[string]string
}

func (p *pins) set(id, pin string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m[id] = pin
}

func (p *pins) PinFor(id string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pin, ok := p.m[id]
	return pin, ok
}

func newClient(t *testing.T, p *pins, mod func(*peer.Config)) (*peer.Client, string) {
	t.Helper()
	cert, pin := mustCert(t, trNodeID)
	cfg := peer.Config{Certificate: cert, PinFor: p.PinFor, Timeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(&cfg)
	}
	c, err := peer.New(cfg)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c, pin
}

func pinsFor(n *node) *pins { return &pins{m: map[string]string{tjNodeID: n.pin}} }

func writeJOSE(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", protocol.MediaTypeJOSE)
	_, _ = io.WriteString(w, body)
}

func writeProblem(w http.ResponseWriter, status int, code protocol.Code) {
	w.Header().Set("Content-Type", protocol.ProblemContentType)
	w.WriteHeader(status)
	p := protocol.Problem{Type: code.TypeURI(), Title: http.StatusText(status), Status: status, Code: code, Detail: "refused\x1b[31m by the test node"}
	if code == protocol.CodeSchemaInvalid {
		p.Issues = []protocol.Issue{{Severity: "error", Code: "SCHEMA_REQUIRED", Pointer: "/payload/child/sex"}}
	}
	_ = json.NewEncoder(w).Encode(p)
}

func TestSendPinMatch(t *testing.T) {
	var gotBody []byte
	var gotType, gotPath, gotMethod string
	n := newNode(t, func(w http.ResponseWriter, r *http.Request) {
		gotBody, _ = io.ReadAll(r.Body)
		gotType, gotPath, gotMethod = r.Header.Get("Content-Type"), r.URL.Path, r.Method
		writeJOSE(w, "receipt.bytes.here")
	})
	c, clientPin := newClient(t, pinsFor(n), nil)
	receipt, err := c.Send(context.Background(), n.addr(), []byte("h.p.s"))
	require.NoError(t, err)
	assert.Equal(t, "receipt.bytes.here", string(receipt))
	assert.Equal(t, "h.p.s", string(gotBody))
	assert.Equal(t, protocol.MediaTypeJOSE, gotType)
	assert.Equal(t, peer.PathMessages, gotPath)
	assert.Equal(t, http.MethodPost, gotMethod)
	assert.Equal(t, []string{clientPin}, n.clients, "this node presents its own certificate (mTLS)")
}

func TestSendPinMismatchRefusedBeforeSending(t *testing.T) {
	n := newNode(t, func(w http.ResponseWriter, r *http.Request) { writeJOSE(w, "x") })
	_, otherPin := mustCert(t, tjNodeID)
	c, _ := newClient(t, &pins{m: map[string]string{tjNodeID: otherPin}}, nil)
	_, err := c.Send(context.Background(), n.addr(), []byte("h.p.s"))
	require.Error(t, err)
	assert.ErrorIs(t, err, pintls.ErrPinMismatch)
	assert.False(t, exchange.Permanent(err), "a pin may be rotated: retried")
	assert.Equal(t, int64(0), n.requests.Load(), "nothing was sent")

	// No pin at all: not even a connection.
	c, _ = newClient(t, &pins{m: map[string]string{}}, nil)
	before := n.conns.Load()
	_, err = c.Send(context.Background(), n.addr(), []byte("h.p.s"))
	assert.ErrorIs(t, err, peer.ErrNoPin)
	assert.Equal(t, before, n.conns.Load())
}

// The pin is the registry's: the same key under another node's id, or a CA-signed
// name, does not help.
func TestSendPinIsPerNode(t *testing.T) {
	n := newNode(t, func(w http.ResponseWriter, r *http.Request) { writeJOSE(w, "x") })
	p := &pins{m: map[string]string{"KZ-MOJ-CRVS": n.pin}}
	_, other := mustCert(t, tjNodeID)
	p.set(tjNodeID, other)
	c, _ := newClient(t, p, nil)
	_, err := c.Send(context.Background(), n.addr(), []byte("h.p.s"))
	assert.ErrorIs(t, err, pintls.ErrPinMismatch)
	_, err = c.Send(context.Background(), peer.NodeAddr{ID: "KZ-MOJ-CRVS", URL: n.srv.URL}, []byte("h.p.s"))
	assert.NoError(t, err)
}

func TestSendProblemMapping(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		code      protocol.Code // "" writes no problem document
		body      string
		retryable bool
	}{
		{name: "permanent/schema-validation-failed", status: 422, code: protocol.CodeSchemaInvalid},
		{name: "permanent/message-id-conflict", status: 409, code: protocol.CodeConflict},
		{name: "permanent/sender-mismatch", status: 403, code: protocol.CodeSenderMismatch},
		{name: "permanent/signature-invalid", status: 403, code: protocol.CodeSignatureInvalid},
		{name: "permanent/alg-none", status: 400, code: protocol.CodeAlgNone},
		{name: "permanent/recipient-mismatch", status: 421, code: protocol.CodeRecipientMismatch},
		{name: "permanent/too-old", status: 422, code: protocol.CodeTooOld},
		{name: "permanent/unsupported-media-type", status: 415, code: protocol.CodeUnsupported},
		{name: "retryable/key-unknown", status: 403, code: protocol.CodeKeyUnknown, retryable: true},
		{name: "retryable/unavailable", status: 503, code: protocol.CodeUnavailable, retryable: true},
		{name: "retryable/internal", status: 500, code: protocol.CodeInternal, retryable: true},
		{name: "retryable/node-pin-not-yet-replicated", status: 403, code: protocol.CodeNodePinMismatch, retryable: true},
		{name: "retryable/from-the-future", status: 422, code: protocol.CodeFromFuture, retryable: true},
		{name: "retryable/too-many-requests", status: 429, retryable: true},
		{name: "retryable/bad-gateway-html", status: 502, body: "<html>bad gateway</html>", retryable: true},
		{name: "retryable/not-found-from-a-proxy", status: 404, body: "not found", retryable: true},
		{name: "retryable/200-not-jose", status: 200, body: `{"ok":true}`, retryable: true},
		{name: "retryable/problem-without-code", status: 400, body: `{"title":"bad"}`, retryable: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.code != "" {
					writeProblem(w, tc.status, tc.code)
					return
				}
				ct := "text/html"
				if strings.HasPrefix(tc.body, "{") {
					ct = "application/json"
					if tc.status >= 400 {
						ct = protocol.ProblemContentType
					}
				}
				w.Header().Set("Content-Type", ct)
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			c, _ := newClient(t, pinsFor(n), nil)
			receipt, err := c.Send(context.Background(), n.addr(), []byte("h.p.s"))
			require.Error(t, err)
			assert.Nil(t, receipt)
			var pe *protocol.ProblemError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.status, pe.Status)
			assert.Equal(t, tc.code, pe.Problem.Code)
			assert.Equal(t, tc.retryable, pe.Retryable())
			assert.Equal(t, !tc.retryable, exchange.Permanent(err))
			assert.Equal(t, tjNodeID, pe.From)
			assert.NotContains(t, err.Error(), "\x1b", "peer text is cleaned for logs")
			if tc.code != "" {
				assert.True(t, strings.HasPrefix(err.Error(), string(tc.code)), "%v", err)
			}
			if tc.code == protocol.CodeSchemaInvalid {
				require.Len(t, pe.Problem.Issues, 1)
				assert.Equal(t, "/payload/child/sex", pe.Problem.Issues[0].Pointer)
			}
			assert.Equal(t, int64(1), n.requests.Load(), "no retry inside the client")
		})
	}
}

func TestSendResponseSizeLimit(t *testing.T) {
	const limit = 1024
	t.Run("fail/declared-length-refused-before-reading", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		n := newNode(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", protocol.MediaTypeJOSE)
			w.Header().Set("Content-Length", "104857600")
			w.WriteHeader(200)
			_, _ = io.WriteString(w, strings.Repeat("A", 100))
			w.(http.Flusher).Flush()
			<-release // the rest never comes: a client that reads would wait for its timeout
		})
		c, _ := newClient(t, pinsFor(n), func(c *peer.Config) { c.MaxResponseBytes = limit; c.Timeout = 3 * time.Second })
		start := time.Now()
		_, err := c.Send(context.Background(), n.addr(), []byte("h.p.s"))
		assert.ErrorIs(t, err, peer.ErrResponseTooLarge)
		assert.Less(t, time.Since(start), 2*time.Second)
		assert.False(t, exchange.Permanent(err))
	})
	t.Run("fail/undeclared-length-cut-at-the-limit", func(t *testing.T) {
		n := newNode(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", protocol.MediaTypeJOSE)
			for i := 0; i < 64; i++ { // chunked, 64 KiB
				_, _ = io.WriteString(w, strings.Repeat("A", 1024))
				w.(http.Flusher).Flush()
			}
		})
		c, _ := newClient(t, pinsFor(n), func(c *peer.Config) { c.MaxResponseBytes = limit })
		_, err := c.Send(context.Background(), n.addr(), []byte("h.p.s"))
		assert.ErrorIs(t, err, peer.ErrResponseTooLarge)
	})
	t.Run("ok/exactly-the-limit", func(t *testing.T) {
		n := newNode(t, func(w http.ResponseWriter, r *http.Request) { writeJOSE(w, strings.Repeat("A", limit)) })
		c, _ := newClient(t, pinsFor(n), func(c *peer.Config) { c.MaxResponseBytes = limit })
		got, err := c.Send(context.Background(), n.addr(), []byte("h.p.s"))
		require.NoError(t, err)
		assert.Len(t, got, limit)
	})
	t.Run("fail/oversize-problem-document", func(t *testing.T) {
		n := newNode(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", protocol.ProblemContentType)
			w.WriteHeader(422)
			_, _ = io.WriteString(w, `{"code":"SCHEMA_VALIDATION_FAILED","detail":"`+strings.Repeat("x", 4*limit)+`"}`)
		})
		c, _ := newClient(t, pinsFor(n), func(c *peer.Config) { c.MaxResponseBytes = limit })
		_, err := c.Send(context.Background(), n.addr(), []byte("h.p.s"))
		assert.ErrorIs(t, err, peer.ErrResponseTooLarge)
		assert.False(t, exchange.Permanent(err))
	})
}

func TestSendKeepAlive(t *testing.T) {
	n := newNode(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		writeJOSE(w, "receipt")
	})
	p := pinsFor(n)
	c, _ := newClient(t, p, nil)
	for i := 0; i < 10; i++ {
		_, err := c.Send(context.Background(), n.addr(), []byte(fmt.Sprintf("h.p.%d", i)))
		require.NoError(t, err)
	}
	assert.Equal(t, int64(10), n.requests.Load())
	assert.Equal(t, int64(1), n.conns.Load(), "ten messages over one kept-alive connection")

	// Problem answers keep the connection too.
	n2 := newNode(t, func(w http.ResponseWriter, r *http.Request) { writeProblem(w, 503, protocol.CodeUnavailable) })
	p.set(tjNodeID, n2.pin)
	for i := 0; i < 3; i++ {
		_, err := c.Send(context.Background(), n2.addr(), []byte("h.p.s"))
		require.Error(t, err)
	}
	assert.Equal(t, int64(1), n2.conns.Load())

	// Back to the first node: a new pin and URL, a new pool.
	p.set(tjNodeID, n.pin)
	_, err := c.Send(context.Background(), n.addr(), []byte("h.p.s"))
	require.NoError(t, err)
	assert.Equal(t, int64(2), n.conns.Load(), "a new pin, a new connection")

	// The registry replaces the node's pin (its key was rotated or found
	// compromised): the idle connection made under the old pin is not
	// reused, and the new handshake fails on the old key.
	_, rotated := mustCert(t, tjNodeID)
	p.set(tjNodeID, rotated)
	_, err = c.Send(context.Background(), n.addr(), []byte("h.p.s"))
	assert.ErrorIs(t, err, pintls.ErrPinMismatch)
	assert.Equal(t, int64(11), n.requests.Load(), "nothing sent over the old connection")
}

func TestSendTimeoutsAndNetworkErrors(t *testing.T) {
	t.Run("retryable/timeout", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		n := newNode(t, func(w http.ResponseWriter, r *http.Request) { <-release })
		c, _ := newClient(t, pinsFor(n), func(c *peer.Config) { c.Timeout = 200 * time.Millisecond })
		_, err := c.Send(context.Background(), n.addr(), []byte("h.p.s"))
		require.Error(t, err)
		var pe *protocol.ProblemError
		assert.False(t, errors.As(err, &pe))
		assert.False(t, exchange.Permanent(err))
	})
	t.Run("retryable/context-canceled", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		n := newNode(t, func(w http.ResponseWriter, r *http.Request) { <-release })
		c, _ := newClient(t, pinsFor(n), nil)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := c.Send(ctx, n.addr(), []byte("h.p.s"))
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.False(t, exchange.Permanent(err))
	})
	t.Run("retryable/connection-refused", func(t *testing.T) {
		n := newNode(t, func(w http.ResponseWriter, r *http.Request) {})
		addr := n.addr()
		n.srv.Close()
		c, _ := newClient(t, pinsFor(n), nil)
		_, err := c.Send(context.Background(), addr, []byte("h.p.s"))
		require.Error(t, err)
		assert.False(t, exchange.Permanent(err))
	})
	t.Run("retryable/redirect-not-followed", func(t *testing.T) {
		n := newNode(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example/v1/messages", http.StatusTemporaryRedirect)
		})
		c, _ := newClient(t, pinsFor(n), nil)
		_, err := c.Send(context.Background(), n.addr(), []byte("h.p.s"))
		require.Error(t, err)
		assert.False(t, exchange.Permanent(err))
		assert.Equal(t, int64(1), n.requests.Load())
	})
}

func TestNewAndURLChecks(t *testing.T) {
	cert, _ := mustCert(t, trNodeID)
	_, err := peer.New(peer.Config{PinFor: (&pins{}).PinFor})
	assert.Error(t, err, "a client certificate is required")
	_, err = peer.New(peer.Config{Certificate: cert})
	assert.Error(t, err, "PinFor is required")

	c, _ := newClient(t, &pins{m: map[string]string{tjNodeID: strings.Repeat("a", 64)}}, nil)
	for _, u := range []string{"http://127.0.0.1:1", "https://", "https://user@127.0.0.1:1", "https://127.0.0.1:1/?q=1", "::"} {
		_, err := c.Send(context.Background(), peer.NodeAddr{ID: tjNodeID, URL: u}, []byte("h.p.s"))
		assert.Error(t, err, u)
		var pe *protocol.ProblemError
		assert.False(t, errors.As(err, &pe), u)
	}
}

func TestSPKIPinMatchesTheRegistry(t *testing.T) {
	cert, pin := mustCert(t, tjNodeID)
	assert.Equal(t, protocol.SPKIPin(cert.Leaf.RawSubjectPublicKeyInfo), pin)
}

// TestDeliverOverMTLS wires the pieces as a node does: TR's delivery
// worker sends through this client to TJ's peer API, which verifies the
// message and answers with its signed receipt; the worker checks it and
// marks the delivery delivered.
func TestDeliverOverMTLS(t *testing.T) {
	tr := protocoltest.MustNewMember("TR", jws.AlgES256)
	tj := protocoltest.MustNewMember("TJ", jws.AlgEdDSA)
	keys := tr.TrustView(tj)
	self := protocol.Endpoint{NodeID: tjNodeID, Country: "TJ"}
	n := newNode(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, protocol.MaxMessageBytes))
		v := &exchange.Verifier{Keys: keys, Typ: protocol.TypEvent, Recipient: &self, Skew: 5 * time.Minute, MaxAge: 7 * 24 * time.Hour}
		msg, err := v.Verify(body, time.Now())
		if err != nil {
			p := protocol.ProblemFor(err)
			w.Header().Set("Content-Type", protocol.ProblemContentType)
			w.WriteHeader(p.Status)
			_ = json.NewEncoder(w).Encode(p)
			return
		}
		receipt, err := exchange.BuildReceipt(tj.Signer, self, msg, "TJ-2026-1", time.Now())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		writeJOSE(w, string(receipt))
	})
	c, _ := newClient(t, pinsFor(n), nil)
	urls := map[string]string{tjNodeID: n.srv.URL}

	id := protocoltest.NewUUID()
	raw := tr.Sign(protocol.TypEvent, protocoltest.BirthMessageAt("TR", "TJ", id, time.Now()))
	out := &oneDelivery{d: store.Delivery{Key: 1, Recipient: "TJ", RecipientNodeID: tjNodeID, MessageID: id, JWS: raw,
		CreatedAt: time.Now(), NextAttemptAt: time.Now()}, done: make(chan []byte, 1)}
	d, err := exchange.NewDeliverer(exchange.DelivererConfig{
		Outbox: out,
		Sender: exchange.SenderFunc(func(ctx context.Context, nodeID string, jws []byte) ([]byte, error) {
			return c.Send(ctx, peer.NodeAddr{ID: nodeID, URL: urls[nodeID]}, jws)
		}),
		Keys: keys,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx) }()
	select {
	case receipt := <-out.done:
		got, err := exchange.CheckReceipt(receipt, exchange.SentMessage{Recipient: "TJ", MessageID: id, Digest: sha256.Sum256(raw)}, keys, nil, time.Now())
		require.NoError(t, err)
		assert.Equal(t, "TJ-2026-1", got.Doc["payload"].(map[string]any)["localReference"])
	case <-time.After(10 * time.Second):
		t.Fatal("not delivered")
	}
	cancel()
	require.NoError(t, <-errc)
}

// oneDelivery is an outbox holding a single delivery.
type oneDelivery struct {
	mu   sync.Mutex
	d    store.Delivery
	gone bool
	done chan []byte
}

func (o *oneDelivery) QueueHead(context.Context, string) (*store.Delivery, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.gone {
		return nil, nil
	}
	d := o.d
	return &d, nil
}

func (o *oneDelivery) RecordAttempt(_ context.Context, _ store.DeliveryKey, a store.Attempt) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.d.Attempts++
	o.d.LastError, o.d.NextAttemptAt = a.Err, a.NextAttemptAt
	return nil
}

func (o *oneDelivery) MarkDelivered(_ context.Context, _ store.DeliveryKey, receipt []byte, _ time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.gone = true
	o.done <- receipt
	return nil
}

func (o *oneDelivery) MarkDead(context.Context, store.DeliveryKey, string, time.Time) error {
	panic("the test delivery went dead: " + o.d.LastError)
}

func (o *oneDelivery) PendingPeers(context.Context) ([]string, error) {
	return []string{tjNodeID}, nil
}
