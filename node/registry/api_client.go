package registry

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ecrn/crvsx/protocol"
)

// Clients of the registry API: APIClient for operators (the crvsx registry
// commands), HTTPForwarder for a follower's writes to the leader over the
// pinned mTLS API (the shell's Forwarder), and the TLS configurations of
// both ends.

const (
	alpnHTTP1 = "http/1.1"
	// maxProblemBytes bounds a problem document read from a server;
	// maxAnswerBytes any other answer (a trust bundle is the largest).
	maxProblemBytes = 64 << 10
	maxAnswerBytes  = MaxBundleBytes
)

// APIServerTLSConfig is the TLS configuration of a node's registry API
// listener: TLS 1.3 with the node's TLS key; a client key is requested but
// not required (operators have none), and never checked by the handshake:
// the peer endpoints (join, read index) check it against the registry
// themselves, so that a wrong key is answered with its reason.
func APIServerTLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{cert},
		ClientAuth:             tls.RequestClientCert,
		SessionTicketsDisabled: true,
		NextProtos:             []string{alpnHTTP1},
	}
}

// APIError is a problem document answered by a registry API.
type APIError struct {
	Status  int
	Problem APIProblem
}

func (e *APIError) Error() string {
	p := e.Problem
	s := "registry API: " + string(p.Code)
	if p.Reason != "" {
		s += " (" + string(p.Reason) + ")"
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// Unwrap gives the error its class: a *RejectedError for a registry
// reason (ReasonOf works), the shell's errors for unavailability, so that
// a forwarded error keeps the class it had on the leader.
func (e *APIError) Unwrap() []error {
	var out []error
	if e.Problem.Reason != "" {
		out = append(out, &RejectedError{Reason: e.Problem.Reason, Detail: e.Problem.Detail})
	}
	switch e.Problem.Cause {
	case causeNotLeader:
		out = append(out, ErrNotLeader)
	case causeNoLeader:
		out = append(out, ErrNoLeader)
	case causeTimeout:
		out = append(out, ErrTimeout)
	case causeClockBehind:
		out = append(out, ErrLeaderClockBehind)
	default:
		switch e.Problem.Code {
		case protocol.CodeRegistryStale:
			out = append(out, ErrStale)
		case protocol.CodeUnavailable:
			out = append(out, ErrUnavailable)
		}
	}
	return out
}

// The "cause" member of an UNAVAILABLE problem: which shell error it was.
const (
	causeNotLeader   = "not-leader"
	causeNoLeader    = "no-leader"
	causeTimeout     = "timeout"
	causeClockBehind = "leader-clock-behind"
)

func causeOf(err error) string {
	switch {
	case errors.Is(err, ErrNotLeader):
		return causeNotLeader
	case errors.Is(err, ErrNoLeader):
		return causeNoLeader
	case errors.Is(err, ErrTimeout):
		return causeTimeout
	case errors.Is(err, ErrLeaderClockBehind):
		return causeClockBehind
	}
	return ""
}

// decodeAPIResponse decodes a 2xx answer into out (if not nil), or returns
// the problem as an *APIError together with the leader's API URL when the
// server named one.
func decodeAPIResponse(resp *http.Response, out any) (string, error) {
	if resp.StatusCode/100 == 2 {
		if out == nil {
			return "", nil
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
		if err != nil {
			return "", fmt.Errorf("registry API: read answer: %w", err)
		}
		if len(b) > maxAnswerBytes {
			return "", fmt.Errorf("registry API: answer larger than %d bytes", maxAnswerBytes)
		}
		if p, ok := out.(*[]byte); ok {
			*p = b
			return "", nil
		}
		if err := json.Unmarshal(b, out); err != nil {
			return "", fmt.Errorf("registry API: answer: %w", err)
		}
		return "", nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxProblemBytes))
	e := &APIError{Status: resp.StatusCode}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != protocol.ProblemContentType || json.Unmarshal(b, &e.Problem) != nil {
		e.Problem.Status = resp.StatusCode
		e.Problem.Code = protocol.CodeInternal
		e.Problem.Detail = fmt.Sprintf("HTTP %d without a problem document: %.200q", resp.StatusCode, b)
		if resp.StatusCode == http.StatusServiceUnavailable {
			e.Problem.Code = protocol.CodeUnavailable
		}
	}
	leader := ""
	if e.Problem.Leader != nil {
		leader = e.Problem.Leader.APIURL
	}
	return leader, e
}

// hostPort returns u's host:port, with 443 for https and 80 for http by
// default.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// expectAPIAddr requires the peer to be the node whose apiUrl is at addr.
func expectAPIAddr(addr string) PeerCheck {
	return func(n Node) error {
		u, err := url.Parse(n.APIURL)
		if err != nil || hostPort(u) != strings.ToLower(addr) {
			return reject(ReasonNodePinMismatch, "the API at %s presented the key of node %s, whose API is %s", addr, n.ID, n.APIURL)
		}
		return nil
	}
}

// expectNode requires the peer to be node id, at its registered API.
func expectNode(id, addr string) PeerCheck {
	atAddr := expectAPIAddr(addr)
	return func(n Node) error {
		if n.ID != id {
			return reject(ReasonNodePinMismatch, "the API at %s presented the key of node %s, not of %s", addr, n.ID, id)
		}
		return atAddr(n)
	}
}

// dialPeerAPI opens a pinned mutual-TLS connection to a node's API at addr:
// the server's key must be pinned for the node whose apiUrl is addr.
func dialPeerAPI(ctx context.Context, cert tls.Certificate, view ViewFunc, addr string, timeout time.Duration) (*tls.Conn, error) {
	return dialPeerAPIExpect(ctx, cert, view, addr, timeout, expectAPIAddr(addr))
}

// dialPeerAPIExpect is dialPeerAPI with the check of who the peer must be.
func dialPeerAPIExpect(ctx context.Context, cert tls.Certificate, view ViewFunc, addr string, timeout time.Duration, expect PeerCheck) (*tls.Conn, error) {
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conf := peerTLSConfig(cert, alpnHTTP1, func(cs tls.ConnectionState) error {
		if _, err := verifyPeer(view, cs, expect); err != nil {
			return &PeerError{Addr: addr, Err: err}
		}
		return nil
	})
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: conf}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return c.(*tls.Conn), nil
}

// HTTPForwarder is the shell's Forwarder over the pinned mTLS registry
// API: a follower posts the entry to the leader's apiUrl (as registered)
// with its node key. Safe for concurrent use.
type HTTPForwarder struct {
	NodeID      string
	Certificate tls.Certificate
	View        ViewFunc
	// Timeout bounds each TLS handshake; 0 means 10 s. Requests are
	// bounded by their ctx.
	Timeout time.Duration

	mu      sync.Mutex
	clients map[string]*http.Client // node id + pin + apiUrl → client
}

var _ Forwarder = (*HTTPForwarder)(nil)

// maxForwarderClients bounds the per-leader clients kept (one per node that
// was leader, with its key and URL; a new registration makes a new one).
const maxForwarderClients = 64

// leaderClient returns the leader's API URL and a client whose connections
// are to that node only: the key the server presents must be the one
// pinned for the leader's node id, at its registered API address.
func (f *HTTPForwarder) leaderClient(leader Leader) (string, *http.Client, error) {
	v := f.View()
	if v == nil {
		return "", nil, ErrNoLeader
	}
	n, ok := v.Node(leader.ID)
	if !ok {
		return "", nil, fmt.Errorf("leader %s is not a registered node: %w", leader.ID, ErrNoLeader)
	}
	key := n.ID + "|" + n.TLSSPKISHA256 + "|" + n.APIURL
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.clients[key]; ok {
		return strings.TrimSuffix(n.APIURL, "/"), c, nil
	}
	if f.clients == nil || len(f.clients) >= maxForwarderClients {
		for _, c := range f.clients {
			c.CloseIdleConnections()
		}
		f.clients = map[string]*http.Client{}
	}
	id := n.ID
	c := &http.Client{Transport: &http.Transport{
		DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialPeerAPIExpect(ctx, f.Certificate, f.View, addr, f.Timeout, expectNode(id, addr))
		},
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
	}}
	f.clients[key] = c
	return strings.TrimSuffix(n.APIURL, "/"), c, nil
}

