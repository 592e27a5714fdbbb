package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ecrn/crvsx/node/console/view"
	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/attest"
	"github.com/ecrn/crvsx/protocol/trust"
)

// The web console's data (node/console/view.Data), read from this node's
// store and registry replica. The console package calls these; they decide
// nothing the store, registry or view packages do not.

var _ view.Data = (*Node)(nil)

// Console windows.
const (
	consoleMaxWindow     = 31 * 24 * time.Hour
	consoleMemberWindow  = 24 * time.Hour
	consoleRecentEntries = 50
)

// Overview is view.Data.Overview.
func (n *Node) Overview(ctx context.Context, now time.Time) (view.Overview, error) {
	if err := ctx.Err(); err != nil {
		return view.Overview{}, err
	}
	s, st := n.reg.State(), n.reg.Status()
	o := view.BuildOverview(s, st, now)
	o.ApplyReplicaReports(n.askReplicas(ctx, s, st))
	return o, nil
}

// Member is view.Data.Member.
func (n *Node) Member(ctx context.Context, id string, now time.Time) (view.Member, error) {
	s := n.reg.State()
	if _, ok := s.Member(id); !ok {
		return view.Member{}, view.ErrNotFound
	}
	rep, err := n.store.Traffic(ctx, store.TrafficQuery{Since: now.Add(-consoleMemberWindow), Until: now, Bucket: time.Hour, Peer: id})
	if err != nil {
		return view.Member{}, consoleErr(err)
	}
	return view.BuildMember(s, id, rep, now)
}

// Traffic is view.Data.Traffic.
func (n *Node) Traffic(ctx context.Context, window time.Duration, now time.Time) (view.Traffic, error) {
	if window <= 0 || window > consoleMaxWindow {
		return view.Traffic{}, fmt.Errorf("%w: window %s is not in (0, %s]", view.ErrInvalid, window, consoleMaxWindow)
	}
	since := now.Add(-window)
	rep, err := n.store.Traffic(ctx, store.TrafficQuery{Since: since, Until: now, Bucket: view.BucketFor(window)})
	if err != nil {
		return view.Traffic{}, consoleErr(err)
	}
	refused, err := n.store.Refused(ctx, store.RefusedQuery{Since: since, Until: now, Limit: consoleRecentEntries})
	if err != nil {
		return view.Traffic{}, consoleErr(err)
	}
	// console.showPersonalData: a dead letter's reason text may quote a
	// peer's problem detail (free text); ids, types and codes otherwise.
	dead, _, err := n.store.DeadLetters(ctx, store.DeadLetterQuery{Limit: consoleRecentEntries, WithReason: n.cfg.Console.ShowPersonalData})
	if err != nil {
		return view.Traffic{}, consoleErr(err)
	}
	queues, err := n.store.QueueLengths(ctx)
	if err != nil {
		return view.Traffic{}, consoleErr(err)
	}
	t := view.BuildTraffic(rep, refused, dead, now)
	for peer, l := range queues {
		t.Backlog = append(t.Backlog, view.PeerCount{Peer: peer, N: l})
	}
	slices.SortFunc(t.Backlog, func(a, b view.PeerCount) int { return cmp.Compare(a.Peer, b.Peer) })
	return t, nil
}

// Message is view.Data.Message.
func (n *Node) Message(ctx context.Context, id string) (view.Message, error) {
	ref := id
	if _, _, err := store.ParseRef(id); err != nil {
		refs, err := n.store.FindMessage(ctx, id, 20)
		if err != nil {
			return view.Message{}, consoleErr(err)
		}
		switch len(refs) {
		case 0:
			return view.Message{}, view.ErrNotFound
		case 1:
			ref = refs[0]
		default:
			return view.Message{MessageID: id, Candidates: refs}, nil
		}
	}
	tl, err := n.store.Timeline(ctx, ref)
	if err != nil {
		return view.Message{}, consoleErr(err)
	}
	m := view.BuildMessage(tl)
	if m.RefusalCode != "" && n.cfg.Console.ShowPersonalData {
		m.RefusalDetail, err = n.refusalDetail(ctx, tl)
		if err != nil {
			return view.Message{}, consoleErr(err)
		}
	}
	return m, nil
}

