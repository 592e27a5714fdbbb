package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/trust"
)

// fakeBackend is the shell as the API sees it, over a tlsNet whose state
// it applies entries to: a leader unless told otherwise, with settable
// staleness and failures.
type fakeBackend struct {
	tn *tlsNet

	mu         sync.Mutex
	role       string
	leader     registry.Leader
	stale      bool
	submitErr  error
	submitted  []string // "submit" or "leader" per call
	added      []string // node@addr of AddNonvoter
	addErr     error
	readIndex  uint64
	lastResult trust.Result
}

func newFakeBackend(tn *tlsNet) *fakeBackend {
	return &fakeBackend{tn: tn, role: registry.RaftLeader}
}

func (b *fakeBackend) apply(data []byte) (trust.Result, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.submitErr != nil {
		return trust.Result{}, b.submitErr
	}
	var res trust.Result
	b.tn.s, res = b.tn.n.Apply(b.tn.s, data)
	b.tn.publish()
	b.lastResult = res
	return res, nil
}

func (b *fakeBackend) Submit(ctx context.Context, data []byte) (trust.Result, error) {
	b.mu.Lock()
	b.submitted = append(b.submitted, "submit")
	b.mu.Unlock()
	return b.apply(data)
}

func (b *fakeBackend) SubmitLeader(ctx context.Context, data []byte) (trust.Result, error) {
	b.mu.Lock()
	b.submitted = append(b.submitted, "leader")
	notLeader := b.role != registry.RaftLeader
	b.mu.Unlock()
	if notLeader {
		return trust.Result{}, registry.ErrNotLeader
	}
	return b.apply(data)
}

func (b *fakeBackend) ReadIndex(ctx context.Context) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.role != registry.RaftLeader {
		return 0, registry.ErrNotLeader
	}
	return b.readIndex, nil
}

func (b *fakeBackend) AddNonvoter(ctx context.Context, id, addr string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.addErr != nil {
		return b.addErr
	}
	b.added = append(b.added, id+"@"+addr)
	return nil
}

func (b *fakeBackend) State() *trust.State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tn.s
}

func (b *fakeBackend) View() *trust.View { return b.tn.view.Load() }

func (b *fakeBackend) Status() registry.Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.tn.s
	st := registry.Status{NodeID: "TJ-N9", Role: b.role, Leader: b.leader, AppliedIndex: s.AppliedIndex(),
		ConsensusTime: s.ConsensusTime(), StateHash: s.Hash(), ChainHead: s.ChainHead(),
		LastLeaderContact: time.Unix(1700000000, 0), Staleness: 3 * time.Second, StalenessBound: 10 * time.Minute}
	if b.stale {
		st.Staleness, st.Stale = time.Hour, true
	}
	return st
}

func (b *fakeBackend) Fresh() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stale {
		return &registry.StaleError{Staleness: time.Hour, Bound: 10 * time.Minute, SyncedAt: time.Unix(1700000000, 0)}
	}
	return nil
}

func (b *fakeBackend) Bundle() (*trust.Bundle, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return nil, errors.New("fakeBackend keeps no history")
}

func (b *fakeBackend) set(f func(b *fakeBackend)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b)
}

