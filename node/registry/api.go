package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ecrn/crvsx/protocol"
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
	Submit(ctx context.Context, data []byte) (Result, error)
	// SubmitLeader applies entry data on the leader only (ErrNotLeader
	// otherwise): the receiving end of a forwarded write.
	SubmitLeader(ctx context.Context, data []byte) (Result, error)
	// ReadIndex returns the leader's commit index (leader only).
	ReadIndex(ctx context.Context) (uint64, error)
	// AddNonvoter adds a registered node to the Raft configuration as a
	// non-voter (leader only).
	AddNonvoter(ctx context.Context, nodeID, address string) error
	// State is the replica's current state; View its trust view.
	State() *State
	View() *TrustView
	// Status and Fresh report staleness (DESIGN.md §14).
	Status() Status
	Fresh() error
	// Bundle exports the trust bundle (DESIGN.md §12).
	Bundle() (*Bundle, error)
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
	// largest entry (DESIGN.md §4) and some slack.
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
		cfg.MaxBody = maxEntryBytes + 64<<10
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
	return notFound(ReasonNotFound, "no registry resource %s %s", r.Method, r.URL.Path)
}

// lookupError is a read of something the registry does not hold: 404
// NOT_FOUND, with the registry's reason (NOT_FOUND, PROPOSAL_UNKNOWN) as
// the "reason" member. Not a refused command.
type lookupError struct{ rej *RejectedError }

func (e *lookupError) Error() string { return e.rej.Error() }

// Unwrap makes ReasonOf work.
func (e *lookupError) Unwrap() error { return e.rej }

