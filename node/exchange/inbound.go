package exchange

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ecrn/crvsx/node/internal/failpoint"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
)

// InboxStore is what the receiver needs of the store (node/store
// implements it).
type InboxStore interface {
	LookupInbound(ctx context.Context, sender, messageID string) (store.InboundRecord, error)
	Accept(ctx context.Context, in store.InboundRecord) (stored store.InboundRecord, duplicate bool, err error)
	AuditReject(ctx context.Context, e store.RejectEntry) error
}

// Peer is the transport identity of an inbound request: the registered node
// whose pinned TLS key the mTLS client presented.
type Peer struct {
	NodeID string
	Member string
}

// Receiver runs DESIGN.md §1 for one inbound message: verify, bind to the
// transport peer, idempotency, receipt, durable write. It is safe for
// concurrent use; Signer is read through a function so that a key rotation
// takes effect without a restart.
type Receiver struct {
	Verifier *Verifier // Recipient must be this node
	Store    InboxStore
	Signer   func() *jws.Signer
	Self     protocol.Endpoint
	Now      func() time.Time
	Log      *slog.Logger
	// Fresh, if set, fails closed: while it returns an error (the registry
	// replica is past its staleness bound, registry DESIGN §14) a new
	// message is refused with UNAVAILABLE, since a revocation the replica
	// has not seen would go unnoticed; the sender retries later. A retry of
	// a message already stored still gets its receipt.
	Fresh func() error
	// AuditLimit bounds the audit entries of refusals per peer (a token
	// bucket: AuditBurst entries, refilled at AuditLimit per second);
	// refusals past it are counted and summed up in the log instead of each
	// costing a durable write. Zero means 10 per second, burst 100.
	AuditLimit float64
	AuditBurst int

	auditMu      sync.Mutex
	auditBuckets map[string]*rate.Limiter
	suppressed   map[string]int
	lastSummary  time.Time
}

// Receipt is the answer to an accepted message.
type Receipt struct {
	JWS       []byte // the signed receipt, byte for byte as first answered
	Seq       uint64 // the inbox sequence number of the record
	Duplicate bool   // the message was already recorded; this is the original receipt
}

// Receive verifies raw as from peer (nil on an endpoint without transport
// identity, which skips only the transport binding of §1.3) and records it.
// A refusal is a *protocol.Error and stores nothing but its audit entry; any
// other error is internal (the sender retries).
func (r *Receiver) Receive(ctx context.Context, raw []byte, peer *Peer) (*Receipt, error) {
	now := r.Now()
	// > §1.2 Verify (SPEC §6), the checks that do not depend on the time of
	// > arrival first.
	msg, err := r.Verifier.Authenticate(raw)
	if err == nil && peer != nil {
		// > §1.3 Transport binding (SPEC §6.6.5): the mTLS peer is the
		// > sender, member and node.
		switch s := msg.Envelope.Sender; {
		case peer.Member != s.Country:
			err = protocol.Errorf(protocol.CodeSenderMismatch, "message from %s arrived over the connection of %s (%s)", s.Country, peer.NodeID, peer.Member)
		case peer.NodeID != s.NodeID:
			err = protocol.Errorf(protocol.CodeSenderMismatch, "message from node %s arrived over the connection of node %s", s.NodeID, peer.NodeID)
		}
	}
	if err != nil {
		r.auditRefusal(ctx, raw, peer, err, now)
		return nil, err
	}
	env := msg.Envelope
	payloadDigest := sha256.Sum256(msg.Payload)
	// > §1.4 Idempotency, fast path: the stored receipt, byte for byte —
	// > before the time window and the key's validity (SPEC §8.2), so that
	// > a retry of an accepted message gets its receipt however late.
	if rec, err := r.Store.LookupInbound(ctx, env.Sender.Country, env.MessageID); err == nil {
		return r.existing(ctx, rec, payloadDigest, raw, peer, now)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("look up %s/%s: %w", env.Sender.Country, env.MessageID, err)
	}
	// > A new message: the key's validity now and the time window (SPEC
	// > §6.6.6, §6.7), with a registry replica fresh enough to vouch for it.
	if err := r.Verifier.CheckTime(msg, now); err != nil {
		r.auditRefusal(ctx, raw, peer, err, now)
		return nil, err
	}
	if r.Fresh != nil {
		if ferr := r.Fresh(); ferr != nil {
			return nil, &protocol.Error{Code: protocol.CodeUnavailable, Detail: "this node's registry replica is not in sync; retry later", Err: ferr}
		}
	}
	// > §1.5 Receipt, signed before the write so it is stored with the record.
	localRef := protocol.NewUUID()
	receipt, err := BuildReceipt(r.Signer(), r.Self, msg, localRef, now)
	if err != nil {
		// %v, not %w: a refusal code inside (the receipt's own validation)
		// is this node's fault, never the sender's.
		return nil, fmt.Errorf("build receipt: %v", err)
	}
	// > §1.6 Durable write; the idempotency check is repeated inside the
	// > transaction, so of concurrent identical messages one wins.
	stored, dup, err := r.Store.Accept(ctx, store.InboundRecord{
		Sender:        env.Sender.Country,
		SenderNodeID:  env.Sender.NodeID,
		MessageID:     env.MessageID,
		MessageType:   env.MessageType,
		ReceivedAt:    now,
		JWS:           raw,
		Digest:        msg.Digest,
		PayloadDigest: payloadDigest,
		Receipt:       receipt,
	})
	if errors.Is(err, store.ErrConflict) {
		err = protocol.Errorf(protocol.CodeConflict, "message %s from %s was already received with other content", env.MessageID, env.Sender.Country)
		r.auditRefusal(ctx, raw, peer, err, now)
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("record %s/%s: %w", env.Sender.Country, env.MessageID, err)
	}
	failpoint.Hit("inbound-after-accept") // DESIGN §7: a crash between §1.6 and §1.7
	return &Receipt{JWS: stored.Receipt, Seq: stored.Seq, Duplicate: dup}, nil
}

