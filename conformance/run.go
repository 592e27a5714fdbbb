package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol/protocoltest"
	"github.com/ecrn/crvsx/protocol/trust"
)

// Plans.
const (
	PlanReceiver = "receiver"
	PlanSender   = "sender"
	PlanRegistry = "registry"
)

// Target is what a run tests and with what.
type Target struct {
	Suite *Suite
	// Net is the suite's side of the network, running (node/conformnet).
	Net Network
	// PeerURL is the candidate's peer API; "" means the suite's record of
	// its registered apiUrl.
	PeerURL string
	// LocalURL and LocalToken reach the candidate's local API, which the
	// sender plan drives; without them the sender plan does not run.
	LocalURL, LocalToken string
	// Plans to run; nil means every plan that applies.
	Plans []string
	// Only, if set, runs the modules whose names match it.
	Only *regexp.Regexp
	// Log receives progress (one line a module); nil discards.
	Log *slog.Logger
}

// module is one behaviour of the candidate, checked by its conditions.
type module struct {
	plan, name, cite string
	run              func(ctx context.Context, e *env, r *record)
}

// record is what a module observed: the conditions that did not hold, and
// the last request and answer for the report.
type record struct {
	conditions
	request, answer string
}

func (r *record) saw(req []byte, a answer) {
	r.request = clip(req)
	switch {
	case a.err != nil:
		r.answer = "no answer: " + a.err.Error()
	default:
		r.answer = strconv.Itoa(a.status) + " " + clip(a.body)
	}
}

// env is a run's state, shared by the modules.
type env struct {
	t             Target
	suite         *Suite
	net           Network
	w             *wire
	local         *localClient
	candidateKeys *trust.View
	vectorsOf     map[string]*protocoltest.Member // by member id
	log           *slog.Logger
	// setup is what the registry setup did, for the modules that use it.
	setup registrySetup
}

// Run runs every module of every plan that applies against t and returns
// the full report. It stops early only for a target it cannot test at all
// (ErrTarget: down, not a crvsx node, another key, a replica that never
// syncs with the suite's voters), and when ctx ends.
func Run(ctx context.Context, t Target) (*Report, error) {
	if t.Suite == nil || t.Net == nil {
		return nil, errors.New("conformance: Target needs a Suite and a running Network")
	}
	if t.PeerURL == "" {
		t.PeerURL = t.Suite.Candidate.PeerURL
	}
	if t.Log == nil {
		t.Log = slog.New(slog.DiscardHandler)
	}
	e := &env{t: t, suite: t.Suite, net: t.Net, log: t.Log, vectorsOf: map[string]*protocoltest.Member{}}
	e.w = newWire(t.PeerURL, t.Suite.Candidate.TLSPin, t.Suite.Members)
	if t.LocalURL != "" {
		e.local = &localClient{base: t.LocalURL, token: t.LocalToken, hc: &http.Client{Timeout: 30 * time.Second}}
	}
	g, err := trust.ParseGenesis(t.Suite.Genesis, mustEndorsements(t.Suite))
	if err != nil {
		return nil, fmt.Errorf("%w: the suite's genesis: %w", ErrSuite, err)
	}
	e.candidateKeys = trust.NewView(trust.NewState(g))
	for _, m := range []*Identity{t.Suite.A(), t.Suite.B(), t.Suite.R(), t.Suite.C()} {
		pm, err := protocoltest.NewMemberFromSigner(m.Signing[0])
		if err != nil {
			return nil, err
		}
		e.vectorsOf[m.Member] = pm
	}
	if err := e.checkTemplate(); err != nil {
		return nil, err
	}
	if err := e.w.probe(ctx); err != nil {
		return nil, err
	}
	if err := e.waitFresh(ctx, time.Minute); err != nil {
		return nil, err
	}
	rep := &Report{Format: ReportFormat, Suite: Version, Network: t.Suite.File.GenesisSHA256, Candidate: t.Suite.Candidate.Member,
		Node: t.Suite.Candidate.NodeID, Target: t.PeerURL, Started: time.Now().UTC()}
	for _, m := range e.modules() {
		if !e.wants(m) {
			continue
		}
		start := time.Now()
		r := &record{}
		m.run(ctx, e, r)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		res := Result{Plan: m.plan, Module: m.name, Cite: m.cite, Passed: len(r.conditions) == 0, Failures: r.conditions,
			Request: r.request, Answer: r.answer, Took: time.Since(start).Seconds()}
		rep.Results = append(rep.Results, res)
		e.log.Info("conformance", slog.String("plan", m.plan), slog.String("module", m.name), slog.Bool("passed", res.Passed))
	}
	rep.Finished = time.Now().UTC()
	sort.SliceStable(rep.Results, func(i, j int) bool { return planOrder(rep.Results[i].Plan) < planOrder(rep.Results[j].Plan) })
	return rep, nil
}

