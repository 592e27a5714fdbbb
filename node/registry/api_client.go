package registry

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/trust"
)

// Clients of the registry API: APIClient for operators (the crvsx registry
// commands), HTTPForwarder for a follower's writes to the leader over the
// pinned mTLS API (the shell's Forwarder), and the TLS configurations of
// both ends.

const (
	// maxAnswerBytes bounds an answer that is not a problem (a trust
	// bundle is the largest).
	maxAnswerBytes = trust.MaxBundleBytes
)

// classified is a registry API problem as a client sees it: the one
// decoded *protocol.ProblemError, plus the class the error had on the
// server — a *trust.RejectedError for a registry reason (trust.ReasonOf
// works), the shell's errors for unavailability — so that a forwarded
// error keeps its class (errors.Is(err, ErrNotLeader) on the follower).
type classified struct {
	*protocol.ProblemError
	classes []error
}

// Unwrap gives the problem and its classes.
func (e *classified) Unwrap() []error { return append([]error{e.ProblemError}, e.classes...) }

func classify(pe *protocol.ProblemError) error {
	p := pe.Problem
	var out []error
	if p.Reason != "" {
		out = append(out, &trust.RejectedError{Reason: trust.Reason(p.Reason), Detail: p.Detail})
	}
	switch p.Cause {
	case causeNotLeader:
		out = append(out, ErrNotLeader)
	case causeNoLeader:
		out = append(out, ErrNoLeader)
	case causeTimeout:
		out = append(out, ErrTimeout)
	case causeClockBehind:
		out = append(out, ErrLeaderClockBehind)
	default:
		switch {
		case p.Code == protocol.CodeRegistryStale:
			out = append(out, ErrStale)
		case p.Code == protocol.CodeUnavailable, p.Code == "" && pe.Status == http.StatusServiceUnavailable:
			out = append(out, ErrUnavailable)
		}
	}
	return &classified{ProblemError: pe, classes: out}
}

// ProblemResult returns the Result a registry API problem carries (a
// refused command's "result" member).
func ProblemResult(err error) (APIResult, bool) {
	var pe *protocol.ProblemError
	var r APIResult
	if !errors.As(err, &pe) || len(pe.Problem.Result) == 0 || json.Unmarshal(pe.Problem.Result, &r) != nil {
		return APIResult{}, false
	}
	return r, true
}

// problemLeader returns the leader's API URL a problem names, or "".
func problemLeader(pe *protocol.ProblemError) string {
	var l APILeader
	if len(pe.Problem.Leader) == 0 || json.Unmarshal(pe.Problem.Leader, &l) != nil {
		return ""
	}
	return l.APIURL
}

// decodeAPIResponse decodes a 2xx answer into out (if not nil), or returns
// the problem (a *protocol.ProblemError, classified) together with the
// leader's API URL when the server named one.
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
	b, _ := io.ReadAll(io.LimitReader(resp.Body, protocol.MaxProblemBytes))
	pe := protocol.DecodeProblem(resp.Request.URL.Host, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	return problemLeader(pe), classify(pe)
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
	return func(n trust.Node) error {
		u, err := url.Parse(n.APIURL)
		if err != nil || hostPort(u) != strings.ToLower(addr) {
			return trust.Rejectf(trust.ReasonNodePinMismatch, "the API at %s presented the key of node %s, whose API is %s", addr, n.ID, n.APIURL)
		}
		return nil
	}
}

