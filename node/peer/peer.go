package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/protocol"
)

// PathMessages is the peer API endpoint a message is submitted to (SPEC §8.1).
const PathMessages = "/v1/messages"

// Defaults of Config.
const (
	DefaultTimeout             = 30 * time.Second
	DefaultMaxIdleConnsPerHost = 4
	DefaultIdleConnTimeout     = 90 * time.Second
)

// Errors of Send that are not the peer's answer. All are retryable.
var (
	// ErrNoPin: the registry has no TLS key pin for the node (not
	// registered, or not yet replicated here). Nothing was sent.
	ErrNoPin = errors.New("peer: no TLS key pinned for the node")
	// ErrResponseTooLarge: the answer is over Config.MaxResponseBytes.
	ErrResponseTooLarge = errors.New("peer: answer too large")
)

// Config configures a Client.
type Config struct {
	// Certificate is this node's TLS certificate and private key, presented
	// to peers (its SPKI pin is registered for this node). Required.
	Certificate tls.Certificate
	// PinFor returns the registered SPKI pin of a node — lower-case hex
	// SHA-256 of its TLS key's DER SubjectPublicKeyInfo — from the
	// registry's current trust view. It is called on every Send and every
	// handshake, must not block, and must be safe for concurrent use.
	// Required.
	PinFor func(nodeID string) (spkiPin string, ok bool)
	// Timeout bounds one Send: connection, request and answer. Default 30 s.
	Timeout time.Duration
	// MaxResponseBytes bounds an answer body; default
	// protocol.MaxMessageBytes (a receipt is a message).
	MaxResponseBytes int64
	// MaxIdleConnsPerHost keeps that many idle connections per node;
	// default 4.
	MaxIdleConnsPerHost int
	// IdleConnTimeout closes idle connections after it; default 90 s.
	IdleConnTimeout time.Duration
	// Logger receives the client's warnings; nil discards.
	Logger *slog.Logger
	// Now is this node's clock; nil is time.Now.
	Now func() time.Time
	// ObserveDate, if set, is called with every answer that has a Date
	// header: this node's time halfway through the request, and the
	// peer's (the Date, whose one-second resolution truncates, plus half
	// a second) — the samples of node/internal/clockskew.
	ObserveDate func(nodeID string, local, peer time.Time)
}

// NodeAddr is a peer node as the registry knows it.
type NodeAddr struct {
	ID  string // node id, e.g. TJ-MOJ-CRVS
	URL string // base URL of its peer API, https://host[:port]
}

// Client sends messages to peer nodes. Safe for concurrent use.
type Client struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	nodes map[string]*nodeClient // by node id
}

// nodeClient is the connection pool to one node under one pin and URL.
type nodeClient struct {
	url, pin string
	endpoint string
	tr       *http.Transport
	rc       *resty.Client
}