// Forward posts data to the leader. A command the leader rejected is a
// Result (outcome rejected), not an error: it was applied and recorded.
func (f *HTTPForwarder) Forward(ctx context.Context, leader Leader, data []byte) (Result, error) {
	base, hc, err := f.leaderClient(leader)
	if err != nil {
		return Result{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+PathCommands, bytes.NewReader(data))
	if err != nil {
		return Result{}, err
	}
	req.Header.Set("Content-Type", MediaJOSE)
	req.Header.Set(HeaderForwardedBy, f.NodeID)
	resp, err := hc.Do(req)
	if errors.Is(err, ErrPeerRefused) {
		// Refused in the handshake: nothing was sent.
		return Result{}, fmt.Errorf("forward to leader %s: %w: %w", leader.ID, err, ErrUnavailable)
	}
	if err != nil {
		// Sent or not, the outcome is unknown.
		return Result{}, fmt.Errorf("forward to leader %s: %w: %w", leader.ID, err, ErrTimeout)
	}
	defer resp.Body.Close()
	var out APIResult
	_, err = decodeAPIResponse(resp, &out)
	var ae *APIError
	if errors.As(err, &ae) && ae.Problem.Result != nil {
		return ae.Problem.Result.ToResult(), nil
	}
	if err != nil {
		return Result{}, err
	}
	return out.ToResult(), nil
}

// ReadIndex asks the leader for its commit index.
func (f *HTTPForwarder) ReadIndex(ctx context.Context, leader Leader) (uint64, error) {
	base, hc, err := f.leaderClient(leader)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+PathReadIndex, nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read index from leader %s: %w: %w", leader.ID, err, ErrUnavailable)
	}
	defer resp.Body.Close()
	var out APIReadIndex
	if _, err := decodeAPIResponse(resp, &out); err != nil {
		return 0, err
	}
	return out.Index, nil
}

