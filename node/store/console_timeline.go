package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The console's timeline of one message (DESIGN.md §12).

// ---- one message's timeline

// Timeline directions.
const (
	DirectionOut     = "out"     // a delivery: Ref "delivery/<key>"
	DirectionIn      = "in"      // an accepted inbound message: Ref "inbox/<seq>"
	DirectionRefused = "refused" // a refused inbound message: Ref "audit/<seq>"
)

// Timeline event kinds.
const (
	EventAccepted      = "accepted"       // outbound: accepted for delivery (the 202)
	EventAttemptFailed = "attempt-failed" // outbound: one failed attempt (Code, when the peer answered one)
	EventDelivered     = "delivered"      // outbound: a verified receipt stored
	EventDead          = "dead"           // outbound: dead-lettered (Code of the reason)
	EventRetried       = "retried"        // outbound: an operator's retry of the dead letter
	EventReceived      = "received"       // inbound: stored
	EventReceiptSent   = "receipt-sent"   // inbound: the receipt answered (the same transaction)
	EventAcknowledged  = "acknowledged"   // inbound: a national-system consumer acknowledged it (no time is stored)
	EventRefused       = "refused"        // inbound: refused with Code
)

// TimelineEvent is one step of a message's life.
type TimelineEvent struct {
	At       time.Time // zero for EventAcknowledged: cursors keep no time
	Kind     string
	Code     string // a problem code, when the step has one
	Consumer string // EventAcknowledged: the consumer
	AuditSeq uint64 // the audit entry, when the step has one
}

// Timeline is a message's life at this node: identifiers, types, times and
// codes only.
type Timeline struct {
	Ref          string // "delivery/<key>", "inbox/<seq>" or "audit/<seq>"
	Direction    string
	MessageID    string
	MessageType  string
	Peer         string // the other node's id (outbound: recipient; inbound: sender, or its country)
	Country      string // the other member's country, when known
	SubmissionID string // outbound
	State        string // outbound: pending, delivered, dead; inbound: accepted; refused
	Attempts     int    // outbound: all attempts, including those History no longer keeps
	Events       []TimelineEvent
	// Incomplete: the audit entries of this message were not all found
	// within MaxScan entries of the head; the events then come from the
	// record alone, or the attempts beyond the kept history are missing.
	Incomplete bool
}

// ParseRef splits a timeline reference into its kind and number.
func ParseRef(ref string) (kind string, n uint64, err error) {
	kind, num, ok := strings.Cut(ref, "/")
	if ok {
		n, err = strconv.ParseUint(num, 10, 64)
	}
	if !ok || err != nil || n == 0 || (kind != "delivery" && kind != "inbox" && kind != "audit") {
		return "", 0, invalidf("%q is not delivery/<key>, inbox/<seq> or audit/<seq>", truncateText(ref, 80))
	}
	return kind, n, nil
}

// Timeline returns the timeline of ref (ParseRef), or ErrNotFound.
func (s *Store) Timeline(ctx context.Context, ref string) (*Timeline, error) {
	kind, n, err := ParseRef(ref)
	if err != nil {
		return nil, fmt.Errorf("store: timeline: %w", err)
	}
	var out *Timeline
	err = s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		switch kind {
		case "delivery":
			out, err = outboundTimeline(tx, DeliveryKey(n))
		case "inbox":
			out, err = inboundTimeline(tx, n)
		default:
			out, err = refusedTimeline(tx, n)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: timeline %s: %w", ref, err)
	}
	return out, nil
}

func outboundTimeline(tx *bolt.Tx, key DeliveryKey) (*Timeline, error) {
	v := tx.Bucket(bktOutDlv).Get(u64(uint64(key)))
	if v == nil {
		return nil, ErrNotFound
	}
	r, err := decodeDelivery(v)
	if err != nil {
		return nil, err
	}
	types := typeCache{tx: tx}
	t := &Timeline{
		Ref: "delivery/" + uitoa(uint64(key)), Direction: DirectionOut, MessageID: r.MessageID,
		MessageType: types.of(r.SubmissionID), Peer: r.Peer, Country: r.Recipient, SubmissionID: r.SubmissionID,
		State: string(r.State), Attempts: r.Attempts,
	}
	// The audit entries of this delivery, from the head back to its
	// enqueue entry.
	ref := t.Ref
	var audit []TimelineEvent
	found := false
	c := tx.Bucket(bktAudit).Cursor()
	n := 0
	for k, v := c.Last(); k != nil && !found && n < MaxScan; k, v = c.Prev() {
		n++
		e, _, err := decodeAuditValue(v)
		if err != nil {
			return nil, err
		}
		if e.Ref != ref {
			continue
		}
		ev := TimelineEvent{At: e.At, AuditSeq: e.Seq}
		switch e.Kind {
		case AuditEnqueued:
			ev.Kind, found = EventAccepted, true
		case AuditDelivered:
			ev.Kind = EventDelivered
		case AuditDead:
			ev.Kind, ev.Code = EventDead, ProblemCode(e.Detail)
		case AuditRetried:
			ev.Kind = EventRetried
		default:
			continue
		}
		audit = append(audit, ev)
	}
	if found {
		t.Events = audit
	} else {
		// The enqueue is beyond the scan bound: what the record says.
		t.Incomplete = true
		t.Events = append(t.Events, TimelineEvent{At: r.CreatedAt, Kind: EventAccepted})
		if !r.DeliveredAt.IsZero() {
			t.Events = append(t.Events, TimelineEvent{At: r.DeliveredAt, Kind: EventDelivered})
		}
		if !r.DeadAt.IsZero() {
			t.Events = append(t.Events, TimelineEvent{At: r.DeadAt, Kind: EventDead, Code: ProblemCode(r.DeadReason)})
		}
	}
	for _, h := range r.History {
		t.Events = append(t.Events, TimelineEvent{At: h.At, Kind: EventAttemptFailed, Code: ProblemCode(h.Error)})
	}
	failed := r.Attempts
	if r.State == StateDelivered {
		failed-- // the receipt was the successful attempt
	}
	if failed > len(r.History) {
		t.Incomplete = true
	}
	sortEvents(t.Events)
	return t, nil
}

