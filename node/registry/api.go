package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ecrn/crvsx/node/internal/httpio"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/trust"
)

// The registry's HTTP API (DESIGN.md §13, §14): what a node mounts for
// operators (the crvsx registry commands) and for its peers (write
// forwarding, read index, join). Reads are local (this node's replica);
// writes go through Backend.Submit, which forwards to the leader. Every
// refusal is an RFC 9457 problem (protocol.ProblemFor), with the registry's
// stable reason as the "reason" extension member; every response carries
// the replica's staleness headers.

// API paths.
const (
	PathCommands      = "/v1/registry/commands"
	PathStatus        = "/v1/registry/status"
	PathMembers       = "/v1/registry/members"
	PathKeys          = "/v1/registry/keys"
	PathNodes         = "/v1/registry/nodes"
	PathRequesters    = "/v1/registry/requesters"
	PathProposals     = "/v1/registry/proposals"
	PathPolicy        = "/v1/registry/policy"
	PathBundle        = "/v1/registry/bundle"
	PathReadIndex     = "/v1/registry/read-index"
	PathJoinChallenge = "/v1/registry/join/challenge"
	PathJoin          = "/v1/registry/join"
)

// Response headers on every API response (DESIGN.md §14).
const (
	HeaderIndex       = "Crvs-Registry-Index"        // applied index of this replica
	HeaderStaleness   = "Crvs-Registry-Staleness"    // seconds since the replica was last in sync
	HeaderStale       = "Crvs-Registry-Stale"        // "true" past the staleness bound
	HeaderLastContact = "Crvs-Registry-Last-Contact" // RFC 3339 time of the last contact with a leader
	HeaderChainHead   = "Crvs-Registry-Chain-Head"   // chain head of the replica
	// HeaderForwardedBy marks a write forwarded by a follower (its node
	// id): the receiver must be the leader and never forwards it again.
	HeaderForwardedBy = "Crvs-Registry-Forwarded-By"
)

// Media types.
const (
	MediaJOSE = "application/jose"
	MediaJSON = "application/json"
)

// maxJoinBody bounds the JSON body of the join endpoints.
const maxJoinBody = 4 << 10

// Backend is what the API needs from the Raft shell (*Registry).
type Backend interface {
	// Submit applies entry data through Raft, forwarding to the leader
	// from a follower.
	Submit(ctx context.Context, data []byte) (trust.Result, error)
	// SubmitLeader applies entry data on the leader only (ErrNotLeader
	// otherwise): the receiving end of a forwarded write.
	SubmitLeader(ctx context.Context, data []byte) (trust.Result, error)
	// ReadIndex returns the leader's commit index (leader only).
	ReadIndex(ctx context.Context) (uint64, error)
	// AddNonvoter adds a registered node to the Raft configuration as a
	// non-voter (leader only).
	AddNonvoter(ctx context.Context, nodeID, address string) error
	// State is the replica's current state; View its trust view.
	State() *trust.State
	View() *trust.View
	// Status and Fresh report staleness (DESIGN.md §14).
	Status() Status
	Fresh() error
	// Bundle exports the trust bundle (REGISTRY.md §12).
	Bundle() (*trust.Bundle, error)
}

// APIConfig configures the API handler.
type APIConfig struct {
	Backend Backend
	// Logger: 4xx at warn, 5xx at error with the internal cause. nil
	// discards.
	Logger *slog.Logger
	// Clock for join challenges; nil means time.Now.
	Clock func() time.Time
	// MaxBody bounds a command submission; 0 means 1 MiB + 64 KiB, the
	// largest entry (REGISTRY.md §4) and some slack.
	MaxBody int64
}

// API is the registry's http.Handler. It is safe for concurrent use.
type API struct {
	cfg         APIConfig
	mux         *http.ServeMux
	join        *joinService
	bundleCache bundleCache
}

