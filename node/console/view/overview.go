package view

import (
	"slices"
	"time"

	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol/trust"
)

// Overview is the secretariat's network view.
type Overview struct {
	Now          time.Time
	Members      []MemberRow
	Registry     RegistryHealth
	Keys         []KeyRow // every active key, soonest expiry first: the expiry calendar
	Proposals    []ProposalRow
	Certificates []CertRow
	Requesters   []RequesterRow
}

// MemberRow is one member in the overview.
type MemberRow struct {
	ID, Name  string
	Status    string // trust.Status*
	StatusKey string // message key
	Nodes     []NodeRow
}

// NodeRow is a member's node: its endpoints and registry role.
type NodeRow struct {
	ID, Member  string
	APIURL      string
	RaftAddress string
	TLSPin      string // the SPKI SHA-256 pinned for its TLS key
	Role        string // trust.RoleVoter / RoleNonvoter as applied
	RoleKey     string
	DesiredRole string
}

// RegistryHealth is this node's knowledge of the registry cluster.
type RegistryHealth struct {
	NodeID        string
	Role          string // registry.Raft*
	RoleKey       string
	LeaderID      string // "" when no leader is known
	LeaderKey     string // "registry.no-leader" when none, else ""
	Term          uint64
	AppliedIndex  uint64
	CommitIndex   uint64
	SyncedAt      time.Time
	Staleness     time.Duration
	Bound         time.Duration
	Stale         bool
	FreshnessKey  string // registry.fresh, registry.stale or registry.never-synced
	ConsensusTime time.Time
	Replicas      []Replica
}

// Replica is one server of the Raft configuration. This node knows its own
// applied index and staleness; another replica's are known when it
// answered this node's request for its registry status (a ReplicaReport,
// ApplyReplicaReports), else Known=false with the reason.
type Replica struct {
	ID, Address  string
	Suffrage     string
	SuffrageKey  string
	Leader, Self bool
	Known        bool // AppliedIndex and Staleness are known (this node, or the replica's answer)
	AppliedIndex uint64
	Staleness    time.Duration
	Stale        bool
	UnknownKey   string // registry.replica.unknown or registry.replica.unreachable when !Known
	Reason       string // a Replica* reason code when !Known and the replica was not asked or did not answer
}

// ReplicaReport is what another replica answered when this node asked for
// its registry status (GET /v1/registry/status over the peer API, pinned
// mutual TLS), or why there is no answer (Failure).
type ReplicaReport struct {
	AppliedIndex uint64
	Staleness    time.Duration // as the replica measures its own
	Stale        bool
	Failure      string // "" when it answered, else a Replica* reason code
}

// Reason codes of a replica whose status is not known. Stable: they are
// shown as they are (like problem codes) and tests match them.
const (
	// ReplicaNotRegistered: no registered node (with an https apiUrl and a
	// TLS pin) has the server's id, so it cannot be asked: not known.
	ReplicaNotRegistered = "not-registered"
	// ReplicaTimeout: no answer within the time allowed.
	ReplicaTimeout = "timeout"
	// ReplicaConnectFailed: the connection to its apiUrl failed.
	ReplicaConnectFailed = "connect-failed"
	// ReplicaPinMismatch: the server's TLS key is not the one registered.
	ReplicaPinMismatch = "pin-mismatch"
	// ReplicaBadAnswer: an answer that is not its registry status (an
	// error status, a problem document, another node's id, or too large).
	ReplicaBadAnswer = "bad-answer"
	// ReplicaFailed: it answered that its registry replica has failed.
	ReplicaFailed = "registry-failed"
)

// ApplyReplicaReports fills the rows of the replicas other than this node
// from their reports (keyed by server id): an answer makes the row known;
// a failure, ReplicaNotRegistered aside, marks it unreachable with its
// reason. A replica without a report stays "not known from this node".
func (o *Overview) ApplyReplicaReports(reports map[string]ReplicaReport) {
	for i := range o.Registry.Replicas {
		r := &o.Registry.Replicas[i]
		rep, ok := reports[r.ID]
		if r.Self || !ok {
			continue
		}
		switch rep.Failure {
		case "":
			r.Known, r.AppliedIndex, r.Staleness, r.Stale, r.UnknownKey, r.Reason = true, rep.AppliedIndex, rep.Staleness, rep.Stale, "", ""
		case ReplicaNotRegistered:
			r.UnknownKey, r.Reason = "registry.replica.unknown", rep.Failure
		default:
			r.UnknownKey, r.Reason = "registry.replica.unreachable", rep.Failure
		}
	}
}