// New returns a Client.
func New(cfg Config) (*Client, error) {
	if len(cfg.Certificate.Certificate) == 0 || cfg.Certificate.PrivateKey == nil {
		return nil, errors.New("peer: a TLS client certificate and key are required")
	}
	if cfg.PinFor == nil {
		return nil, errors.New("peer: PinFor is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = protocol.MaxMessageBytes
	}
	if cfg.MaxIdleConnsPerHost <= 0 {
		cfg.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if cfg.IdleConnTimeout <= 0 {
		cfg.IdleConnTimeout = DefaultIdleConnTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Client{cfg: cfg, log: cfg.Logger, nodes: map[string]*nodeClient{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Close closes the idle connections of every node. In-flight Sends finish.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, n := range c.nodes {
		n.tr.CloseIdleConnections()
		delete(c.nodes, id)
	}
}

// Send submits a compact JWS to node's POST /v1/messages and returns the
// body of a 200 application/jose answer — the receipt, which the caller
// must check (SPEC §8.3) before taking the message as delivered. Any other
// answer is a *protocol.ProblemError; a failure to connect, a timeout, a pin that does
// not match (pintls.ErrPinMismatch) or is missing (ErrNoPin), or an oversized
// answer (ErrResponseTooLarge) is another error, retryable. Send does not
// retry.
func (c *Client) Send(ctx context.Context, node NodeAddr, jws []byte) ([]byte, error) {
	nc, err := c.node(node)
	if err != nil {
		return nil, err
	}
	sent := c.cfg.Now()
	resp, err := nc.rc.R().
		SetContext(ctx).
		SetDoNotParseResponse(true).
		SetHeader("Content-Type", protocol.MediaTypeJOSE).
		SetHeader("Accept", protocol.MediaTypeJOSE+", "+protocol.ProblemContentType).
		SetBody(jws).
		Post(nc.endpoint)
	if err != nil {
		if resp != nil && resp.RawBody() != nil {
			resp.RawBody().Close()
		}
		return nil, fmt.Errorf("peer: send to %s: %w", node.ID, err)
	}
	raw := resp.RawResponse
	defer raw.Body.Close()
	if c.cfg.ObserveDate != nil {
		if date, err := http.ParseTime(raw.Header.Get("Date")); err == nil {
			c.cfg.ObserveDate(node.ID, sent.Add(c.cfg.Now().Sub(sent)/2), date.Add(500*time.Millisecond))
		}
	}
	body, err := c.read(raw)
	if err != nil {
		return nil, fmt.Errorf("peer: answer of %s: %w", node.ID, err)
	}
	return answer(node.ID, raw.StatusCode, raw.Header.Get("Content-Type"), body)
}

// read reads a bounded answer body: a declared length over the limit is
// refused before reading.
func (c *Client) read(resp *http.Response) ([]byte, error) {
	limit := c.cfg.MaxResponseBytes
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d exceeds %d", ErrResponseTooLarge, resp.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, limit)
	}
	return body, nil
}

// answer classifies a peer's answer (SPEC §8.1, node/exchange DESIGN §5).
func answer(node string, status int, contentType string, body []byte) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if status == http.StatusOK && mt == protocol.MediaTypeJOSE {
		return body, nil
	}
	pe := protocol.DecodeProblem(node, status, contentType, body)
	if pe.Problem.Code == "" && status == http.StatusOK {
		pe.Problem.Detail = fmt.Sprintf("a 200 answer of type %q is not a receipt", mt)
	}
	return nil, pe
}

// node returns the connection pool for node under its current pin and
// URL, replacing a pool made for another pin or URL.
func (c *Client) node(node NodeAddr) (*nodeClient, error) {
	pin, ok := c.cfg.PinFor(node.ID)
	if !ok {
		return nil, fmt.Errorf("%w %s", ErrNoPin, node.ID)
	}
	pin = strings.ToLower(pin)
	c.mu.Lock()
	defer c.mu.Unlock()
	if nc, ok := c.nodes[node.ID]; ok {
		if nc.pin == pin && nc.url == node.URL {
			return nc, nil
		}
		nc.tr.CloseIdleConnections()
		delete(c.nodes, node.ID)
	}
	u, err := url.Parse(node.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("peer: node %s URL %q: want https://host[:port][/path]", node.ID, node.URL)
	}
	nc := &nodeClient{url: node.URL, pin: pin, endpoint: strings.TrimSuffix(u.String(), "/") + PathMessages}
	nc.tr = c.transport(node.ID, pin)
	nc.rc = resty.NewWithClient(&http.Client{Transport: nc.tr}).
		SetTimeout(c.cfg.Timeout).
		SetRetryCount(0). // the delivery worker owns retries
		SetRedirectPolicy(resty.NoRedirectPolicy()).
		SetLogger(slogAdapter{c.log.With(slog.String("peer", node.ID))}).
		SetHeader("User-Agent", "crvsx-peer/1")
	c.nodes[node.ID] = nc
	return nc, nil
}

// transport is the tuned keep-alive transport to one node, whose TLS
// configuration accepts the node's key by pin only.
func (c *Client) transport(nodeID, pin string) *http.Transport {
	// The pin this pool was made for, and still the registry's.
	tlsConf := pintls.ClientConfig(&c.cfg.Certificate, func(got string) error {
		if now, ok := c.cfg.PinFor(nodeID); !ok || got != pin || got != strings.ToLower(now) {
			return fmt.Errorf("%w: %s presented key %s", pintls.ErrPinMismatch, nodeID, got)
		}
		return nil
	})
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        tlsConf,
		TLSHandshakeTimeout:    10 * time.Second,
		MaxIdleConns:           c.cfg.MaxIdleConnsPerHost,
		MaxIdleConnsPerHost:    c.cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:        c.cfg.IdleConnTimeout,
		ResponseHeaderTimeout:  c.cfg.Timeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		// Receipts are small; the exact bytes matter and a compressed
		// answer could inflate past any limit.
		DisableCompression: true,
	}
}

// slogAdapter is resty's Logger on slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Errorf(format string, v ...any) { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)  { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