// expectNode requires the peer to be node id, at its registered API.
func expectNode(id, addr string) PeerCheck {
	atAddr := expectAPIAddr(addr)
	return func(n trust.Node) error {
		if n.ID != id {
			return trust.Rejectf(trust.ReasonNodePinMismatch, "the API at %s presented the key of node %s, not of %s", addr, n.ID, id)
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
	conf := pintls.MutualConfig(cert, pintls.ALPNHTTP1, func(cs tls.ConnectionState) error {
		if _, err := verifyPeer(view, cs, expect); err != nil {
			return &pintls.RefusedError{Addr: addr, Err: err}
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
func (f *HTTPForwarder) Forward(ctx context.Context, leader Leader, data []byte) (trust.Result, error) {
	base, hc, err := f.leaderClient(leader)
	if err != nil {
		return trust.Result{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+PathCommands, bytes.NewReader(data))
	if err != nil {
		return trust.Result{}, err
	}
	req.Header.Set("Content-Type", MediaJOSE)
	req.Header.Set(HeaderForwardedBy, f.NodeID)
	resp, err := hc.Do(req)
	if errors.Is(err, pintls.ErrPinMismatch) {
		// Refused in the handshake: nothing was sent.
		return trust.Result{}, fmt.Errorf("forward to leader %s: %w: %w", leader.ID, err, ErrUnavailable)
	}
	if err != nil {
		// Sent or not, the outcome is unknown.
		return trust.Result{}, fmt.Errorf("forward to leader %s: %w: %w", leader.ID, err, ErrTimeout)
	}
	defer resp.Body.Close()
	var out APIResult
	_, err = decodeAPIResponse(resp, &out)
	if res, ok := ProblemResult(err); ok {
		return res.ToResult(), nil
	}
	if err != nil {
		return trust.Result{}, err
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
	base  string
	hc    *http.Client
	token string
}

// SetToken makes the client present an operator's bearer token: what a
// node's admin listener (http://, on the node's host) requires for the
// registry API it serves there.
func (c *APIClient) SetToken(token string) { c.token = token }

// do sends req with the client's token, if any.
func (c *APIClient) do(req *http.Request) (*http.Response, error) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return c.hc.Do(req)
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
		if !protocol.IsSHA256Hex(pin) {
			return nil, fmt.Errorf("registry: an https node is authenticated by the pin of its TLS key (64 hex digits; \"crvsx registry node-key pin\", or the node's tlsSpkiSha256)")
		}
		tr.TLSClientConfig = pintls.ClientConfig(nil, pintls.ExpectPin(pin))
	}
	return &APIClient{base: strings.TrimSuffix(u.String(), "/"), hc: &http.Client{Transport: tr, Timeout: timeout}}, nil
}

func (c *APIClient) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
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
func (c *APIClient) Key(ctx context.Context, kid string) (trust.Key, error) {
	var out APIKeys
	err := c.get(ctx, PathKeys+"/"+url.PathEscape(kid), &out)
	return one(err, "key", kid, out.Keys)
}

// one is the single object of a GET of one object.
func one[T any](err error, what, id string, got []T) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	if len(got) != 1 {
		return zero, fmt.Errorf("registry API: %s %s: %d in the answer", what, id, len(got))
	}
	return got[0], nil
}

// Requesters is GET /v1/registry/requesters.
func (c *APIClient) Requesters(ctx context.Context) (APIRequesters, error) {
	var out APIRequesters
	return out, c.get(ctx, PathRequesters, &out)
}

// Requester is GET /v1/registry/requesters/{id}.
func (c *APIClient) Requester(ctx context.Context, id string) (trust.RequesterRecord, error) {
	var out APIRequesters
	err := c.get(ctx, PathRequesters+"/"+url.PathEscape(id), &out)
	return one(err, "requester", id, out.Requesters)
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
func (c *APIClient) Proposal(ctx context.Context, id string) (APIProposal, trust.Timestamp, error) {
	var out APIProposals
	err := c.get(ctx, PathProposals+"/"+url.PathEscape(id), &out)
	p, err := one(err, "proposal", id, out.Proposals)
	return p, out.ConsensusTime, err
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
// is a *protocol.ProblemError whose Problem carries the Reason and the
// Result (ProblemResult).
func (c *APIClient) Submit(ctx context.Context, data []byte) (APIResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+PathCommands, bytes.NewReader(data))
	if err != nil {
		return APIResult{}, err
	}
	req.Header.Set("Content-Type", MediaJOSE)
	resp, err := c.do(req)
	if err != nil {
		return APIResult{}, err
	}
	defer resp.Body.Close()
	var out APIResult
	_, err = decodeAPIResponse(resp, &out)
	return out, err
}