// KeyRow is a key in the expiry calendar.
type KeyRow struct {
	Kid, Member   string
	Role, RoleKey string
	Status        string
	StatusKey     string
	NotBefore     time.Time
	NotAfter      time.Time
	DaysLeft      int
	Warning       string // an expiry.* key
}

// ProposalRow is an open proposal and its threshold arithmetic: Required
// approvals (the policy threshold over the active members now), Counted
// (approvals that count: active member, key valid at the approval's time,
// REGISTRY.md §6), Missing = max(0, Required − Counted), and who may still
// approve.
type ProposalRow struct {
	ID, Type, Issuer string
	PayloadSHA256    string
	CreatedAt        time.Time
	ExpiresAt        time.Time
	Expired          bool
	Required         int
	Counted          int
	Missing          int
	StateKey         string // proposal.missing (arg Missing), proposal.complete or proposal.expired
	Approvals        []ApprovalRow
	MayApprove       []Approver
}

// ApprovalRow is one approval given.
type ApprovalRow struct {
	Member, Kid string
	At          time.Time
	Counts      bool
	CountsKey   string
}

// Approver is an active member whose approval would count, with the
// governance keys it may sign `crvsx registry approve` with now.
type Approver struct {
	Member string
	Kids   []string
}

// CertRow is a conformance certificate with its expiry.
type CertRow struct {
	ID, Subject, Node string
	Suite             string
	Status, StatusKey string
	NotBefore         time.Time
	NotAfter          time.Time
	RevokedAt         time.Time
	DaysLeft          int
	Warning           string
}

// RequesterRow is a responder organisation and what it may ask.
type RequesterRow struct {
	ID, Name, OrganizationType string
	Status, StatusKey          string
	Countries                  []string
	Questions                  []string
	Bases                      []string
	Purposes                   []string
	Rate                       trust.Rate
	Keys                       int
}

// BuildOverview builds the overview from the registry state and this
// node's registry status at now.
func BuildOverview(s *trust.State, st registry.Status, now time.Time) Overview {
	o := Overview{Now: now, Registry: registryHealth(st, s)}
	nodes := nodesByMember(s)
	for _, m := range s.Members() {
		o.Members = append(o.Members, MemberRow{ID: m.ID, Name: m.Name, Status: m.Status,
			StatusKey: keyOr("member.status."+m.Status, "member.status.unknown"), Nodes: nodes[m.ID]})
	}
	for _, k := range s.Keys() {
		if k.Status != trust.KeyActive {
			continue
		}
		o.Keys = append(o.Keys, keyRow(k, now))
	}
	slices.SortStableFunc(o.Keys, func(a, b KeyRow) int { return a.NotAfter.Compare(b.NotAfter) })
	for _, p := range s.Proposals() {
		o.Proposals = append(o.Proposals, proposalRow(s, p, now))
	}
	for _, c := range s.Certificates() {
		o.Certificates = append(o.Certificates, certRow(c, now))
	}
	for _, r := range s.Requesters() {
		o.Requesters = append(o.Requesters, RequesterRow{
			ID: r.ID, Name: r.Name, OrganizationType: r.OrganizationType, Status: r.Status,
			StatusKey: keyOr("requester.status."+r.Status, "member.status.unknown"),
			Countries: r.Countries, Questions: r.Questions, Bases: r.Bases, Purposes: r.Purposes,
			Rate: r.Rate, Keys: len(r.Keys),
		})
	}
	return o
}

func nodesByMember(s *trust.State) map[string][]NodeRow {
	out := map[string][]NodeRow{}
	for _, n := range s.Nodes() {
		out[n.Member] = append(out[n.Member], nodeRow(n))
	}
	return out
}

func nodeRow(n trust.Node) NodeRow {
	return NodeRow{ID: n.ID, Member: n.Member, APIURL: n.APIURL, RaftAddress: n.RaftAddress, TLSPin: n.TLSSPKISHA256,
		Role: n.Role, RoleKey: keyOr("node.role."+n.Role, "registry.role.unknown"), DesiredRole: n.DesiredRole}
}