// NewAPI returns the registry API handler.
func NewAPI(cfg APIConfig) (*API, error) {
	if cfg.Backend == nil {
		return nil, errors.New("registry: APIConfig.Backend is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = trust.MaxEntryBytes + 64<<10
	}
	a := &API{cfg: cfg, mux: http.NewServeMux()}
	a.join = newJoinService(cfg.Backend, cfg.Clock)
	a.mux.HandleFunc("POST "+PathCommands, a.postCommands)
	a.mux.HandleFunc("GET "+PathStatus, a.getStatus)
	a.mux.HandleFunc("GET "+PathMembers, a.getMembers)
	a.mux.HandleFunc("GET "+PathMembers+"/{id}", a.getMember)
	a.mux.HandleFunc("GET "+PathKeys, a.getKeys)
	a.mux.HandleFunc("GET "+PathKeys+"/{kid}", a.getKey)
	a.mux.HandleFunc("GET "+PathNodes, a.getNodes)
	a.mux.HandleFunc("GET "+PathRequesters, a.getRequesters)
	a.mux.HandleFunc("GET "+PathRequesters+"/{id}", a.getRequester)
	a.mux.HandleFunc("GET "+PathProposals, a.getProposals)
	a.mux.HandleFunc("GET "+PathProposals+"/{id}", a.getProposal)
	a.mux.HandleFunc("GET "+PathPolicy, a.getPolicy)
	a.mux.HandleFunc("GET "+PathBundle, a.getBundle)
	a.mux.HandleFunc("POST "+PathReadIndex, a.postReadIndex)
	a.mux.HandleFunc("POST "+PathJoinChallenge, a.postJoinChallenge)
	a.mux.HandleFunc("POST "+PathJoin, a.postJoin)
	return a, nil
}

// ServeHTTP sets the staleness headers and routes the request; an unknown
// path or method is a problem document too.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.stalenessHeaders(w.Header())
	if _, pattern := a.mux.Handler(r); pattern == "" {
		a.problem(w, r, notFoundError(r), nil)
		return
	}
	a.mux.ServeHTTP(w, r)
}

func notFoundError(r *http.Request) error {
	return notFound(trust.ReasonNotFound, "no registry resource %s %s", r.Method, r.URL.Path)
}

func (a *API) stalenessHeaders(h http.Header) {
	st := a.cfg.Backend.Status()
	h.Set(HeaderIndex, strconv.FormatUint(st.AppliedIndex, 10))
	h.Set(HeaderStaleness, strconv.FormatInt(int64(st.Staleness/time.Second), 10))
	h.Set(HeaderStale, strconv.FormatBool(st.Stale))
	if !st.LastLeaderContact.IsZero() {
		h.Set(HeaderLastContact, st.LastLeaderContact.UTC().Format(time.RFC3339))
	}
	if st.ChainHead != "" {
		h.Set(HeaderChainHead, st.ChainHead)
	}
}

func (a *API) ok(w http.ResponseWriter, v any) { httpio.WriteJSON(w, http.StatusOK, MediaJSON, v) }

// ---- handlers ----

// postCommands: POST /v1/registry/commands, body the entry data (one or
// more compact JWS over one payload, LF-separated), application/jose.
func (a *API) postCommands(w http.ResponseWriter, r *http.Request) {
	if err := httpio.CheckContentType(r, MediaJOSE); err != nil {
		a.problem(w, r, err, nil)
		return
	}
	data, err := httpio.ReadBody(w, r, a.cfg.MaxBody)
	if err != nil {
		a.problem(w, r, err, nil)
		return
	}
	if err := checkEntryShape(data); err != nil {
		a.problem(w, r, err, nil)
		return
	}
	if err := a.precheck(data); err != nil {
		a.problem(w, r, err, nil)
		return
	}
	var res trust.Result
	if by := r.Header.Get(HeaderForwardedBy); by != "" {
		// > DESIGN.md §13: the leader stamps and applies a forwarded write;
		// > a node that is no longer the leader answers ErrNotLeader and
		// > the follower retries with the new leader — never a second hop.
		res, err = a.cfg.Backend.SubmitLeader(r.Context(), data)
	} else {
		res, err = a.cfg.Backend.Submit(r.Context(), data)
	}
	if err != nil {
		a.problem(w, r, err, a.withLeader)
		return
	}
	out := apiResult(res, a.appliedState(r.Context(), res.Index))
	if res.Outcome == trust.OutcomeRejected {
		a.problem(w, r, res.Err(), func(e *apiError) { e.result, _ = json.Marshal(out) })
		return
	}
	a.ok(w, out)
}

