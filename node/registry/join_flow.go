package registry

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ecrn/crvsx/node/internal/httpio"
	"github.com/ecrn/crvsx/protocol/trust"
)

// Join (DESIGN.md §13): a registered node asks the leader for a challenge
// over mutual TLS, signs JoinTranscript(genesis, node, challenge, TLS
// exporter) with its TLS key and sends it back on the same TLS session; the
// leader checks it with trust.View.VerifyJoin and adds the node as a Raft
// non-voter. Every refusal names its reason and changes nothing.

// Join wire types.
type (
	// JoinChallengeRequest is the body of POST /v1/registry/join/challenge.
	JoinChallengeRequest struct {
		Node string `json:"node"`
	}
	// JoinChallenge is its answer.
	JoinChallenge struct {
		Node          string    `json:"node"`
		GenesisSHA256 string    `json:"genesisSha256"`
		Challenge     string    `json:"challenge"` // base64url, JoinChallengeBytes
		ExpiresAt     time.Time `json:"expiresAt"`
	}
	// JoinRequest is the body of POST /v1/registry/join.
	JoinRequest struct {
		Node      string `json:"node"`
		Challenge string `json:"challenge"` // base64url, as received
		Signature string `json:"signature"` // base64url, over JoinTranscript
	}
	// Joined is its answer: the node is a non-voter of the Raft
	// configuration (promotion to voter is a node.set-role command).
	Joined struct {
		Node        string `json:"node"`
		RaftAddress string `json:"raftAddress"`
		Suffrage    string `json:"suffrage"`
	}
)

const (
	joinChallengeTTL = time.Minute
	maxPendingJoins  = 256
)

type pendingJoin struct {
	node     string
	exporter []byte
	expires  time.Time
}

// joinService holds the open challenges of this node (single use, bound to
// the TLS session they were issued on, one minute).
type joinService struct {
	b       Backend
	clock   func() time.Time
	mu      sync.Mutex
	pending map[string]pendingJoin // base64url challenge → pending
}

func newJoinService(b Backend, clock func() time.Time) *joinService {
	return &joinService{b: b, clock: clock, pending: map[string]pendingJoin{}}
}

// joinPreconditions: DESIGN.md §14 fails joins closed past the staleness
// bound; joins are served by the leader (the client follows the leader
// member of the problem); the client must present a TLS key.
func (a *API) joinPreconditions(r *http.Request) ([]byte, error) {
	if err := a.cfg.Backend.Fresh(); err != nil {
		return nil, err
	}
	if st := a.cfg.Backend.Status(); st.Role != RaftLeader {
		return nil, ErrNotLeader
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, trust.Rejectf(trust.ReasonNodePinMismatch, "a join needs mutual TLS with the node's registered TLS key")
	}
	return r.TLS.PeerCertificates[0].RawSubjectPublicKeyInfo, nil
}

func exporterOf(cs *tls.ConnectionState) ([]byte, error) {
	return cs.ExportKeyingMaterial(trust.JoinExporterLabel, nil, trust.JoinExporterBytes)
}

func decodeJSONBody(w http.ResponseWriter, r *http.Request, v any) error {
	if err := httpio.CheckContentType(r, MediaJSON); err != nil {
		return err
	}
	b, err := httpio.ReadBody(w, r, maxJoinBody)
	if err != nil {
		return err
	}
	if err := trust.DecodeStrict(b, v); err != nil {
		return trust.Rejectf(trust.ReasonJoinChallenge, "request body: %v", err)
	}
	return nil
}