func registryHealth(st registry.Status, s *trust.State) RegistryHealth {
	h := RegistryHealth{
		NodeID: st.NodeID, Role: st.Role, RoleKey: keyOr("registry.role."+st.Role, "registry.role.unknown"),
		LeaderID: st.Leader.ID, Term: st.Term, AppliedIndex: st.AppliedIndex, CommitIndex: st.CommitIndex,
		SyncedAt: st.SyncedAt, Staleness: st.Staleness, Bound: st.StalenessBound, Stale: st.Stale,
		ConsensusTime: st.ConsensusTime.Time(),
	}
	if st.ConsensusTime == 0 && s != nil {
		h.ConsensusTime = s.ConsensusTime().Time()
	}
	if h.LeaderID == "" {
		h.LeaderKey = "registry.no-leader"
	}
	switch {
	case st.SyncedAt.IsZero():
		h.FreshnessKey = "registry.never-synced"
	case st.Stale:
		h.FreshnessKey = "registry.stale"
	default:
		h.FreshnessKey = "registry.fresh"
	}
	for _, srv := range st.Servers {
		r := Replica{ID: srv.ID, Address: srv.Address, Suffrage: srv.Suffrage,
			SuffrageKey: keyOr("node.role."+srv.Suffrage, "registry.role.unknown"),
			Leader:      srv.ID == st.Leader.ID, Self: srv.ID == st.NodeID}
		if r.Self {
			r.Known, r.AppliedIndex, r.Staleness, r.Stale = true, st.AppliedIndex, st.Staleness, st.Stale
		} else {
			r.UnknownKey = "registry.replica.unknown"
		}
		h.Replicas = append(h.Replicas, r)
	}
	return h
}

func keyRow(k trust.Key, now time.Time) KeyRow {
	w, days := ExpiryWarning(k.NotAfter.Time(), now)
	return KeyRow{Kid: k.Kid, Member: k.Member, Role: k.Role, RoleKey: keyOr("key.role."+k.Role, "key.status.unknown"),
		Status: k.Status, StatusKey: keyOr("key.status."+k.Status, "key.status.unknown"),
		NotBefore: k.NotBefore.Time(), NotAfter: k.NotAfter.Time(), DaysLeft: days, Warning: w}
}

func certRow(c trust.Certificate, now time.Time) CertRow {
	r := CertRow{ID: c.ID, Subject: c.Subject, Node: c.Node, Suite: c.Suite, Status: c.Status,
		StatusKey: keyOr("cert.status."+c.Status, "key.status.unknown"),
		NotBefore: c.NotBefore.Time(), NotAfter: c.NotAfter.Time()}
	if c.RevokedAt != 0 {
		r.RevokedAt = c.RevokedAt.Time()
	}
	if c.Status == trust.CertActive {
		r.Warning, r.DaysLeft = ExpiryWarning(r.NotAfter, now)
	} else {
		r.Warning = WarnNone
	}
	return r
}

// proposalRow is REGISTRY.md §6's arithmetic, as proposal.approve counts.
func proposalRow(s *trust.State, p trust.Proposal, now time.Time) ProposalRow {
	r := ProposalRow{ID: p.ID, Type: p.Type, Issuer: p.Issuer, PayloadSHA256: p.PayloadSHA256,
		CreatedAt: p.CreatedAt.Time(), ExpiresAt: p.ExpiresAt.Time()}
	r.Expired = !now.Before(r.ExpiresAt)
	r.Required, _ = s.RequiredApprovals(p.Type)
	counted := map[string]bool{}
	for _, ap := range p.Approvals {
		k, ok := s.Key(ap.Kid)
		m, _ := s.Member(ap.Member)
		counts := ok && m.Status == trust.StatusActive && k.ValidAt(ap.At) == nil
		row := ApprovalRow{Member: ap.Member, Kid: ap.Kid, At: ap.At.Time(), Counts: counts, CountsKey: "proposal.approval.not-counted"}
		if counts {
			row.CountsKey = "proposal.approval.counts"
			counted[ap.Member] = true
			r.Counted++
		}
		r.Approvals = append(r.Approvals, row)
	}
	r.Missing = max(0, r.Required-r.Counted)
	switch {
	case r.Expired:
		r.StateKey = "proposal.expired"
	case r.Missing > 0:
		r.StateKey = "proposal.missing"
	default:
		r.StateKey = "proposal.complete"
	}
	if r.Expired || r.Missing == 0 {
		return r
	}
	t := trust.TimestampOf(now)
	for _, m := range s.Members() {
		if m.Status != trust.StatusActive || counted[m.ID] {
			continue
		}
		var kids []string
		for _, k := range s.Keys() {
			if k.Member == m.ID && k.Role == trust.RoleGovernance && k.ValidAt(t) == nil {
				kids = append(kids, k.Kid)
			}
		}
		if len(kids) > 0 {
			r.MayApprove = append(r.MayApprove, Approver{Member: m.ID, Kids: kids})
		}
	}
	return r
}

// keyOr returns k when it is a message key, else fallback: a value the
// catalogue does not know (a newer registry's status) is never shown raw
// as if it were translated.
func keyOr(k, fallback string) string {
	if _, ok := MessageKeys[k]; ok {
		return k
	}
	return fallback
}