// refusalDetail is the problem detail of a refused message's audit entry
// (store.Refused with WithDetail over the instant of its refused event),
// "" when the entry is no longer within the store's scan.
func (n *Node) refusalDetail(ctx context.Context, tl *store.Timeline) (string, error) {
	for _, e := range tl.Events {
		if e.Kind != store.EventRefused || e.AuditSeq == 0 || e.At.IsZero() {
			continue
		}
		rep, err := n.store.Refused(ctx, store.RefusedQuery{Since: e.At, Until: e.At.Add(time.Millisecond), Limit: 1000, WithDetail: true})
		if err != nil {
			return "", err
		}
		for _, r := range rep.Recent {
			if r.AuditSeq == e.AuditSeq {
				return r.Detail, nil
			}
		}
	}
	return "", nil
}

// RetryDeadLetter is view.Data.RetryDeadLetter.
func (n *Node) RetryDeadLetter(ctx context.Context, ref, operator string) error {
	kind, key, err := store.ParseRef(ref)
	if err != nil || kind != "delivery" {
		return fmt.Errorf("%w: %q is not delivery/<key>", view.ErrInvalid, ref)
	}
	peer, err := n.store.RetryDead(ctx, store.DeliveryKey(key), operator, n.now())
	if err != nil {
		return consoleErr(err)
	}
	n.log.Info("console: dead letter retried", "delivery", key, "peer", peer, "operator", operator)
	n.deliverer.Notify(peer)
	return nil
}

// SubmitApproval is view.Data.SubmitApproval.
func (n *Node) SubmitApproval(ctx context.Context, signed []byte) (trust.Result, error) {
	if _, err := view.CheckApproval(signed); err != nil {
		return trust.Result{}, err
	}
	return n.reg.Submit(ctx, []byte(strings.TrimSpace(string(signed))))
}

// Bundle is view.Data.Bundle.
func (n *Node) Bundle(ctx context.Context) ([]byte, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	b, err := n.reg.Bundle()
	if err != nil {
		return nil, "", err
	}
	data, err := b.Marshal()
	if err != nil {
		return nil, "", err
	}
	return data, n.genesis.Hash(), nil
}

// Verify is view.Data.Verify.
func (n *Node) Verify(token []byte, now time.Time) (*attest.Verdict, error) {
	return attest.Verify(token, n.reg.View(), now)
}

// VerifyMessage is view.Data.VerifyMessage: node/exchange's Verifier, the
// one `crvsx verify` runs, with this node's registry view as the keys and
// their validity (checked at the message's createdAt, SPEC §6.6.6), any
// typ that carries the payload's messageType, the node's clock skew and
// no age limit (an archived message verifies regardless of age).
func (n *Node) VerifyMessage(token []byte, now time.Time) (*view.MessageVerdict, error) {
	tv := n.reg.View()
	v := &exchange.Verifier{Keys: tv, Validity: tv, Skew: time.Duration(n.cfg.Exchange.ClockSkew)}
	msg, err := v.Verify(token, now)
	if err != nil {
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			return nil, err
		}
		return &view.MessageVerdict{Code: pe.Code, Detail: pe.Detail, CheckedAt: now}, err
	}
	return &view.MessageVerdict{
		Valid: true, CheckedAt: now,
		Sender: msg.Envelope.Sender, MessageType: msg.Envelope.MessageType, Typ: msg.Typ,
		MessageID: msg.Envelope.MessageID, CreatedAt: msg.CreatedAt,
	}, nil
}

// GenesisSHA256 is view.Data.GenesisSHA256.
func (n *Node) GenesisSHA256() string { return n.genesis.Hash() }

// consoleErr maps the store's error classes to the view's.
func consoleErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %w", view.ErrNotFound, err)
	case errors.Is(err, store.ErrInvalid):
		return fmt.Errorf("%w: %w", view.ErrInvalid, err)
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%w: %w", view.ErrConflict, err)
	}
	return err
}
