package node_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/devnet"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/protocol"
)

// FuzzRoutes is the SPEC §7 rule from outside, over every route of the
// peer, local, admin and health listeners of a running node: whatever the
// method, path, path parameters, query, headers and body — framed with a
// Content-Length, valid chunks, a malformed chunk-size line or a bad
// trailer — the node never panics, never answers 5xx (no fault is
// injected here), answers every error of its own handlers with a problem
// document, and logs nothing at ERROR because of it (a handler's panic is
// an ERROR line too). Answers that net/http itself gives to unparseable
// requests (no Crvs-Request-Id, a plain-text 4xx) are allowed; they never
// reach a handler. /readyz answers 503 with its report while the node is
// not ready; the target is ready before the first input.
//
// Its seeds run with go test; CI fuzzes it for a short while
// (go test -fuzz=FuzzRoutes -fuzztime=…); new findings go to
// testdata/fuzz/FuzzRoutes.
func FuzzRoutes(f *testing.F) {
	hostile := strings.Repeat("A", 4096)
	type seed struct {
		listener    byte
		method, uri string
		headers     string
		body        []byte
		framing     byte
		auth        bool
	}
	seeds := []seed{
		{0, "POST", "/v1/messages", "Content-Type: application/jose", []byte("a.b.c"), 0, true},
		{0, "POST", "/v1/messages", "Content-Type: application/jose", []byte("a.b.c"), 2, true},
		{0, "POST", "/v1/messages", "Content-Type: application/jose", []byte("a.b.c"), 3, true},
		{0, "POST", "/v1/messages", "Content-Type: application/jose", []byte("a.b.c"), 0, false},
		{0, "POST", "/v1/registry/join/challenge", "Content-Type: application/json", []byte(`{"node":"TJ-X"}`), 0, false},
		{0, "POST", "/v1/registry/join", "Content-Type: application/json", []byte(`{"node":"TJ-X","challenge":"AA","signature":"AA"}`), 1, false},
		{0, "POST", "/v1/registry/commands", "Content-Type: application/jose", []byte("x.y.z\nx.y.z"), 0, true},
		{0, "POST", "/v1/registry/read-index", "", nil, 0, false},
		{0, "GET", "/v1/registry/members/%00", "", nil, 0, true},
		{0, "GET", "/v1/registry/proposals/" + hostile, "", nil, 0, true},
		{0, "GET", "/v1/registry/keys?member=%0d%0a&role=x", "", nil, 0, true},
		{0, "GET", "/v1/registry/bundle", "", nil, 0, true},
		{1, "POST", "/v1/outbox", "Content-Type: application/json", []byte(`{"message":{"messageType":"event.live-birth"}}`), 0, true},
		{1, "POST", "/v1/outbox", "Content-Type: application/json", []byte(`{"message":{}}`), 2, true},
		{1, "GET", "/v1/outbox/%00", "", nil, 0, true},
		{1, "GET", "/v1/outbox/" + hostile, "", nil, 0, true},
		{1, "GET", "/v1/outbox/a%0d%0ab", "", nil, 0, true},
		{1, "GET", "/v1/inbox?after=18446744073709551615", "", nil, 0, true},
		{1, "GET", "/v1/inbox?after=-1&limit=0", "", nil, 0, true},
		{1, "POST", "/v1/inbox/ack", "Content-Type: application/json", []byte(`{"upTo":18446744073709551615}`), 0, true},
		{1, "POST", "/v1/inbox/ack", "Content-Type: application/json", []byte(`{"upTo":1}`), 3, true},
		{1, "GET", "/v1/inbox", "Authorization: Bearer nope", nil, 0, false},
		{2, "GET", "/v1/admin/audit", "", nil, 0, true},
		{2, "GET", "/v1/admin/backup", "", nil, 0, false},
		{2, "GET", "/v1/registry/status", "", nil, 0, true},
		{2, "POST", "/v1/registry/join", "Content-Type: application/json", []byte("{}"), 2, true},
		{3, "GET", "/livez", "", nil, 0, false},
		{3, "GET", "/readyz", "", nil, 0, false},
		{3, "GET", "/metrics", "", nil, 0, false},
		{3, "POST", "/livez", "", []byte("x"), 2, false},
		{3, "DELETE", "/nope?%zz", "X-Forwarded-For: 1.2.3.4", nil, 0, false},
		{1, "PUT", "/v1/outbox/x", "Expect: 100-continue", []byte("x"), 1, true},
	}
	for _, s := range seeds {
		f.Add(s.listener, s.method, s.uri, s.headers, s.body, s.framing, s.auth)
	}
	f.Fuzz(func(t *testing.T, listener byte, method, uri, headers string, body []byte, framing byte, auth bool) {
		env := routeEnv(t)
		before := env.errors()
		resp, err := env.send(listener%4, method, uri, headers, body, framing%4, auth)
		if err != nil {
			return // the connection was closed or the request could not be written: nothing to judge
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %q on %s: %d (a request must never cause a 5xx): %s", method, uri, listenerNames[listener%4], resp.StatusCode, resp.body)
		}
		// Every answer of the node's handlers carries a request id (server.Wrap
		// is on every listener); net/http's own answers to unparseable
		// requests do not, and never reach a handler.
		if resp.StatusCode >= 400 && resp.Header.Get("Crvs-Request-Id") != "" {
			pe := protocol.DecodeProblem("", resp.StatusCode, resp.Header.Get("Content-Type"), resp.body)
			if pe.Problem.Code == "" || pe.Problem.Status != resp.StatusCode {
				t.Fatalf("%s %q on %s: %d without a problem document: %s", method, uri, listenerNames[listener%4], resp.StatusCode, resp.body)
			}
		}
		if after := env.errors(); after != before {
			t.Fatalf("%s %q on %s: the request caused an ERROR log line:\n%s", method, uri, listenerNames[listener%4], env.lastError())
		}
	})
}

