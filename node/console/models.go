package console

import "time"

// The placeholder view models of this branch. node/console/view (the data
// branch) replaces them at merge: each type here becomes an alias of the
// view type of the same name, and the templates' field names are the ones
// listed in DESIGN.md §11 — the only fields the templates read.

// Overview is the network overview (placeholder of view.Overview).
type Overview struct {
	NodeID    string
	AsOf      time.Time
	Registry  RegistryHealth
	Members   []MemberRow
	Proposals []ProposalRow
}

// RegistryHealth is this replica's view of the registry.
type RegistryHealth struct {
	Leader       string
	AppliedIndex uint64
	Stale        bool
	Staleness    time.Duration
}

// MemberRow is one member in the overview.
type MemberRow struct {
	ID     string
	Name   string
	Status string
	Nodes  []string
}

// ProposalRow is a pending proposal with the approvals still missing.
type ProposalRow struct {
	ID       string
	Type     string
	Approved []string // members who approved
	Missing  int      // approvals still needed
}

// Member is a member's page (placeholder of view.Member).
type Member struct {
	ID     string
	Name   string
	Status string
	Keys   []KeyRow
	Nodes  []NodeRow
}

// KeyRow is one key of a member with its validity.
type KeyRow struct {
	Kid       string
	Role      string
	Status    string
	NotBefore time.Time
	NotAfter  time.Time
}

// NodeRow is one node of a member.
type NodeRow struct {
	ID     string
	Role   string
	APIURL string
}

// Traffic is the traffic view (placeholder of view.Traffic).
type Traffic struct {
	AsOf        time.Time
	Totals      []Count // inbound, refused, queued, delivered, dead (what the store counts)
	Backlog     []Count // outbound deliveries pending, per peer
	DeadLetters []DeadLetter
	ChartSVG    string // server-drawn SVG (view's charts); "" for none
}

// Count is a labelled number.
type Count struct {
	Label string
	N     uint64
}

// DeadLetter is a dead-lettered delivery with its reason.
type DeadLetter struct {
	ID        string // what RetryDeadLetter takes
	MessageID string
	Peer      string
	Reason    string
	At        time.Time
}

// Message is a message's timeline (placeholder of view.Message).
type Message struct {
	ID     string
	Type   string
	Events []Event
}

// Event is one step of a message's timeline.
type Event struct {
	At     time.Time
	What   string // accepted, attempt, delivered, receipt-verified, dead, refused
	Peer   string
	Detail string
}

// ApprovalResult is what the registry did with an uploaded approval.
type ApprovalResult struct {
	Index    uint64
	Type     string
	Outcome  string // accepted, proposed, approved, rejected (trust.Outcome)
	Reason   string // the rejection's reason code
	Detail   string
	Proposal string
}