func notFound(r Reason, format string, args ...any) error {
	return &lookupError{reject(r, format, args...)}
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

// ---- wire types ----

// APIResult is the answer to a command submission: Result in JSON, plus
// the approvals of the proposal it created or approved.
type APIResult struct {
	Index       uint64    `json:"index"`
	Time        Timestamp `json:"time"`
	EntrySHA256 string    `json:"entrySha256"`
	CommandID   string    `json:"commandId,omitempty"`
	Type        string    `json:"type,omitempty"`
	Issuer      string    `json:"issuer,omitempty"`
	Outcome     Outcome   `json:"outcome"`
	Reason      Reason    `json:"reason,omitempty"`
	Detail      string    `json:"detail,omitempty"`
	Proposal    string    `json:"proposal,omitempty"`
	StateHash   string    `json:"stateHash"`
	ChainHead   string    `json:"chainHead"`
	// Approvals and Required describe the proposal after a "proposed" or
	// "approved" outcome: it needs Required − Approvals more.
	Approvals int `json:"approvals,omitempty"`
	Required  int `json:"required,omitempty"`
}

// ToResult converts back to a Result (the Forwarder's side).
func (r APIResult) ToResult() Result {
	return Result{Index: r.Index, Time: r.Time, EntrySHA256: r.EntrySHA256, CommandID: r.CommandID, Type: r.Type, Issuer: r.Issuer,
		Outcome: r.Outcome, Reason: r.Reason, Detail: r.Detail, Proposal: r.Proposal, StateHash: r.StateHash, ChainHead: r.ChainHead}
}

func apiResult(res Result, s *State) APIResult {
	out := APIResult{Index: res.Index, Time: res.Time, EntrySHA256: res.EntrySHA256, CommandID: res.CommandID, Type: res.Type,
		Issuer: res.Issuer, Outcome: res.Outcome, Reason: res.Reason, Detail: res.Detail, Proposal: res.Proposal,
		StateHash: res.StateHash, ChainHead: res.ChainHead}
	if s != nil && res.Proposal != "" && (res.Outcome == OutcomeProposed || res.Outcome == OutcomeApproved) {
		if p, ok := s.Proposal(res.Proposal); ok {
			out.Approvals = len(p.Approvals)
			out.Required, _ = s.RequiredApprovals(p.Type)
		}
	}
	return out
}

// APIStatus is GET /v1/registry/status: Status in JSON.
type APIStatus struct {
	NodeID                string     `json:"nodeId"`
	GenesisSHA256         string     `json:"genesisSha256"`
	Role                  string     `json:"role"`
	Suffrage              string     `json:"suffrage,omitempty"`
	Leader                *APILeader `json:"leader,omitempty"`
	Term                  uint64     `json:"term"`
	AppliedIndex          uint64     `json:"appliedIndex"`
	CommitIndex           uint64     `json:"commitIndex"`
	LastIndex             uint64     `json:"lastIndex"`
	ConsensusTime         Timestamp  `json:"consensusTime"`
	StateHash             string     `json:"stateHash"`
	ChainHead             string     `json:"chainHead"`
	LastLeaderContact     *time.Time `json:"lastLeaderContact,omitempty"`
	SyncedAt              *time.Time `json:"syncedAt,omitempty"`
	StalenessSeconds      float64    `json:"stalenessSeconds"`
	StalenessBoundSeconds float64    `json:"stalenessBoundSeconds"`
	Stale                 bool       `json:"stale"`
	SnapshotsRestored     uint64     `json:"snapshotsRestored"`
	SnapshotError         string     `json:"snapshotError,omitempty"`
	Failed                string     `json:"failed,omitempty"`
}

// APILeader names the leader and, if registered, its API URL.
type APILeader struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	APIURL  string `json:"apiUrl,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func apiStatus(st Status, v *TrustView) APIStatus {
	out := APIStatus{NodeID: st.NodeID, Role: st.Role, Suffrage: st.Suffrage, Term: st.Term,
		AppliedIndex: st.AppliedIndex, CommitIndex: st.CommitIndex, LastIndex: st.LastIndex, ConsensusTime: st.ConsensusTime,
		StateHash: st.StateHash, ChainHead: st.ChainHead, LastLeaderContact: optTime(st.LastLeaderContact), SyncedAt: optTime(st.SyncedAt),
		StalenessSeconds: st.Staleness.Seconds(), StalenessBoundSeconds: st.StalenessBound.Seconds(), Stale: st.Stale,
		SnapshotsRestored: st.SnapshotsRestored}
	if v != nil {
		out.GenesisSHA256 = v.GenesisHash()
	}
	if st.Leader.ID != "" {
		out.Leader = &APILeader{ID: st.Leader.ID, Address: st.Leader.Address}
		if v != nil {
			if n, ok := v.Node(st.Leader.ID); ok {
				out.Leader.APIURL = n.APIURL
			}
		}
	}
	if st.SnapshotError != nil {
		out.SnapshotError = st.SnapshotError.Error()
	}
	if st.Failed != nil {
		out.Failed = st.Failed.Error()
	}
	return out
}

// APIMembers is GET /v1/registry/members.
type APIMembers struct {
	AppliedIndex uint64   `json:"appliedIndex"`
	Members      []Member `json:"members"`
}

// APIKeys is GET /v1/registry/keys[?member=CC][&role=R][&status=S].
type APIKeys struct {
	AppliedIndex uint64 `json:"appliedIndex"`
	Keys         []Key  `json:"keys"`
}

// APINodes is GET /v1/registry/nodes.
type APINodes struct {
	AppliedIndex uint64 `json:"appliedIndex"`
	Nodes        []Node `json:"nodes"`
}

// APIProposal is an open proposal with its count: it executes once
// Approvals reaches Required (recounted at each approval, DESIGN.md §6).
type APIProposal struct {
	Proposal
	Required int `json:"required"`
}

// APIProposals is GET /v1/registry/proposals.
type APIProposals struct {
	AppliedIndex  uint64        `json:"appliedIndex"`
	ConsensusTime Timestamp     `json:"consensusTime"`
	Proposals     []APIProposal `json:"proposals"`
}

// APIPolicy is GET /v1/registry/policy.
type APIPolicy struct {
	GenesisSHA256 string    `json:"genesisSha256"`
	AppliedIndex  uint64    `json:"appliedIndex"`
	ConsensusTime Timestamp `json:"consensusTime"`
	ActiveMembers int       `json:"activeMembers"`
	Policy        Policy    `json:"policy"`
}

// APIReadIndex is POST /v1/registry/read-index.
type APIReadIndex struct {
	Index uint64 `json:"index"`
}

// ---- problems ----

// APIProblem is the problem document of the registry API: RFC 9457 with
// the network's members, plus the registry's stable reason, the result of
// a rejected command, and the leader when a request belongs there.
type APIProblem struct {
	protocol.Problem
	Reason Reason     `json:"reason,omitempty"`
	Result *APIResult `json:"result,omitempty"`
	Leader *APILeader `json:"leader,omitempty"`
	// Cause names the shell error behind an UNAVAILABLE problem
	// ("not-leader", "no-leader", "timeout", "leader-clock-behind"), so
	// that a forwarded error keeps its class.
	Cause string `json:"cause,omitempty"`
}

// problemOf maps an error to the problem document (the one place the API
// turns errors into problems) and says whether it is a server fault.
func (a *API) problemOf(err error) APIProblem {
	var (
		le  *lookupError
		re  *RejectedError
		se  *StaleError
		pe  *protocol.Error
		out APIProblem
	)
	switch {
	case errors.As(err, &le):
		out.Problem = protocol.ProblemFor(&protocol.Error{Code: protocol.CodeNotFound, Detail: le.rej.Detail})
		out.Reason = le.rej.Reason
	case errors.As(err, &pe):
		out.Problem = protocol.ProblemFor(pe)
	case errors.As(err, &se) || errors.Is(err, ErrStale):
		// A fixed detail: the cause (transport, forwarding) is logged, not
		// sent to a client that may not be a member.
		out.Problem = protocol.ProblemFor(&protocol.Error{Code: protocol.CodeRegistryStale, Detail: "this node's registry replica is past its staleness bound; retry later or on another node"})
	case errors.As(err, &re):
		code := protocol.CodeRegistryRejected
		if re.Reason == ReasonNodePinMismatch {
			code = protocol.CodeNodePinMismatch
		}
		out.Problem = protocol.ProblemFor(&protocol.Error{Code: code, Detail: re.Error()})
		out.Reason = re.Reason
	case errors.Is(err, ErrUnavailable):
		out.Cause = causeOf(err)
		detail := "the registry cannot take this now; retry the same command"
		if out.Cause != "" {
			detail = "the registry cannot take this now (" + out.Cause + "); retry the same command"
		}
		out.Problem = protocol.ProblemFor(&protocol.Error{Code: protocol.CodeUnavailable, Detail: detail})
	case errors.Is(err, ErrNodeNotRegistered):
		out.Problem = protocol.ProblemFor(&protocol.Error{Code: protocol.CodeRegistryRejected, Detail: err.Error()})
		out.Reason = ReasonNodeUnknown
	default:
		out.Problem = protocol.ProblemFor(err) // INTERNAL, generic detail
	}
	return out
}

// problem writes err as a problem document; extra fills the registry
// members (result, leader).
func (a *API) problem(w http.ResponseWriter, r *http.Request, err error, extra func(*APIProblem)) {
	p := a.problemOf(err)
	if extra != nil {
		extra(&p)
	}
	p.Instance = r.URL.Path
	if p.Status >= 500 {
		a.cfg.Logger.Error("registry API", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("code", string(p.Code)), slog.Any("err", err))
	} else {
		a.cfg.Logger.Warn("registry API", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("code", string(p.Code)),
			slog.String("reason", string(p.Reason)), slog.Any("err", err))
	}
	if p.Code == protocol.CodeUnavailable || p.Code == protocol.CodeRegistryStale {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, p.Status, protocol.ProblemContentType, p)
}

func writeJSON(w http.ResponseWriter, status int, ctype string, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (a *API) ok(w http.ResponseWriter, v any) { writeJSON(w, http.StatusOK, MediaJSON, v) }

// ---- handlers ----

// postCommands: POST /v1/registry/commands, body the entry data (one or
// more compact JWS over one payload, LF-separated), application/jose.
func (a *API) postCommands(w http.ResponseWriter, r *http.Request) {
	if err := checkMediaType(r, MediaJOSE); err != nil {
		a.problem(w, r, err, nil)
		return
	}
	data, err := readBody(w, r, a.cfg.MaxBody)
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
	var res Result
	if by := r.Header.Get(HeaderForwardedBy); by != "" {
		// > DESIGN §13: the leader stamps and applies a forwarded write;
		// > a node that is no longer the leader answers ErrNotLeader and
		// > the follower retries with the new leader — never a second hop.
		res, err = a.cfg.Backend.SubmitLeader(r.Context(), data)
	} else {
		res, err = a.cfg.Backend.Submit(r.Context(), data)
	}
	if err != nil {
		a.problem(w, r, err, func(p *APIProblem) { p.Leader = a.leader() })
		return
	}
	out := apiResult(res, a.appliedState(r.Context(), res.Index))
	if res.Outcome == OutcomeRejected {
		a.problem(w, r, res.Err(), func(p *APIProblem) { p.Result = &out })
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
func (a *API) appliedState(ctx context.Context, index uint64) *State {
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

// unauthenticatedReasons are the refusals of DESIGN.md §5 steps 1–5: the
// entry is not a command signed by a key of the registry. They burn no id
// and move no time; the API refuses them without submitting, so that
// anonymous junk never costs every node a log entry forever.
var unauthenticatedReasons = map[Reason]bool{
	ReasonMalformedEntry: true, ReasonMalformedCommand: true, ReasonWrongNetwork: true,
	ReasonUnknownType: true, ReasonUnknownKey: true, ReasonBadSignature: true,
}

// precheck runs Apply on this replica's state as a dry run (pure, nothing
// is kept) and refuses the entry if it fails before authentication. A key
// added moments ago on the leader may not be here yet: the problem says so
// and the client retries. Everything else goes to the leader, whose Apply
// decides.
func (a *API) precheck(data []byte) error {
	s := a.cfg.Backend.State()
	_, res, err := Apply(s, Entry{Index: s.AppliedIndex() + 1, Time: max(s.ConsensusTime(), TimestampOf(a.cfg.Clock())), Data: data})
	if err != nil || res.Outcome != OutcomeRejected || !unauthenticatedReasons[res.Reason] {
		return nil
	}
	detail := res.Detail + "; not submitted"
	if res.Reason == ReasonUnknownKey {
		detail += fmt.Sprintf(" (this node's registry is at index %d: a key added since is not known here yet; retry later)", s.AppliedIndex())
	}
	return &RejectedError{Reason: res.Reason, Detail: detail}
}

// checkEntryShape refuses what can never be an entry (DESIGN.md §5 step
// 1) before it costs a log entry: 1…64 LF-separated compact JWS.
func checkEntryShape(data []byte) error {
	if len(data) == 0 {
		return &protocol.Error{Code: protocol.CodeNotCompact, Detail: "empty body: want one or more compact JWS separated by LF"}
	}
	if len(data) > maxEntryBytes {
		return &protocol.Error{Code: protocol.CodeTooLarge, Detail: fmt.Sprintf("entry of %d bytes exceeds %d", len(data), maxEntryBytes)}
	}
	parts := bytes.Split(data, []byte{'\n'})
	if len(parts) > maxEntrySignatures {
		return &protocol.Error{Code: protocol.CodeNotCompact, Detail: fmt.Sprintf("%d signatures exceed %d", len(parts), maxEntrySignatures)}
	}
	for i, p := range parts {
		if bytes.Count(p, []byte{'.'}) != 2 || len(p) > protocol.MaxMessageBytes {
			return &protocol.Error{Code: protocol.CodeNotCompact, Detail: fmt.Sprintf("line %d is not a compact JWS (no trailing LF, no blank lines)", i+1)}
		}
	}
	return nil
}

func checkMediaType(r *http.Request, want string) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != want {
		return &protocol.Error{Code: protocol.CodeUnsupported, Detail: fmt.Sprintf("Content-Type must be %s", want)}
	}
	return nil
}

// readBody reads at most limit bytes, refusing a larger body before
// reading it (Content-Length) or as soon as it passes the limit.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	tooLarge := &protocol.Error{Code: protocol.CodeTooLarge, Detail: fmt.Sprintf("body larger than %d bytes", limit)}
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, &protocol.Error{Code: protocol.CodePayloadJSON, Detail: "the body could not be read", Err: err}
	}
	return b, nil
}

func (a *API) getStatus(w http.ResponseWriter, r *http.Request) {
	a.ok(w, apiStatus(a.cfg.Backend.Status(), a.cfg.Backend.View()))
}

func (a *API) getMembers(w http.ResponseWriter, r *http.Request) {
	s := a.cfg.Backend.State()
	a.ok(w, APIMembers{AppliedIndex: s.AppliedIndex(), Members: s.Members()})
}

func (a *API) getMember(w http.ResponseWriter, r *http.Request) {
	s := a.cfg.Backend.State()
	m, ok := s.Member(r.PathValue("id"))
	if !ok {
		a.problem(w, r, notFound(ReasonNotFound, "unknown member %q", r.PathValue("id")), nil)
		return
	}
	a.ok(w, APIMembers{AppliedIndex: s.AppliedIndex(), Members: []Member{m}})
}

func (a *API) getKeys(w http.ResponseWriter, r *http.Request) {
	s := a.cfg.Backend.State()
	q := r.URL.Query()
	member, role, status := q.Get("member"), q.Get("role"), q.Get("status")
	if member != "" {
		if _, ok := s.Member(member); !ok {
			a.problem(w, r, notFound(ReasonNotFound, "unknown member %q", member), nil)
			return
		}
	}
	keys := slices.DeleteFunc(s.Keys(), func(k Key) bool {
		return (member != "" && k.Member != member) || (role != "" && k.Role != role) || (status != "" && k.Status != status)
	})
	a.ok(w, APIKeys{AppliedIndex: s.AppliedIndex(), Keys: keys})
}

func (a *API) getKey(w http.ResponseWriter, r *http.Request) {
	s := a.cfg.Backend.State()
	k, ok := s.Key(r.PathValue("kid"))
	if !ok {
		a.problem(w, r, notFound(ReasonNotFound, "unknown key %q", r.PathValue("kid")), nil)
		return
	}
	a.ok(w, APIKeys{AppliedIndex: s.AppliedIndex(), Keys: []Key{k}})
}

func (a *API) getNodes(w http.ResponseWriter, r *http.Request) {
	s := a.cfg.Backend.State()
	a.ok(w, APINodes{AppliedIndex: s.AppliedIndex(), Nodes: s.Nodes()})
}

func apiProposal(s *State, p Proposal) APIProposal {
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
		rej := notFound(ReasonProposalUnknown, "no open proposal %q: it expired, was executed, or never existed", r.PathValue("id"))
		if idx, used := s.UsedID(r.PathValue("id")); used {
			rej = notFound(ReasonProposalUnknown, "proposal %q is no longer open (its command is at index %d): it expired or was executed", r.PathValue("id"), idx)
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
		if m.Status == StatusActive {
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
		a.problem(w, r, err, func(p *APIProblem) { p.Leader = a.leader() })
		return
	}
	a.ok(w, APIReadIndex{Index: idx})
}

// peerNode is the registered node behind the request's TLS client key.
func (a *API) peerNode(r *http.Request) (Node, error) {
	if r.TLS == nil {
		return Node{}, reject(ReasonNodePinMismatch, "peer endpoints need mutual TLS with the node's registered key")
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