var listenerNames = []string{"peer", "local", "admin", "health"}

// routeTarget is one running node, shared by every fuzz input of a process.
type routeTarget struct {
	addrs    [4]string
	local    string // bearer tokens
	admin    string
	peerTLS  *tls.Config // TR's registered key, TJ's pin
	anonTLS  *tls.Config // no client key
	mu       sync.Mutex
	errCount int
	errLast  string
}

var (
	routeOnce sync.Once
	routeEnvV *routeTarget
	routeErr  error
)

func routeEnv(t *testing.T) *routeTarget {
	routeOnce.Do(func() {
		routeEnvV = &routeTarget{}
		routeErr = routeEnvV.start()
	})
	if routeErr != nil {
		t.Fatal(routeErr)
	}
	return routeEnvV
}

func (e *routeTarget) start() error {
	dir, err := os.MkdirTemp("", "crvsx-fuzzroutes-")
	if err != nil {
		return err
	}
	log := slog.New(&errorCounter{t: e, h: slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelWarn})})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := devnet.Open(dir, devnet.Options{Fast: true}, log)
	if err != nil {
		return err
	}
	if err := n.Start(ctx); err != nil {
		return err
	}
	tj, tr := n.Members["TJ"], n.Members["TR"]
	// A fresh replica: a stale one fails closed with 503 by design
	// (node/registry DESIGN.md §14), which is the node's state, not the
	// request's doing.
	for deadline := time.Now().Add(30 * time.Second); tj.Node().Registry().Fresh() != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("TJ's registry replica is not fresh after 30 s: %v", tj.Node().Registry().Fresh())
		}
	}
	c := tj.Config.Listen
	e.addrs = [4]string{c.Peer, c.Local, c.Admin, c.Health}
	e.local, e.admin = tj.Token, tj.AdminToken
	certPEM, err := os.ReadFile(tr.Config.Keys.TLSCert)
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(tr.Config.Keys.TLSKey)
	if err != nil {
		return err
	}
	trCert, err := pintls.Load(certPEM, keyPEM)
	if err != nil {
		return err
	}
	nd, ok := tj.Node().Registry().View().Node(tj.NodeID)
	if !ok {
		return fmt.Errorf("%s not registered", tj.NodeID)
	}
	e.peerTLS = pintls.ClientConfig(&trCert, pintls.ExpectPin(nd.TLSSPKISHA256))
	e.anonTLS = pintls.ClientConfig(nil, pintls.ExpectPin(nd.TLSSPKISHA256))
	// The network stays up for the life of the test process.
	return nil
}

func (e *routeTarget) errors() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.errCount
}

func (e *routeTarget) lastError() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.errLast
}

type answer struct {
	*http.Response
	body []byte
}

// send writes one request, framed as asked, on a new connection and reads
// the answer.
func (e *routeTarget) send(listener byte, method, uri, headers string, body []byte, framing byte, auth bool) (*answer, error) {
	if method == "" || strings.ContainsAny(method, " \r\n") || uri == "" || strings.ContainsAny(uri, " \r\n") {
		return nil, fmt.Errorf("not a request line")
	}
	raw, err := net.DialTimeout("tcp", e.addrs[listener], 5*time.Second)
	if err != nil {
		return nil, err
	}
	conn := raw
	if listener == 0 {
		cfg := e.anonTLS
		if auth {
			cfg = e.peerTLS
		}
		tc := tls.Client(raw, cfg)
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			raw.Close()
			return nil, err
		}
		conn = tc
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var req bytes.Buffer
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: node\r\nConnection: close\r\n", method, uri)
	if auth && (listener == 1 || listener == 2) {
		tok := e.local
		if listener == 2 {
			tok = e.admin
		}
		fmt.Fprintf(&req, "Authorization: Bearer %s\r\n", tok)
	}
	for _, h := range strings.Split(headers, "\n") {
		if h = strings.TrimRight(h, "\r"); h != "" {
			req.WriteString(h + "\r\n")
		}
	}
	switch framing {
	case 0: // Content-Length
		fmt.Fprintf(&req, "Content-Length: %d\r\n\r\n", len(body))
		req.Write(body)
	case 1: // valid chunks
		req.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		if len(body) > 0 {
			fmt.Fprintf(&req, "%x\r\n%s\r\n", len(body), body)
		}
		req.WriteString("0\r\n\r\n")
	case 2: // a malformed chunk-size line
		req.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		fmt.Fprintf(&req, "%xzz;\x00\r\n%s\r\n0\r\n\r\n", len(body)+1, body)
	case 3: // a bad trailer
		req.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		fmt.Fprintf(&req, "%x\r\n%s\r\n0\r\nBad Trailer\x01: x\r\n\r\n", len(body)+1, append(body, 'x'))
	}
	if _, err := conn.Write(req.Bytes()); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(http.MaxBytesReader(nil, resp.Body, 1<<20))
	return &answer{Response: resp, body: b.Bytes()}, nil
}

// errorCounter counts the ERROR records of the node's logs.
type errorCounter struct {
	t *routeTarget
	h slog.Handler
}

func (c *errorCounter) Enabled(ctx context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (c *errorCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		var b strings.Builder
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
		c.t.mu.Lock()
		c.t.errCount++
		c.t.errLast = b.String()
		c.t.mu.Unlock()
	}
	return nil
}
func (c *errorCounter) WithAttrs(as []slog.Attr) slog.Handler { return c }
func (c *errorCounter) WithGroup(string) slog.Handler         { return c }