func (r *Receiver) existing(ctx context.Context, rec store.InboundRecord, payloadDigest [32]byte, raw []byte, peer *Peer, now time.Time) (*Receipt, error) {
	if rec.PayloadDigest != payloadDigest {
		err := protocol.Errorf(protocol.CodeConflict, "message %s from %s was already received with other content", rec.MessageID, rec.Sender)
		r.auditRefusal(ctx, raw, peer, err, now)
		return nil, err
	}
	return &Receipt{JWS: rec.Receipt, Seq: rec.Seq, Duplicate: true}, nil
}

// auditRefusal writes the audit entry of a refusal. Its failure is logged,
// never turned into the answer: the refusal stands either way.
func (r *Receiver) auditRefusal(ctx context.Context, raw []byte, peer *Peer, refusal error, now time.Time) {
	e := store.RejectEntry{Code: string(protocol.CodeOf(refusal)), Digest: sha256.Sum256(raw), At: now}
	if e.Code == "" {
		return // internal errors are not refusals
	}
	if peer != nil {
		e.Peer = peer.NodeID
		e.Sender = peer.Member
	}
	if !r.auditAllowed(e.Peer, now) {
		return
	}
	var pe *protocol.Error
	if errors.As(refusal, &pe) {
		e.Detail = pe.Detail
	}
	if err := r.Store.AuditReject(ctx, e); err != nil && r.Log != nil {
		r.Log.Error("audit of a refusal failed", slog.String("code", e.Code), slog.Any("err", err))
	}
}

// auditAllowed takes a token from the peer's bucket. Refusals past the
// limit are counted, and the counts logged at most once a minute.
func (r *Receiver) auditAllowed(peer string, now time.Time) bool {
	r.auditMu.Lock()
	defer r.auditMu.Unlock()
	if r.auditBuckets == nil {
		r.auditBuckets, r.suppressed = map[string]*rate.Limiter{}, map[string]int{}
	}
	b := r.auditBuckets[peer]
	if b == nil {
		lim, burst := r.AuditLimit, r.AuditBurst
		if lim <= 0 {
			lim = 10
		}
		if burst <= 0 {
			burst = 100
		}
		if len(r.auditBuckets) > 10_000 { // bounded: peers are registered nodes, few
			clear(r.auditBuckets)
		}
		b = rate.NewLimiter(rate.Limit(lim), burst)
		r.auditBuckets[peer] = b
	}
	if b.AllowN(now, 1) {
		return true
	}
	r.suppressed[peer]++
	if now.Sub(r.lastSummary) >= time.Minute && r.Log != nil {
		for p, n := range r.suppressed {
			r.Log.Warn("refusals not audited one by one (rate limit)", slog.String("peer", p), slog.Int("count", n))
		}
		clear(r.suppressed)
		r.lastSummary = now
	}
	return false
}