// APIClient is an operator's client of a node's registry API. Safe for
// concurrent use.
type APIClient struct {
	base string
	hc   *http.Client
}

// NewAPIClient returns a client of the node at baseURL. An https node is
// authenticated by pin, the SPKI SHA-256 of its TLS key as registered (no
// CA is involved); http is for an admin listener on the node's own host.
func NewAPIClient(baseURL, pin string, timeout time.Duration) (*APIClient, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || u.RawQuery != "" {
		return nil, fmt.Errorf("registry: node URL %q: want https://host[:port] (or http:// for a local admin listener)", baseURL)
	}
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 10 * time.Second}
	if u.Scheme == "https" {
		pin = strings.ToLower(pin)
		if !isHex64(pin) {
			return nil, fmt.Errorf("registry: an https node is authenticated by the pin of its TLS key (64 hex digits; \"crvsx registry node-key pin\", or the node's tlsSpkiSha256)")
		}
		tr.TLSClientConfig = &tls.Config{
			MinVersion:         tls.VersionTLS13,
			InsecureSkipVerify: true, // no CA: the pin is checked below
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("the node presented no certificate")
				}
				if got := SPKIPin(cs.PeerCertificates[0].RawSubjectPublicKeyInfo); got != pin {
					return fmt.Errorf("%w: the node's TLS key %s is not the pinned %s", ErrPeerRefused, got, pin)
				}
				return nil
			},
		}
	}
	return &APIClient{base: strings.TrimSuffix(u.String(), "/"), hc: &http.Client{Transport: tr, Timeout: timeout}}, nil
}

func (c *APIClient) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = decodeAPIResponse(resp, out)
	return err
}

// Status is GET /v1/registry/status.
func (c *APIClient) Status(ctx context.Context) (APIStatus, error) {
	var out APIStatus
	return out, c.get(ctx, PathStatus, &out)
}

// Members is GET /v1/registry/members.
func (c *APIClient) Members(ctx context.Context) (APIMembers, error) {
	var out APIMembers
	return out, c.get(ctx, PathMembers, &out)
}

// Keys is GET /v1/registry/keys with optional filters (member, role,
// status).
func (c *APIClient) Keys(ctx context.Context, filter url.Values) (APIKeys, error) {
	var out APIKeys
	path := PathKeys
	if len(filter) > 0 {
		path += "?" + filter.Encode()
	}
	return out, c.get(ctx, path, &out)
}

// Key is GET /v1/registry/keys/{kid}.
func (c *APIClient) Key(ctx context.Context, kid string) (Key, error) {
	var out APIKeys
	if err := c.get(ctx, PathKeys+"/"+url.PathEscape(kid), &out); err != nil {
		return Key{}, err
	}
	if len(out.Keys) != 1 {
		return Key{}, fmt.Errorf("registry API: key %s: %d keys in the answer", kid, len(out.Keys))
	}
	return out.Keys[0], nil
}

// Nodes is GET /v1/registry/nodes.
func (c *APIClient) Nodes(ctx context.Context) (APINodes, error) {
	var out APINodes
	return out, c.get(ctx, PathNodes, &out)
}

// Proposals is GET /v1/registry/proposals.
func (c *APIClient) Proposals(ctx context.Context) (APIProposals, error) {
	var out APIProposals
	return out, c.get(ctx, PathProposals, &out)
}

// Proposal is GET /v1/registry/proposals/{id}.
func (c *APIClient) Proposal(ctx context.Context, id string) (APIProposal, Timestamp, error) {
	var out APIProposals
	if err := c.get(ctx, PathProposals+"/"+url.PathEscape(id), &out); err != nil {
		return APIProposal{}, 0, err
	}
	if len(out.Proposals) != 1 {
		return APIProposal{}, 0, fmt.Errorf("registry API: proposal %s: %d proposals in the answer", id, len(out.Proposals))
	}
	return out.Proposals[0], out.ConsensusTime, nil
}

// Policy is GET /v1/registry/policy.
func (c *APIClient) Policy(ctx context.Context) (APIPolicy, error) {
	var out APIPolicy
	return out, c.get(ctx, PathPolicy, &out)
}

// Bundle is GET /v1/registry/bundle: the trust bundle's bytes.
func (c *APIClient) Bundle(ctx context.Context) ([]byte, error) {
	var out []byte
	return out, c.get(ctx, PathBundle, &out)
}

// Submit posts entry data (POST /v1/registry/commands). A rejected command
// is an *APIError whose Problem carries the Reason and the Result.
func (c *APIClient) Submit(ctx context.Context, data []byte) (APIResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+PathCommands, bytes.NewReader(data))
	if err != nil {
		return APIResult{}, err
	}
	req.Header.Set("Content-Type", MediaJOSE)
	resp, err := c.hc.Do(req)
	if err != nil {
		return APIResult{}, err
	}
	defer resp.Body.Close()
	var out APIResult
	_, err = decodeAPIResponse(resp, &out)
	return out, err
}