// sortEvents orders by time; at equal times by audit order, then by the
// order of the steps (an attempt before the dead letter it caused).
func sortEvents(ev []TimelineEvent) {
	order := map[string]int{EventAccepted: 0, EventReceived: 0, EventReceiptSent: 1, EventRefused: 1,
		EventAttemptFailed: 2, EventDead: 3, EventRetried: 4, EventDelivered: 5, EventAcknowledged: 6}
	slices.SortStableFunc(ev, func(a, b TimelineEvent) int {
		switch {
		case a.Kind == EventAcknowledged && b.Kind != EventAcknowledged:
			return 1
		case b.Kind == EventAcknowledged && a.Kind != EventAcknowledged:
			return -1
		}
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		if a.AuditSeq != 0 && b.AuditSeq != 0 && a.AuditSeq != b.AuditSeq {
			if a.AuditSeq < b.AuditSeq {
				return -1
			}
			return 1
		}
		return order[a.Kind] - order[b.Kind]
	})
}

func inboundTimeline(tx *bolt.Tx, seq uint64) (*Timeline, error) {
	raw := tx.Bucket(bktInbox).Get(u64(seq))
	if raw == nil {
		return nil, ErrNotFound
	}
	r, err := decodeInbound(raw)
	if err != nil {
		return nil, err
	}
	peer := r.SenderNodeID
	if peer == "" {
		peer = r.Sender
	}
	t := &Timeline{
		Ref: "inbox/" + uitoa(seq), Direction: DirectionIn, MessageID: r.MessageID, MessageType: r.MessageType,
		Peer: peer, Country: r.Sender, State: "accepted",
		Events: []TimelineEvent{
			{At: r.ReceivedAt, Kind: EventReceived},
			{At: r.ReceivedAt, Kind: EventReceiptSent},
		},
	}
	err = tx.Bucket(bktCursor).ForEach(func(k, v []byte) error {
		if upTo, ok := getU64(v); ok && upTo >= seq {
			t.Events = append(t.Events, TimelineEvent{Kind: EventAcknowledged, Consumer: string(k)})
		}
		return nil
	})
	return t, err
}

func refusedTimeline(tx *bolt.Tx, seq uint64) (*Timeline, error) {
	v := tx.Bucket(bktAudit).Get(u64(seq))
	if v == nil {
		return nil, ErrNotFound
	}
	e, _, err := decodeAuditValue(v)
	if err != nil {
		return nil, err
	}
	if e.Kind != AuditRejected {
		return nil, fmt.Errorf("%w: audit entry %d is %s, not a refusal", ErrNotFound, seq, e.Kind)
	}
	r := refusalOf(e, false)
	return &Timeline{
		Ref: "audit/" + uitoa(seq), Direction: DirectionRefused, MessageID: r.MessageID,
		Peer: r.Peer, Country: r.Sender, State: DirectionRefused,
		Events: []TimelineEvent{{At: e.At, Kind: EventRefused, Code: r.Code, AuditSeq: seq}},
	}, nil
}

// FindMessage returns the timeline references of messageID: its deliveries
// (one per recipient) and its inbound records (one per sender), at most
// limit (1..1000, 0 means 100). It scans the two id indexes, at most
// MaxScan keys each.
func (s *Store) FindMessage(ctx context.Context, messageID string, limit int) ([]string, error) {
	if err := checkField("messageId", messageID, maxIDLen); err != nil {
		return nil, fmt.Errorf("store: find message: %w", err)
	}
	limit = pageLimit(limit)
	var out []string
	err := s.view(ctx, func(tx *bolt.Tx) error {
		for _, b := range []struct {
			bucket []byte
			prefix string
		}{{bktOutID, "delivery/"}, {bktInboxID, "inbox/"}} {
			c := tx.Bucket(b.bucket).Cursor()
			n := 0
			for k, v := c.First(); k != nil && n < MaxScan && len(out) < limit; k, v = c.Next() {
				n++
				_, id, ok := splitComposite(k)
				if !ok || string(id) != messageID {
					continue
				}
				num, ok := getU64(v)
				if !ok {
					return corruptf("id index value of %d bytes", len(v))
				}
				out = append(out, b.prefix+uitoa(num))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: find message: %w", err)
	}
	return out, nil
}