func planOrder(p string) int {
	switch p {
	case PlanReceiver:
		return 0
	case PlanSender:
		return 1
	}
	return 2
}

// wants says whether the run includes module m.
func (e *env) wants(m module) bool {
	if m.plan == PlanSender && e.local == nil {
		return false
	}
	if e.t.Only != nil && !e.t.Only.MatchString(m.plan+"/"+m.name) {
		return false
	}
	if len(e.t.Plans) == 0 {
		return true
	}
	for _, p := range e.t.Plans {
		if p == m.plan {
			return true
		}
	}
	return false
}

// modules lists every module in the order they run: the registry's set-up
// first (the receiver's key modules depend on it), the receiver plan, the
// sender plan, and the registry plan last (it cuts the candidate off).
func (e *env) modules() []module {
	var ms []module
	ms = append(ms, e.receiverModules()...)
	ms = append(ms, e.senderModules()...)
	ms = append(ms, e.registryModules()...)
	return ms
}

// RunT runs the suite under go test: one subtest a module, failing with
// the module's unmet conditions.
func RunT(t *testing.T, target Target) *Report {
	t.Helper()
	rep, err := Run(context.Background(), target)
	if err != nil {
		t.Fatalf("conformance: %v", err)
	}
	for _, r := range rep.Results {
		t.Run(r.Plan+"/"+r.Module, func(t *testing.T) {
			for _, c := range r.Failures {
				t.Errorf("%s (%s): expected %s, observed %s", c.Check, r.Cite, c.Expected, c.Observed)
			}
		})
	}
	return rep
}

func mustEndorsements(s *Suite) [][]byte {
	ends, err := trust.ParseEndorsementsFile(s.Endorsements, s.Genesis)
	if err != nil {
		return nil
	}
	return ends
}

// status is the part of GET /v1/registry/status the suite reads.
type status struct {
	AppliedIndex uint64 `json:"appliedIndex"`
	ChainHead    string `json:"chainHead"`
	StateHash    string `json:"stateHash"`
	Stale        bool   `json:"stale"`
}

func (e *env) status(ctx context.Context) (status, answer) {
	a := e.w.do(ctx, request{method: http.MethodGet, path: "/v1/registry/status", contentType: "-"})
	var st status
	if a.err == nil && a.status == 200 {
		_ = json.Unmarshal(a.body, &st)
	}
	return st, a
}

// waitFresh waits until the candidate's replica says it is in sync.
func (e *env) waitFresh(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		st, a := e.status(ctx)
		if a.err == nil && a.status == 200 && !st.Stale {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: the candidate's registry replica did not sync with the suite's voters within %s (is the suite's network running, can the candidate reach its raft addresses?)", ErrTarget, d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitApplied waits until the candidate's replica has applied index.
func (e *env) waitApplied(ctx context.Context, index uint64, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if st, a := e.status(ctx); a.err == nil && st.AppliedIndex >= index {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}
