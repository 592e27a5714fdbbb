package node

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ecrn/crvsx/node/console"
	"github.com/ecrn/crvsx/node/server"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol/attest"
)

// The web console's adapter (node/console.Backend): what exists on the
// node today — the registry's state, the store's counters and a
// submission's deliveries. The data branch (node/console/view) replaces
// the overview, traffic, member and message pages' models; until then
// they show only what is here, never made-up numbers.

// newConsole builds the console of this node (node/console DESIGN §1, §6).
func (n *Node) newConsole() (*console.Console, error) {
	return console.New(console.Options{
		Backend:       consoleBackend{n},
		Tokens:        n.adminTokens,
		LoginLimiter:  server.NewClientLimiter(5, 12*time.Second, 30, time.Second),
		VerifyLimiter: server.NewClientLimiter(10, time.Second, 20, 200*time.Millisecond),
		AssumeTLS:     n.cfg.Listen.AllowRemotePlaintext,
		Location:      time.Local,
		Log:           n.outside,
	})
}

type consoleBackend struct{ n *Node }

func (b consoleBackend) Overview(ctx context.Context) (console.Overview, error) {
	n := b.n
	s, st := n.reg.State(), n.reg.Status()
	o := console.Overview{NodeID: n.cfg.NodeID, AsOf: n.now(),
		Registry: console.RegistryHealth{Leader: st.Leader.ID, AppliedIndex: st.AppliedIndex, Stale: st.Stale, Staleness: st.Staleness}}
	nodes := map[string][]string{}
	for _, nd := range s.Nodes() {
		nodes[nd.Member] = append(nodes[nd.Member], nd.ID)
	}
	for _, m := range s.Members() {
		o.Members = append(o.Members, console.MemberRow{ID: m.ID, Name: m.Name, Status: m.Status, Nodes: nodes[m.ID]})
	}
	for _, p := range s.Proposals() {
		row := console.ProposalRow{ID: p.ID, Type: p.Type}
		for _, a := range p.Approvals {
			row.Approved = append(row.Approved, a.Member)
		}
		if need, ok := s.RequiredApprovals(p.Type); ok {
			row.Missing = max(need-len(p.Approvals), 0)
		}
		o.Proposals = append(o.Proposals, row)
	}
	return o, nil
}

func (b consoleBackend) Member(ctx context.Context, id string) (console.Member, error) {
	s := b.n.reg.State()
	m, ok := s.Member(id)
	if !ok {
		return console.Member{}, console.ErrNotFound
	}
	out := console.Member{ID: m.ID, Name: m.Name, Status: m.Status}
	for _, k := range s.Keys() {
		if k.Member == id {
			out.Keys = append(out.Keys, console.KeyRow{Kid: k.Kid, Role: k.Role, Status: k.Status, NotBefore: k.NotBefore.Time(), NotAfter: k.NotAfter.Time()})
		}
	}
	for _, nd := range s.Nodes() {
		if nd.Member == id {
			out.Nodes = append(out.Nodes, console.NodeRow{ID: nd.ID, Role: nd.Role, APIURL: nd.APIURL})
		}
	}
	return out, nil
}

func (b consoleBackend) Traffic(ctx context.Context) (console.Traffic, error) {
	c, err := b.n.store.Counts(ctx)
	if err != nil {
		return console.Traffic{}, err
	}
	q, err := b.n.store.QueueLengths(ctx)
	if err != nil {
		return console.Traffic{}, err
	}
	t := console.Traffic{AsOf: b.n.now(), Totals: []console.Count{{Label: "inbound", N: c.Inbox}, {Label: "refused", N: c.Rejected},
		{Label: "queued", N: c.Queued}, {Label: "delivered", N: c.Delivered}, {Label: "dead", N: c.Dead}}}
	for peer, l := range q {
		t.Backlog = append(t.Backlog, console.Count{Label: peer, N: uint64(l)})
	}
	slices.SortFunc(t.Backlog, func(a, b console.Count) int { return cmp.Compare(a.Label, b.Label) })
	return t, nil
}

// Message is an outbound submission's timeline from its deliveries.
func (b consoleBackend) Message(ctx context.Context, id string) (console.Message, error) {
	sub, err := b.n.store.Submission(ctx, id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return console.Message{}, console.ErrNotFound
	}
	if err != nil {
		return console.Message{}, err
	}
	m := console.Message{ID: sub.ID, Events: []console.Event{{At: sub.CreatedAt, What: "accepted"}}}
	for _, d := range sub.Deliveries {
		for _, a := range d.History {
			m.Events = append(m.Events, console.Event{At: a.At, What: "attempt", Peer: d.Recipient, Detail: a.Err})
		}
		if !d.DeliveredAt.IsZero() {
			m.Events = append(m.Events, console.Event{At: d.DeliveredAt, What: "receipt-verified", Peer: d.Recipient})
		}
		if !d.DeadAt.IsZero() {
			m.Events = append(m.Events, console.Event{At: d.DeadAt, What: "dead", Peer: d.Recipient, Detail: d.DeadReason})
		}
	}
	slices.SortStableFunc(m.Events, func(a, b console.Event) int { return a.At.Compare(b.At) })
	return m, nil
}

// RetryDeadLetter needs the store's retry (the data branch).
func (b consoleBackend) RetryDeadLetter(context.Context, string) error { return console.ErrUnavailable }

func (b consoleBackend) SubmitApproval(ctx context.Context, data []byte) (console.ApprovalResult, error) {
	res, err := b.n.reg.Submit(ctx, data)
	if err != nil {
		return console.ApprovalResult{}, err
	}
	return console.ApprovalResult{Index: res.Index, Type: res.Type, Outcome: string(res.Outcome), Reason: string(res.Reason),
		Detail: res.Detail, Proposal: res.Proposal}, nil
}

func (b consoleBackend) Bundle(ctx context.Context) ([]byte, string, error) {
	bundle, err := b.n.reg.Bundle()
	if err != nil {
		return nil, "", err
	}
	raw, err := bundle.Marshal()
	return raw, b.n.reg.View().GenesisHash(), err
}

func (b consoleBackend) GenesisSHA256() string { return b.n.reg.View().GenesisHash() }

// Verify is SPEC §11.3 against this node's trust view, as of the node's
// clock.
func (b consoleBackend) Verify(_ context.Context, token []byte) (*attest.Verdict, error) {
	return attest.Verify(token, b.n.reg.View(), b.n.now())
}

var _ console.Backend = consoleBackend{}