func (a *API) postJoinChallenge(w http.ResponseWriter, r *http.Request) {
	spki, err := a.joinPreconditions(r)
	if err != nil {
		a.problem(w, r, err, a.withLeader)
		return
	}
	var req JoinChallengeRequest
	if err := decodeJSONBody(w, r, &req); err != nil {
		a.problem(w, r, err, nil)
		return
	}
	v := a.cfg.Backend.View()
	// > DESIGN.md §13: node registered, member active, presented key = pin;
	// > checked before a challenge is issued so that a wrong key is told
	// > at once.
	if err := v.CheckPeer(req.Node, spki); err != nil {
		a.problem(w, r, err, nil)
		return
	}
	exp, err := exporterOf(r.TLS)
	if err != nil {
		a.problem(w, r, err, nil)
		return
	}
	ch := make([]byte, trust.JoinChallengeBytes)
	if _, err := rand.Read(ch); err != nil {
		a.problem(w, r, err, nil)
		return
	}
	now := a.cfg.Clock()
	key := base64.RawURLEncoding.EncodeToString(ch)
	j := a.join
	j.mu.Lock()
	for k, p := range j.pending {
		if !now.Before(p.expires) {
			delete(j.pending, k)
		}
	}
	full := len(j.pending) >= maxPendingJoins
	if !full {
		j.pending[key] = pendingJoin{node: req.Node, exporter: exp, expires: now.Add(joinChallengeTTL)}
	}
	j.mu.Unlock()
	if full {
		a.problem(w, r, fmt.Errorf("%d join challenges open: %w", maxPendingJoins, ErrUnavailable), nil)
		return
	}
	a.ok(w, JoinChallenge{Node: req.Node, GenesisSHA256: v.GenesisHash(), Challenge: key, ExpiresAt: now.Add(joinChallengeTTL).UTC()})
}

func (a *API) postJoin(w http.ResponseWriter, r *http.Request) {
	spki, err := a.joinPreconditions(r)
	if err != nil {
		a.problem(w, r, err, a.withLeader)
		return
	}
	var req JoinRequest
	if err := decodeJSONBody(w, r, &req); err != nil {
		a.problem(w, r, err, nil)
		return
	}
	j := a.join
	j.mu.Lock()
	p, ok := j.pending[req.Challenge]
	delete(j.pending, req.Challenge) // single use, whatever the outcome
	j.mu.Unlock()
	now := a.cfg.Clock()
	exp, err := exporterOf(r.TLS)
	switch {
	case err != nil:
		a.problem(w, r, err, nil)
		return
	case !ok || !now.Before(p.expires):
		a.problem(w, r, trust.Rejectf(trust.ReasonJoinChallenge, "unknown or expired challenge: ask for a new one"), nil)
		return
	case p.node != req.Node:
		a.problem(w, r, trust.Rejectf(trust.ReasonJoinChallenge, "the challenge was issued to node %s", p.node), nil)
		return
	case !bytes.Equal(p.exporter, exp):
		a.problem(w, r, trust.Rejectf(trust.ReasonJoinChallenge, "the answer must come on the TLS session the challenge was issued on"), nil)
		return
	}
	ch, err1 := base64.RawURLEncoding.Strict().DecodeString(req.Challenge)
	sig, err2 := base64.RawURLEncoding.Strict().DecodeString(req.Signature)
	if err1 != nil || err2 != nil {
		a.problem(w, r, trust.Rejectf(trust.ReasonJoinSignature, "challenge and signature must be base64url without padding"), nil)
		return
	}
	v := a.cfg.Backend.View()
	if err := v.VerifyJoin(req.Node, spki, ch, exp, sig); err != nil {
		a.problem(w, r, err, nil)
		return
	}
	n, _ := v.Node(req.Node)
	if err := a.cfg.Backend.AddNonvoter(r.Context(), n.ID, n.RaftAddress); err != nil {
		a.problem(w, r, err, a.withLeader)
		return
	}
	a.cfg.Logger.Info("registry: node joined as non-voter", "node", n.ID, "raftAddress", n.RaftAddress)
	a.ok(w, Joined{Node: n.ID, RaftAddress: n.RaftAddress, Suffrage: trust.RoleNonvoter})
}

// JoinClient joins this node to the cluster (DESIGN.md §13).
type JoinClient struct {
	// NodeID is this node's registered id; Certificate its TLS key (its
	// SPKI must be the registered pin).
	NodeID      string
	Certificate tls.Certificate
	// View verifies the server: its TLS key must be pinned for the node
	// whose apiUrl is the URL called, and the genesis must be ours. A node
	// that has only its genesis yet should use the view of the bundle it
	// replayed (FetchBundle + Replay) to know nodes registered later.
	View ViewFunc
	// Timeout bounds each connection's handshake; 0 means 10 s.
	Timeout time.Duration
}

