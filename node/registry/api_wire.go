package registry

import (
	"time"

	"github.com/ecrn/crvsx/protocol/trust"
)

// The registry API's JSON answers (DESIGN.md §13, §14): what the API
// writes and its clients (APIClient, HTTPForwarder, the CLI) read.

// APIResult is the answer to a command submission: Result in JSON, plus
// the approvals of the proposal it created or approved.
type APIResult struct {
	Index       uint64          `json:"index"`
	Time        trust.Timestamp `json:"time"`
	EntrySHA256 string          `json:"entrySha256"`
	CommandID   string          `json:"commandId,omitempty"`
	Type        string          `json:"type,omitempty"`
	Issuer      string          `json:"issuer,omitempty"`
	Outcome     trust.Outcome   `json:"outcome"`
	Reason      trust.Reason    `json:"reason,omitempty"`
	Detail      string          `json:"detail,omitempty"`
	Proposal    string          `json:"proposal,omitempty"`
	StateHash   string          `json:"stateHash"`
	ChainHead   string          `json:"chainHead"`
	// Approvals and Required describe the proposal after a "proposed" or
	// "approved" outcome: it needs Required − Approvals more.
	Approvals int `json:"approvals,omitempty"`
	Required  int `json:"required,omitempty"`
}

// ToResult converts back to a Result (the Forwarder's side).
func (r APIResult) ToResult() trust.Result {
	return trust.Result{Index: r.Index, Time: r.Time, EntrySHA256: r.EntrySHA256, CommandID: r.CommandID, Type: r.Type, Issuer: r.Issuer,
		Outcome: r.Outcome, Reason: r.Reason, Detail: r.Detail, Proposal: r.Proposal, StateHash: r.StateHash, ChainHead: r.ChainHead}
}

func apiResult(res trust.Result, s *trust.State) APIResult {
	out := APIResult{Index: res.Index, Time: res.Time, EntrySHA256: res.EntrySHA256, CommandID: res.CommandID, Type: res.Type,
		Issuer: res.Issuer, Outcome: res.Outcome, Reason: res.Reason, Detail: res.Detail, Proposal: res.Proposal,
		StateHash: res.StateHash, ChainHead: res.ChainHead}
	if s != nil && res.Proposal != "" && (res.Outcome == trust.OutcomeProposed || res.Outcome == trust.OutcomeApproved) {
		if p, ok := s.Proposal(res.Proposal); ok {
			out.Approvals = len(p.Approvals)
			out.Required, _ = s.RequiredApprovals(p.Type)
		}
	}
	return out
}

// APIStatus is GET /v1/registry/status: Status in JSON.
type APIStatus struct {
	NodeID                string          `json:"nodeId"`
	GenesisSHA256         string          `json:"genesisSha256"`
	Role                  string          `json:"role"`
	Suffrage              string          `json:"suffrage,omitempty"`
	Leader                *APILeader      `json:"leader,omitempty"`
	Term                  uint64          `json:"term"`
	AppliedIndex          uint64          `json:"appliedIndex"`
	CommitIndex           uint64          `json:"commitIndex"`
	LastIndex             uint64          `json:"lastIndex"`
	ConsensusTime         trust.Timestamp `json:"consensusTime"`
	StateHash             string          `json:"stateHash"`
	ChainHead             string          `json:"chainHead"`
	LastLeaderContact     *time.Time      `json:"lastLeaderContact,omitempty"`
	SyncedAt              *time.Time      `json:"syncedAt,omitempty"`
	StalenessSeconds      float64         `json:"stalenessSeconds"`
	StalenessBoundSeconds float64         `json:"stalenessBoundSeconds"`
	Stale                 bool            `json:"stale"`
	SnapshotsRestored     uint64          `json:"snapshotsRestored"`
	SnapshotError         string          `json:"snapshotError,omitempty"`
	Failed                string          `json:"failed,omitempty"`
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

func apiStatus(st Status, v *trust.View) APIStatus {
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
	AppliedIndex uint64         `json:"appliedIndex"`
	Members      []trust.Member `json:"members"`
}

// APIKeys is GET /v1/registry/keys[?member=CC][&role=R][&status=S].
type APIKeys struct {
	AppliedIndex uint64      `json:"appliedIndex"`
	Keys         []trust.Key `json:"keys"`
}

// APIRequesters is GET /v1/registry/requesters and
// /v1/registry/requesters/{id}.
type APIRequesters struct {
	AppliedIndex uint64                  `json:"appliedIndex"`
	Requesters   []trust.RequesterRecord `json:"requesters"`
}

// APINodes is GET /v1/registry/nodes.
type APINodes struct {
	AppliedIndex uint64       `json:"appliedIndex"`
	Nodes        []trust.Node `json:"nodes"`
}

// APIProposal is an open proposal with its count: it executes once
// Approvals reaches Required (recounted at each approval, REGISTRY.md §6).
type APIProposal struct {
	trust.Proposal
	Required int `json:"required"`
}

// APIProposals is GET /v1/registry/proposals.
type APIProposals struct {
	AppliedIndex  uint64          `json:"appliedIndex"`
	ConsensusTime trust.Timestamp `json:"consensusTime"`
	Proposals     []APIProposal   `json:"proposals"`
}

// APIPolicy is GET /v1/registry/policy.
type APIPolicy struct {
	GenesisSHA256 string          `json:"genesisSha256"`
	AppliedIndex  uint64          `json:"appliedIndex"`
	ConsensusTime trust.Timestamp `json:"consensusTime"`
	ActiveMembers int             `json:"activeMembers"`
	Policy        trust.Policy    `json:"policy"`
}

// APIReadIndex is POST /v1/registry/read-index.
type APIReadIndex struct {
	Index uint64 `json:"index"`
}