func newAPI(t testing.TB, b registry.Backend, tune ...func(*registry.APIConfig)) *registry.API {
	t.Helper()
	cfg := registry.APIConfig{Backend: b, Logger: testLogger(t)}
	for _, f := range tune {
		f(&cfg)
	}
	a, err := registry.NewAPI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

type apiResponse struct {
	status  int
	header  http.Header
	body    []byte
	problem protocol.Problem
}

func do(t *testing.T, h http.Handler, method, path, ctype string, body []byte) apiResponse {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	r := apiResponse{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
	if w.Header().Get("Content-Type") == protocol.ProblemContentType {
		if err := json.Unmarshal(r.body, &r.problem); err != nil {
			t.Fatalf("problem document: %v: %s", err, r.body)
		}
	}
	for _, h := range []string{registry.HeaderIndex, registry.HeaderStaleness, registry.HeaderStale} {
		if w.Header().Get(h) == "" {
			t.Fatalf("%s %s: no %s header", method, path, h)
		}
	}
	return r
}

// wantProblem asserts the status, code and reason of a problem document.
func (r apiResponse) wantProblem(t *testing.T, status int, code protocol.Code, reason trust.Reason) {
	t.Helper()
	if r.status != status || r.problem.Code != code || r.problem.Reason != string(reason) || r.problem.Type != code.TypeURI() || r.problem.Status != status {
		t.Fatalf("got %d %s/%s (%s), want %d %s/%s: %s", r.status, r.problem.Code, r.problem.Reason, r.problem.Type, status, code, reason, r.body)
	}
}

func decode[T any](t *testing.T, r apiResponse) T {
	t.Helper()
	var v T
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	return v
}

func TestAPICommands(t *testing.T) {
	tn := newTLSNet(t, "TJ", "TR", "KZ")
	b := newFakeBackend(tn)
	api := newAPI(t, b, func(c *registry.APIConfig) { c.MaxBody = 64 << 10 })
	n := tn.n

	t.Run("ok/self-command-accepted", func(t *testing.T) {
		spec := tn.nodes["KZ"].spec
		spec.APIURL = "https://kz.example:8443"
		data := n.Sign(n.Command(trust.CmdNodeRegister, "KZ", trust.NodeRegisterArgs{Node: spec}), n.Member("KZ").Gov)
		r := do(t, api, "POST", registry.PathCommands, registry.MediaJOSE, data)
		res := decode[registry.APIResult](t, r)
		if res.Outcome != trust.OutcomeAccepted || res.Type != trust.CmdNodeRegister || res.Index == 0 {
			t.Fatalf("%+v", res)
		}
		if r.header.Get(registry.HeaderIndex) == "" || r.header.Get(registry.HeaderStale) != "false" {
			t.Fatal("staleness headers")
		}
	})
	var proposal string
	t.Run("ok/proposed-says-how-many-approvals-are-missing", func(t *testing.T) {
		c := n.Command(trust.CmdMemberSuspend, "TJ", trust.SuspendArgs{Member: "KZ", Reason: "audit"})
		c.Propose = true
		res := decode[registry.APIResult](t, do(t, api, "POST", registry.PathCommands, registry.MediaJOSE, n.Sign(c, n.Member("TJ").Gov)))
		if res.Outcome != trust.OutcomeProposed || res.Approvals != 1 || res.Required != 2 || res.Proposal != c.ID {
			t.Fatalf("%+v", res)
		}
		proposal = res.Proposal
	})
	t.Run("ok/proposal-listed-with-its-count", func(t *testing.T) {
		ps := decode[registry.APIProposals](t, do(t, api, "GET", registry.PathProposals, "", nil))
		if len(ps.Proposals) != 1 || ps.Proposals[0].ID != proposal || len(ps.Proposals[0].Approvals) != 1 || ps.Proposals[0].Required != 2 {
			t.Fatalf("%+v", ps)
		}
		one := decode[registry.APIProposals](t, do(t, api, "GET", registry.PathProposals+"/"+proposal, "", nil))
		if len(one.Proposals) != 1 || one.Proposals[0].PayloadSHA256 == "" {
			t.Fatalf("%+v", one)
		}
	})
	t.Run("fail/unknown-proposal", func(t *testing.T) {
		do(t, api, "GET", registry.PathProposals+"/00000000-0000-4000-8000-00000000ffff", "", nil).
			wantProblem(t, 404, protocol.CodeNotFound, trust.ReasonProposalUnknown)
	})
	t.Run("fail/below-threshold-with-reason-and-result", func(t *testing.T) {
		before := b.State().Hash()
		data := n.Sign(n.Command(trust.CmdMemberSuspend, "TJ", trust.SuspendArgs{Member: "KZ", Reason: "audit"}), n.Member("TJ").Gov)
		r := do(t, api, "POST", registry.PathCommands, registry.MediaJOSE, data)
		r.wantProblem(t, 422, protocol.CodeRegistryRejected, trust.ReasonBelowThreshold)
		var res registry.APIResult
		if json.Unmarshal(r.problem.Result, &res) != nil || res.Index == 0 || res.Outcome != trust.OutcomeRejected {
			t.Fatalf("the problem carries the result: %s", r.body)
		}
		if b.State().Hash() != before {
			t.Fatal("a rejected command changed the state")
		}
	})
	t.Run("fail/unauthenticated-refused-without-submitting", func(t *testing.T) {
		stranger := n.NewKey("TJ", "ES256")
		good := n.Sign(n.Command(trust.CmdKeyRetire, "TJ", trust.KeyRetireArgs{Kid: n.Member("TJ").Sig.Kid()}), n.Member("TJ").Gov)
		parts := strings.Split(string(good), ".")
		sig := []byte(parts[2])
		sig[5] ^= 1
		other := n.Sign(trust.Command{Network: strings.Repeat("0", 64), ID: n.NextID(), Type: trust.CmdKeyRetire, IssuedAt: n.Now, Member: "TJ",
			Args: json.RawMessage(`{"kid":"x"}`)}, n.Member("TJ").Gov)
		for reason, data := range map[trust.Reason][]byte{
			trust.ReasonUnknownKey:       n.Sign(n.Command(trust.CmdKeyRetire, "TJ", trust.KeyRetireArgs{Kid: n.Member("TJ").Sig.Kid()}), stranger),
			trust.ReasonBadSignature:     []byte(parts[0] + "." + parts[1] + "." + string(sig)),
			trust.ReasonMalformedCommand: []byte(parts[0] + ".e30." + parts[2]),
			trust.ReasonWrongNetwork:     other,
			trust.ReasonUnknownType:      n.Sign(n.Command("member.promote", "TJ", struct{}{}), n.Member("TJ").Gov),
		} {
			b.set(func(b *fakeBackend) { b.submitted = nil })
			before := b.State().AppliedIndex()
			do(t, api, "POST", registry.PathCommands, registry.MediaJOSE, data).wantProblem(t, 422, protocol.CodeRegistryRejected, reason)
			if len(b.submitted) != 0 || b.State().AppliedIndex() != before {
				t.Fatalf("%s: submitted %v", reason, b.submitted)
			}
		}
	})
	t.Run("fail/wrong-media-type", func(t *testing.T) {
		do(t, api, "POST", registry.PathCommands, "application/json", []byte("a.b.c")).wantProblem(t, 415, protocol.CodeUnsupported, "")
	})
	t.Run("fail/not-compact", func(t *testing.T) {
		for _, body := range []string{"", "a.b", "a.b.c\n", "a.b.c\n\na.b.c"} {
			do(t, api, "POST", registry.PathCommands, registry.MediaJOSE, []byte(body)).wantProblem(t, 400, protocol.CodeNotCompact, "")
		}
	})
	t.Run("fail/too-large-refused-before-reading", func(t *testing.T) {
		body := &countingReader{r: bytes.NewReader(make([]byte, 1<<20))}
		req := httptest.NewRequest("POST", registry.PathCommands, body)
		req.Header.Set("Content-Type", registry.MediaJOSE)
		req.ContentLength = 1 << 20
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		if w.Code != 413 || body.n != 0 {
			t.Fatalf("status %d, %d bytes read", w.Code, body.n)
		}
		// Without a length the limit applies while reading.
		req = httptest.NewRequest("POST", registry.PathCommands, io.MultiReader(bytes.NewReader(make([]byte, 1<<20))))
		req.Header.Set("Content-Type", registry.MediaJOSE)
		req.ContentLength = -1
		w = httptest.NewRecorder()
		api.ServeHTTP(w, req)
		if w.Code != 413 {
			t.Fatalf("status %d", w.Code)
		}
	})
	t.Run("ok/forwarded-write-is-leader-only", func(t *testing.T) {
		data := n.Sign(n.Command(trust.CmdKeyRetire, "TR", trust.KeyRetireArgs{Kid: n.Member("TR").Sig.Kid()}), n.Member("TR").Gov)
		req := httptest.NewRequest("POST", registry.PathCommands, bytes.NewReader(data))
		req.Header.Set("Content-Type", registry.MediaJOSE)
		req.Header.Set(registry.HeaderForwardedBy, "KZ-N9")
		b.set(func(b *fakeBackend) { b.submitted = nil })
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		if w.Code != 200 || len(b.submitted) != 1 || b.submitted[0] != "leader" {
			t.Fatalf("status %d, calls %v", w.Code, b.submitted)
		}
	})
	t.Run("fail/forwarded-to-a-node-no-longer-leader", func(t *testing.T) {
		b.set(func(b *fakeBackend) {
			b.role = registry.RaftFollower
			b.leader = registry.Leader{ID: "TR-N9", Address: tn.nodes["TR"].spec.RaftAddress}
		})
		defer b.set(func(b *fakeBackend) { b.role, b.leader = registry.RaftLeader, registry.Leader{} })
		data := n.Sign(n.Command(trust.CmdKeyRetire, "KZ", trust.KeyRetireArgs{Kid: n.Member("KZ").Sig.Kid()}), n.Member("KZ").Gov)
		req := httptest.NewRequest("POST", registry.PathCommands, bytes.NewReader(data))
		req.Header.Set("Content-Type", registry.MediaJOSE)
		req.Header.Set(registry.HeaderForwardedBy, "KZ-N9")
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		var p protocol.Problem
		var leader registry.APILeader
		json.Unmarshal(w.Body.Bytes(), &p)
		json.Unmarshal(p.Leader, &leader)
		if w.Code != 421 || p.Code != protocol.CodeNotLeader || p.Cause != "not-leader" || leader.APIURL != tn.nodes["TR"].spec.APIURL {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	for _, c := range []struct {
		name  string
		err   error
		code  protocol.Code
		cause string
	}{
		{"fail/stale-replica", &registry.StaleError{Staleness: time.Hour, Bound: time.Minute}, protocol.CodeRegistryStale, ""},
		{"fail/no-leader", registry.ErrNoLeader, protocol.CodeUnavailable, "no-leader"},
		{"fail/not-leader-is-the-clients-routing", registry.ErrNotLeader, protocol.CodeNotLeader, "not-leader"},
		{"fail/timeout-outcome-unknown", registry.ErrTimeout, protocol.CodeUnavailable, "timeout"},
		{"fail/leader-clock-behind", registry.ErrLeaderClockBehind, protocol.CodeUnavailable, "leader-clock-behind"},
		{"fail/internal", errors.New("disk on fire"), protocol.CodeInternal, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			b.set(func(b *fakeBackend) { b.submitErr = c.err })
			defer b.set(func(b *fakeBackend) { b.submitErr = nil })
			data := n.Sign(n.Command(trust.CmdKeyRetire, "KZ", trust.KeyRetireArgs{Kid: n.Member("KZ").Sig.Kid()}), n.Member("KZ").Gov)
			r := do(t, api, "POST", registry.PathCommands, registry.MediaJOSE, data)
			r.wantProblem(t, c.code.Status(), c.code, "")
			if r.problem.Cause != c.cause {
				t.Fatalf("cause %q, want %q", r.problem.Cause, c.cause)
			}
			if c.code == protocol.CodeInternal && strings.Contains(string(r.body), "fire") {
				t.Fatal("an internal cause was sent")
			}
		})
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestAPIReads(t *testing.T) {
	tn := newTLSNet(t, "TJ", "TR", "KZ")
	b := newFakeBackend(tn)
	api := newAPI(t, b)
	n := tn.n

	t.Run("ok/status", func(t *testing.T) {
		b.set(func(b *fakeBackend) {
			b.role = registry.RaftFollower
			b.leader = registry.Leader{ID: "TR-N9", Address: tn.nodes["TR"].spec.RaftAddress}
		})
		defer b.set(func(b *fakeBackend) { b.role, b.leader = registry.RaftLeader, registry.Leader{} })
		st := decode[registry.APIStatus](t, do(t, api, "GET", registry.PathStatus, "", nil))
		if st.GenesisSHA256 != n.Genesis.Hash() || st.Leader == nil || st.Leader.APIURL != tn.nodes["TR"].spec.APIURL || st.StalenessSeconds != 3 || st.Stale {
			t.Fatalf("%+v", st)
		}
	})
	t.Run("ok/stale-is-reported-and-reads-keep-working", func(t *testing.T) {
		b.set(func(b *fakeBackend) { b.stale = true })
		defer b.set(func(b *fakeBackend) { b.stale = false })
		r := do(t, api, "GET", registry.PathMembers, "", nil)
		if r.status != 200 || r.header.Get(registry.HeaderStale) != "true" || r.header.Get(registry.HeaderStaleness) != "3600" {
			t.Fatalf("%d %v", r.status, r.header)
		}
	})
	t.Run("ok/members", func(t *testing.T) {
		ms := decode[registry.APIMembers](t, do(t, api, "GET", registry.PathMembers, "", nil))
		if len(ms.Members) != 3 || ms.AppliedIndex != b.State().AppliedIndex() {
			t.Fatalf("%+v", ms)
		}
		one := decode[registry.APIMembers](t, do(t, api, "GET", registry.PathMembers+"/TR", "", nil))
		if len(one.Members) != 1 || one.Members[0].ID != "TR" {
			t.Fatalf("%+v", one)
		}
	})
	t.Run("fail/unknown-member", func(t *testing.T) {
		do(t, api, "GET", registry.PathMembers+"/KG", "", nil).wantProblem(t, 404, protocol.CodeNotFound, trust.ReasonNotFound)
		do(t, api, "GET", registry.PathKeys+"?member=KG", "", nil).wantProblem(t, 404, protocol.CodeNotFound, trust.ReasonNotFound)
	})
	t.Run("ok/keys-filtered", func(t *testing.T) {
		ks := decode[registry.APIKeys](t, do(t, api, "GET", registry.PathKeys+"?member=TJ&role=signing", "", nil))
		if len(ks.Keys) != 1 || ks.Keys[0].Kid != n.Member("TJ").Sig.Kid() {
			t.Fatalf("%+v", ks)
		}
		one := decode[registry.APIKeys](t, do(t, api, "GET", registry.PathKeys+"/"+n.Member("TR").Gov.Kid(), "", nil))
		if len(one.Keys) != 1 || one.Keys[0].Role != trust.RoleGovernance {
			t.Fatalf("%+v", one)
		}
	})
	t.Run("ok/nodes-and-policy", func(t *testing.T) {
		ns := decode[registry.APINodes](t, do(t, api, "GET", registry.PathNodes, "", nil))
		if len(ns.Nodes) != 6 { // 3 genesis nodes + 3 registered by tlsNet
			t.Fatalf("%d nodes", len(ns.Nodes))
		}
		p := decode[registry.APIPolicy](t, do(t, api, "GET", registry.PathPolicy, "", nil))
		if p.GenesisSHA256 != n.Genesis.Hash() || p.ActiveMembers != 3 || p.Policy.ClockSkewSeconds == 0 {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("fail/bundle-error-is-internal", func(t *testing.T) {
		do(t, api, "GET", registry.PathBundle, "", nil).wantProblem(t, 500, protocol.CodeInternal, "")
	})
	t.Run("fail/unknown-route", func(t *testing.T) {
		do(t, api, "GET", "/v1/registry/nope", "", nil).wantProblem(t, 404, protocol.CodeNotFound, trust.ReasonNotFound)
		do(t, api, "DELETE", registry.PathMembers, "", nil).wantProblem(t, 404, protocol.CodeNotFound, trust.ReasonNotFound)
	})
	t.Run("fail/read-index-without-peer-key", func(t *testing.T) {
		do(t, api, "POST", registry.PathReadIndex, "", nil).wantProblem(t, 403, protocol.CodeNodePinMismatch, trust.ReasonNodePinMismatch)
	})
}

// apiServer serves api on the node's registered API listener with the
// node's TLS key.
func apiServer(t *testing.T, nd *tlsNode, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h, TLSConfig: pintls.ServerConfig(nd.cert), ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 5 * time.Second}
	go srv.ServeTLS(nd.api, "", "")
	t.Cleanup(func() { srv.Close() })
}

// TestAPIClientAndForwarder runs the clients against the API over real TLS:
// the operator's client pinned to the node's key, and the follower's
// HTTPForwarder over pinned mutual TLS.
func TestAPIClientAndForwarder(t *testing.T) {
	tn := newTLSNet(t, "TJ", "TR", "KZ")
	leader := tn.nodes["TR"]
	b := newFakeBackend(tn)
	b.readIndex = 42
	apiServer(t, leader, newAPI(t, b))
	ctx := context.Background()
	n := tn.n

	t.Run("ok/operator-client-with-pin", func(t *testing.T) {
		c, err := registry.NewAPIClient(leader.spec.APIURL, leader.pin, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := c.Members(ctx)
		if err != nil || len(ms.Members) != 3 {
			t.Fatal(ms, err)
		}
		data := n.Sign(n.Command(trust.CmdMemberSuspend, "TJ", trust.SuspendArgs{Member: "KZ", Reason: "x"}), n.Member("TJ").Gov)
		_, err = c.Submit(ctx, data)
		var pe *protocol.ProblemError
		if _, hasResult := registry.ProblemResult(err); !errors.As(err, &pe) || trust.ReasonOf(err) != trust.ReasonBelowThreshold || !hasResult {
			t.Fatalf("%v", err)
		}
	})
	t.Run("fail/operator-client-wrong-pin", func(t *testing.T) {
		c, err := registry.NewAPIClient(leader.spec.APIURL, tn.nodes["KZ"].pin, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Status(ctx); !errors.Is(err, pintls.ErrPinMismatch) {
			t.Fatalf("a node with another key was trusted: %v", err)
		}
	})
	t.Run("fail/operator-client-https-without-pin", func(t *testing.T) {
		if _, err := registry.NewAPIClient(leader.spec.APIURL, "", time.Second); err == nil {
			t.Fatal("https without a pin")
		}
	})
	fw := &registry.HTTPForwarder{NodeID: "KZ-N9", Certificate: tn.nodes["KZ"].cert, View: tn.view.Load, Timeout: 5 * time.Second}
	lead := registry.Leader{ID: leader.id, Address: leader.spec.RaftAddress}
	t.Run("ok/forward-to-leader", func(t *testing.T) {
		b.set(func(b *fakeBackend) { b.submitted = nil })
		data := n.Sign(n.Command(trust.CmdKeyRetire, "KZ", trust.KeyRetireArgs{Kid: n.Member("KZ").Sig.Kid()}), n.Member("KZ").Gov)
		res, err := fw.Forward(ctx, lead, data)
		if err != nil || res.Outcome != trust.OutcomeAccepted || res.Index == 0 {
			t.Fatal(res, err)
		}
		if len(b.submitted) != 1 || b.submitted[0] != "leader" {
			t.Fatalf("the leader was called with %v, want SubmitLeader", b.submitted)
		}
	})
	t.Run("ok/forwarded-rejection-is-a-result", func(t *testing.T) {
		data := n.Sign(n.Command(trust.CmdMemberSuspend, "TJ", trust.SuspendArgs{Member: "KZ", Reason: "x"}), n.Member("TJ").Gov)
		res, err := fw.Forward(ctx, lead, data)
		if err != nil || res.Outcome != trust.OutcomeRejected || res.Reason != trust.ReasonBelowThreshold {
			t.Fatal(res, err)
		}
	})
	t.Run("ok/read-index", func(t *testing.T) {
		idx, err := fw.ReadIndex(ctx, lead)
		if err != nil || idx != 42 {
			t.Fatal(idx, err)
		}
	})
	t.Run("fail/forward-keeps-error-class", func(t *testing.T) {
		valid := n.Sign(n.Command(trust.CmdKeyRetire, "TJ", trust.KeyRetireArgs{Kid: n.Member("TJ").Sig.Kid()}), n.Member("TJ").Gov)
		for _, e := range []error{registry.ErrTimeout, registry.ErrLeaderClockBehind, registry.ErrNoLeader} {
			b.set(func(b *fakeBackend) { b.submitErr = e })
			_, err := fw.Forward(ctx, lead, valid)
			if !errors.Is(err, e) || !errors.Is(err, registry.ErrUnavailable) {
				t.Fatalf("forwarded %v came back as %v", e, err)
			}
		}
		b.set(func(b *fakeBackend) { b.submitErr = nil; b.role = registry.RaftFollower })
		defer b.set(func(b *fakeBackend) { b.role = registry.RaftLeader })
		if _, err := fw.Forward(ctx, lead, valid); !errors.Is(err, registry.ErrNotLeader) {
			t.Fatalf("not leader: %v", err)
		}
	})
	t.Run("fail/leader-with-another-key", func(t *testing.T) {
		// KZ's view says TJ-N9 is at TR's API address: the TLS key there
		// is TR's, not the one pinned for TJ-N9.
		fake := registry.Leader{ID: "TJ-N9"}
		spec := tn.nodes["TJ"].spec
		spec.APIURL = leader.spec.APIURL
		tn.apply(n.Sign(n.Command(trust.CmdNodeRegister, "TJ", trust.NodeRegisterArgs{Node: spec}), n.Member("TJ").Gov))
		fw2 := &registry.HTTPForwarder{NodeID: "KZ-N9", Certificate: tn.nodes["KZ"].cert, View: tn.view.Load, Timeout: 5 * time.Second}
		_, err := fw2.Forward(ctx, fake, []byte("a.b.c"))
		if err == nil || trust.ReasonOf(err) != trust.ReasonNodePinMismatch {
			t.Fatalf("forwarded to a node presenting another key: %v", err)
		}
	})
	t.Run("fail/forwarder-with-unregistered-key", func(t *testing.T) {
		other := &registry.HTTPForwarder{NodeID: "KZ-N9", Certificate: mustNodeKey(t, "KZ-N9"), View: tn.view.Load, Timeout: 5 * time.Second}
		// Submitting is open to anyone (commands carry their own
		// signatures), but the read index is for registered nodes only.
		if _, err := other.ReadIndex(ctx, lead); trust.ReasonOf(err) != trust.ReasonNodePinMismatch {
			t.Fatalf("read index with an unregistered key: %v", err)
		}
	})
}

// FuzzAPICommands: whatever a client posts, the API answers a result or a
// problem document and never panics; nothing unauthenticated is submitted.
func FuzzAPICommands(f *testing.F) {
	tn := newTLSNet(f, "TJ", "TR", "KZ")
	n := tn.n
	good := n.Sign(n.Command(trust.CmdKeyRetire, "TJ", trust.KeyRetireArgs{Kid: n.Member("TJ").Sig.Kid()}), n.Member("TJ").Gov)
	f.Add(good)
	f.Add(trust.JoinSignatures(good, good))
	f.Add([]byte("a.b.c"))
	f.Add([]byte("eyJhbGciOiJub25lIn0.e30."))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := newFakeBackend(tn)
		b.set(func(b *fakeBackend) { b.submitErr = errors.New("must not be reached for junk") })
		api := newAPI(t, b)
		req := httptest.NewRequest("POST", registry.PathCommands, bytes.NewReader(data))
		req.Header.Set("Content-Type", registry.MediaJOSE)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		if w.Code != 200 && w.Header().Get("Content-Type") != protocol.ProblemContentType {
			t.Fatalf("status %d without a problem document", w.Code)
		}
		if w.Code == 200 {
			t.Fatal("accepted with a failing backend")
		}
	})
}

// TestAPIExpiredProposal: an approval after expiresAt is refused with
// PROPOSAL_EXPIRED and changes nothing.
func TestAPIExpiredProposal(t *testing.T) {
	tn := newTLSNet(t, "TJ", "TR", "KZ")
	b := newFakeBackend(tn)
	api := newAPI(t, b)
	n := tn.n
	c := n.Command(trust.CmdMemberSuspend, "TJ", trust.SuspendArgs{Member: "KZ", Reason: "audit"})
	c.Propose = true
	res := decode[registry.APIResult](t, do(t, api, "POST", registry.PathCommands, registry.MediaJOSE, n.Sign(c, n.Member("TJ").Gov)))
	p, ok := b.State().Proposal(res.Proposal)
	if !ok {
		t.Fatal("no proposal")
	}
	n.Advance(8 * 24 * time.Hour) // past the 7-day lifetime
	before := b.State().Hash()
	r := do(t, api, "POST", registry.PathCommands, registry.MediaJOSE,
		n.Sign(n.Command(trust.CmdProposalApprove, "TR", trust.ApproveArgs{Proposal: p.ID, PayloadSHA256: p.PayloadSHA256}), n.Member("TR").Gov))
	r.wantProblem(t, 422, protocol.CodeRegistryRejected, trust.ReasonProposalExpired)
	if b.State().Hash() != before {
		t.Fatal("an expired approval changed the state")
	}
}

// failingBody fails like a malformed chunked body does in net/http.
type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, errors.New("malformed chunked encoding") }

// TestAPIProblemRules is SPEC §7's one rule on the registry API, which used
// to write its problems itself: an unreadable body is the sender's fault
// (400 REQUEST_BODY_UNREADABLE, was PAYLOAD_MALFORMED), and "instance" is
// the request id of the answer (it was the path).
func TestAPIProblemRules(t *testing.T) {
	tn := newTLSNet(t, "TJ", "TR", "KZ")
	api := newAPI(t, newFakeBackend(tn))
	req := httptest.NewRequest("POST", registry.PathCommands, io.NopCloser(failingBody{}))
	req.ContentLength = -1
	req.Header.Set("Content-Type", registry.MediaJOSE)
	w := httptest.NewRecorder()
	api.ServeHTTP(w, req)
	pe := protocol.DecodeProblem("", w.Code, w.Header().Get("Content-Type"), w.Body.Bytes())
	if w.Code != 400 || pe.Problem.Code != protocol.CodeBodyUnreadable {
		t.Fatalf("unreadable body: %d %s", w.Code, w.Body)
	}
	if id := w.Header().Get("Crvs-Request-Id"); id == "" || pe.Problem.Instance != id || strings.Contains(pe.Problem.Instance, "/") {
		t.Fatalf("instance %q, request id %q", pe.Problem.Instance, id)
	}
	r := do(t, api, "GET", registry.PathMembers+"/XX", "", nil)
	r.wantProblem(t, 404, protocol.CodeNotFound, trust.ReasonNotFound)
	if r.problem.Instance == registry.PathMembers+"/XX" || r.problem.Instance != r.header.Get("Crvs-Request-Id") {
		t.Fatalf("instance %q is not the request id", r.problem.Instance)
	}
}