// readYourWritesWait bounds how long a write's answer waits for this
// replica to apply the entry (a follower learns the commit a heartbeat
// later), so that the answer's counts and the next read on this node
// reflect the write.
const readYourWritesWait = 2 * time.Second

// appliedState waits until this replica has applied index (bounded by
// readYourWritesWait and ctx) and returns its state.
func (a *API) appliedState(ctx context.Context, index uint64) *trust.State {
	deadline := time.Now().Add(readYourWritesWait)
	for {
		s := a.cfg.Backend.State()
		if s.AppliedIndex() >= index || time.Now().After(deadline) || ctx.Err() != nil {
			return s
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (a *API) leader() *APILeader {
	st := a.cfg.Backend.Status()
	if st.Leader.ID == "" {
		return nil
	}
	l := &APILeader{ID: st.Leader.ID, Address: st.Leader.Address}
	if v := a.cfg.Backend.View(); v != nil {
		if n, ok := v.Node(l.ID); ok {
			l.APIURL = n.APIURL
		}
	}
	return l
}

// unauthenticatedReasons are the refusals of REGISTRY.md §5 steps 1–5: the
// entry is not a command signed by a key of the registry. They burn no id
// and move no time; the API refuses them without submitting, so that
// anonymous junk never costs every node a log entry forever.
var unauthenticatedReasons = map[trust.Reason]bool{
	trust.ReasonMalformedEntry: true, trust.ReasonMalformedCommand: true, trust.ReasonWrongNetwork: true,
	trust.ReasonUnknownType: true, trust.ReasonUnknownKey: true, trust.ReasonBadSignature: true,
}

// precheck runs Apply on this replica's state as a dry run (pure, nothing
// is kept) and refuses the entry if it fails before authentication. A key
// added moments ago on the leader may not be here yet: the problem says so
// and the client retries. Everything else goes to the leader, whose Apply
// decides.
func (a *API) precheck(data []byte) error {
	s := a.cfg.Backend.State()
	_, res, err := trust.Apply(s, trust.Entry{Index: s.AppliedIndex() + 1, Time: max(s.ConsensusTime(), trust.TimestampOf(a.cfg.Clock())), Data: data})
	if err != nil || res.Outcome != trust.OutcomeRejected || !unauthenticatedReasons[res.Reason] {
		return nil
	}
	detail := res.Detail + "; not submitted"
	if res.Reason == trust.ReasonUnknownKey {
		detail += fmt.Sprintf(" (this node's registry is at index %d: a key added since is not known here yet; retry later)", s.AppliedIndex())
	}
	return &trust.RejectedError{Reason: res.Reason, Detail: detail}
}

// checkEntryShape refuses what can never be an entry (REGISTRY.md §5 step
// 1) before it costs a log entry: 1…64 LF-separated compact JWS.
func checkEntryShape(data []byte) error {
	if len(data) == 0 {
		return &protocol.Error{Code: protocol.CodeNotCompact, Detail: "empty body: want one or more compact JWS separated by LF"}
	}
	if len(data) > trust.MaxEntryBytes {
		return &protocol.Error{Code: protocol.CodeTooLarge, Detail: fmt.Sprintf("entry of %d bytes exceeds %d", len(data), trust.MaxEntryBytes)}
	}
	parts := bytes.Split(data, []byte{'\n'})
	if len(parts) > trust.MaxEntrySignatures {
		return &protocol.Error{Code: protocol.CodeNotCompact, Detail: fmt.Sprintf("%d signatures exceed %d", len(parts), trust.MaxEntrySignatures)}
	}
	for i, p := range parts {
		if bytes.Count(p, []byte{'.'}) != 2 || len(p) > protocol.MaxMessageBytes {
			return &protocol.Error{Code: protocol.CodeNotCompact, Detail: fmt.Sprintf("line %d is not a compact JWS (no trailing LF, no blank lines)", i+1)}
		}
	}
	return nil
}

func (a *API) getStatus(w http.ResponseWriter, r *http.Request) {
	a.ok(w, apiStatus(a.cfg.Backend.Status(), a.cfg.Backend.View()))
}

func (a *API) getMembers(w http.ResponseWriter, r *http.Request) {
	s := a.cfg.Backend.State()
	a.ok(w, APIMembers{AppliedIndex: s.AppliedIndex(), Members: s.Members()})
}

func (a *API) getMember(w http.ResponseWriter, r *http.Request) {
	getOne(a, w, r, "id", "member", (*trust.State).Member, func(s *trust.State, m trust.Member) any {
		return APIMembers{AppliedIndex: s.AppliedIndex(), Members: []trust.Member{m}}
	})
}

// getOne answers the GET of one object named by the path value param:
// NOT_FOUND if the replica's state has none, else answer(state, object).
func getOne[T any](a *API, w http.ResponseWriter, r *http.Request, param, what string, lookup func(*trust.State, string) (T, bool), answer func(*trust.State, T) any) {
	s := a.cfg.Backend.State()
	v, ok := lookup(s, r.PathValue(param))
	if !ok {
		a.problem(w, r, notFound(trust.ReasonNotFound, "unknown %s %q", what, r.PathValue(param)), nil)
		return
	}
	a.ok(w, answer(s, v))
}

func (a *API) getKeys(w http.ResponseWriter, r *http.Request) {
	s := a.cfg.Backend.State()
	q := r.URL.Query()
	member, role, status := q.Get("member"), q.Get("role"), q.Get("status")
	if member != "" {
		if _, ok := s.Member(member); !ok {
			a.problem(w, r, notFound(trust.ReasonNotFound, "unknown member %q", member), nil)
			return
		}
	}
	keys := slices.DeleteFunc(s.Keys(), func(k trust.Key) bool {
		return (member != "" && k.Member != member) || (role != "" && k.Role != role) || (status != "" && k.Status != status)
	})
	a.ok(w, APIKeys{AppliedIndex: s.AppliedIndex(), Keys: keys})
}

func (a *API) getKey(w http.ResponseWriter, r *http.Request) {
	getOne(a, w, r, "kid", "key", (*trust.State).Key, func(s *trust.State, k trust.Key) any {
		return APIKeys{AppliedIndex: s.AppliedIndex(), Keys: []trust.Key{k}}
	})
}

func (a *API) getNodes(w http.ResponseWriter, r *http.Request) {
	s := a.cfg.Backend.State()
	a.ok(w, APINodes{AppliedIndex: s.AppliedIndex(), Nodes: s.Nodes()})
}

// getRequesters lists the requesters (protocol/REGISTRY.md §2.1) with
// their keys, scope, pin, rate and status history.
func (a *API) getRequesters(w http.ResponseWriter, r *http.Request) {
	s := a.cfg.Backend.State()
	a.ok(w, APIRequesters{AppliedIndex: s.AppliedIndex(), Requesters: s.Requesters()})
}

func (a *API) getRequester(w http.ResponseWriter, r *http.Request) {
	getOne(a, w, r, "id", "requester", (*trust.State).Requester, func(s *trust.State, q trust.RequesterRecord) any {
		return APIRequesters{AppliedIndex: s.AppliedIndex(), Requesters: []trust.RequesterRecord{q}}
	})
}

func apiProposal(s *trust.State, p trust.Proposal) APIProposal {
	req, _ := s.RequiredApprovals(p.Type)
	return APIProposal{Proposal: p, Required: req}
}

func (a *API) getProposals(w http.ResponseWriter, r *http.Request) {
	s := a.cfg.Backend.State()
	out := APIProposals{AppliedIndex: s.AppliedIndex(), ConsensusTime: s.ConsensusTime(), Proposals: []APIProposal{}}
	for _, p := range s.Proposals() {
		out.Proposals = append(out.Proposals, apiProposal(s, p))
	}
	a.ok(w, out)
}

func (a *API) getProposal(w http.ResponseWriter, r *http.Request) {
	s := a.cfg.Backend.State()
	p, ok := s.Proposal(r.PathValue("id"))
	if !ok {
		rej := notFound(trust.ReasonProposalUnknown, "no open proposal %q: it expired, was executed, or never existed", r.PathValue("id"))
		if idx, used := s.UsedID(r.PathValue("id")); used {
			rej = notFound(trust.ReasonProposalUnknown, "proposal %q is no longer open (its command is at index %d): it expired or was executed", r.PathValue("id"), idx)
		}
		a.problem(w, r, rej, nil)
		return
	}
	a.ok(w, APIProposals{AppliedIndex: s.AppliedIndex(), ConsensusTime: s.ConsensusTime(), Proposals: []APIProposal{apiProposal(s, p)}})
}

func (a *API) getPolicy(w http.ResponseWriter, r *http.Request) {
	s := a.cfg.Backend.State()
	active := 0
	for _, m := range s.Members() {
		if m.Status == trust.StatusActive {
			active++
		}
	}
	a.ok(w, APIPolicy{GenesisSHA256: s.GenesisHash(), AppliedIndex: s.AppliedIndex(), ConsensusTime: s.ConsensusTime(), ActiveMembers: active, Policy: s.Policy()})
}

func (a *API) getBundle(w http.ResponseWriter, r *http.Request) {
	// The bundle changes only with the applied index: anyone may ask for
	// it, so it is built once per index, not once per request.
	idx := a.cfg.Backend.State().AppliedIndex()
	data := a.bundleCache.get(idx)
	if data == nil {
		b, err := a.cfg.Backend.Bundle()
		if err != nil {
			a.problem(w, r, err, nil)
			return
		}
		if data, err = b.Marshal(); err != nil {
			a.problem(w, r, err, nil)
			return
		}
		a.bundleCache.put(idx, data)
	}
	w.Header().Set("Content-Type", MediaJSON)
	w.Header().Set("Content-Disposition", `attachment; filename="trust-bundle.json"`)
	w.Write(data)
}

// postReadIndex is a peer endpoint: the leader's commit index for a
// follower's linearizable read (DESIGN.md §13). Only registered nodes may
// ask (the TLS client key must be pinned).
func (a *API) postReadIndex(w http.ResponseWriter, r *http.Request) {
	if _, err := a.peerNode(r); err != nil {
		a.problem(w, r, err, nil)
		return
	}
	idx, err := a.cfg.Backend.ReadIndex(r.Context())
	if err != nil {
		a.problem(w, r, err, a.withLeader)
		return
	}
	a.ok(w, APIReadIndex{Index: idx})
}

// peerNode is the registered node behind the request's TLS client key.
func (a *API) peerNode(r *http.Request) (trust.Node, error) {
	if r.TLS == nil {
		return trust.Node{}, trust.Rejectf(trust.ReasonNodePinMismatch, "peer endpoints need mutual TLS with the node's registered key")
	}
	return verifyPeer(a.cfg.Backend.View, *r.TLS, nil)
}

// bundleCache keeps the marshalled bundle of one applied index.
type bundleCache struct {
	mu    sync.Mutex
	index uint64
	data  []byte
}

func (c *bundleCache) get(index uint64) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.data != nil && c.index == index {
		return c.data
	}
	return nil
}

func (c *bundleCache) put(index uint64, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index, c.data = index, data
}