// maxJoinHops bounds how often Join follows "not the leader".
const maxJoinHops = 3

// Join asks the node at apiURL (any node: a follower names the leader and
// Join follows it) to add this node as a non-voter.
func (c *JoinClient) Join(ctx context.Context, apiURL string) (*Joined, error) {
	for hop := 0; ; hop++ {
		joined, leader, err := c.joinOnce(ctx, apiURL)
		if err == nil {
			return joined, nil
		}
		if leader == "" || leader == apiURL || hop >= maxJoinHops {
			return nil, err
		}
		apiURL = leader
	}
}

// joinOnce runs the exchange on one TLS session. On "not the leader" it
// returns the leader's API URL.
func (c *JoinClient) joinOnce(ctx context.Context, apiURL string) (*Joined, string, error) {
	u, err := url.Parse(apiURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, "", fmt.Errorf("registry: join: %q is not an https URL", apiURL)
	}
	v := c.View()
	if v == nil {
		return nil, "", errors.New("registry: join: no trust view")
	}
	conn, err := dialPeerAPI(ctx, c.Certificate, c.View, hostPort(u), c.Timeout)
	if err != nil {
		return nil, "", fmt.Errorf("registry: join %s: %w", apiURL, err)
	}
	cs := conn.ConnectionState()
	exp, err := exporterOf(&cs)
	if err != nil {
		conn.Close()
		return nil, "", err
	}
	// One connection for both requests: the answer is bound to it.
	var once sync.Once
	tr := &http.Transport{
		DialTLSContext: func(context.Context, string, string) (net.Conn, error) {
			var out net.Conn
			once.Do(func() { out = conn })
			if out == nil {
				return nil, errors.New("registry: join: the TLS session ended between challenge and answer")
			}
			return out, nil
		},
		MaxConnsPerHost:   1,
		ForceAttemptHTTP2: false,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	base := strings.TrimSuffix(u.String(), "/")

	var ch JoinChallenge
	if leader, err := postJSON(ctx, hc, base+PathJoinChallenge, JoinChallengeRequest{Node: c.NodeID}, &ch); err != nil {
		return nil, leader, err
	}
	if ch.GenesisSHA256 != v.GenesisHash() {
		return nil, "", fmt.Errorf("%w: the node at %s runs genesis %s, ours is %s; refusing to join", trust.ErrGenesisPin, apiURL, ch.GenesisSHA256, v.GenesisHash())
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(ch.Challenge)
	if err != nil || len(raw) != trust.JoinChallengeBytes {
		return nil, "", errors.New("registry: join: malformed challenge")
	}
	sig, err := signTranscript(c.Certificate.PrivateKey, trust.JoinTranscript(v.GenesisHash(), c.NodeID, raw, exp))
	if err != nil {
		return nil, "", err
	}
	var joined Joined
	req := JoinRequest{Node: c.NodeID, Challenge: ch.Challenge, Signature: base64.RawURLEncoding.EncodeToString(sig)}
	if leader, err := postJSON(ctx, hc, base+PathJoin, req, &joined); err != nil {
		return nil, leader, err
	}
	return &joined, "", nil
}

// signTranscript signs with a node TLS key as VerifyJoin checks: ECDSA
// P-256 ASN.1 over SHA-256, or Ed25519 over the message.
func signTranscript(priv crypto.PrivateKey, msg []byte) ([]byte, error) {
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		d := sha256.Sum256(msg)
		return ecdsa.SignASN1(rand.Reader, k, d[:])
	case ed25519.PrivateKey:
		return ed25519.Sign(k, msg), nil
	}
	return nil, fmt.Errorf("registry: join: TLS key of type %T cannot sign the challenge", priv)
}

// postJSON posts v and decodes the answer into out; a problem becomes a
// *protocol.ProblemError (classified), and the leader's API URL is returned when the server is not
// the leader.
func postJSON(ctx context.Context, hc *http.Client, url string, v, out any) (string, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", MediaJSON)
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	return decodeAPIResponse(resp, out)
}
