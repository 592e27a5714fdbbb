package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// What the operators' console reads and does (DESIGN.md §12): traffic
// series, dead letters and "retry now", refused inbound messages and one
// message's timeline. Every read is one read transaction with a bound on
// the records it visits; every answer carries identifiers, types, times and
// problem codes only — never a payload, and the free text a peer wrote only
// when the caller asks for it.

// AuditRetried is the audit entry of an operator's retry of a dead letter
// (RetryDead).
const AuditRetried = "outbound.retried"

// Console read bounds (DESIGN.md §10, §12).
const (
	// MaxScan is the most records one console read visits; past it the
	// answer says Truncated.
	MaxScan = 200_000
	// MaxBuckets is the most time buckets of one traffic series.
	MaxBuckets = 1000
	// TrafficLookback is how long before a traffic window a delivery may
	// have been enqueued and still count for what happened in the window
	// (a receipt, a failed attempt, a dead letter): the delivery lifetime
	// (72 h) with room for retries.
	TrafficLookback = 7 * 24 * time.Hour
	// clockSlack: records are kept in sequence order, which is time order
	// up to the node's clock steps; a scan backwards stops this far before
	// the window.
	clockSlack     = time.Hour
	maxOperatorLen = 64
)

// ---- retry now

// RetryDead moves a dead letter back to its peer's queue (DESIGN.md §4
// RetryDead): state pending, due at once, its lifetime counted from at.
// It is done once: a delivery that is not dead — pending (already retried
// by a concurrent call, or never dead) or delivered — is ErrConflict and
// nothing is written. The audit chain records it (outbound.retried, the
// operator in its detail). It returns the peer (recipient node id) whose
// delivery worker the caller must wake.
func (s *Store) RetryDead(ctx context.Context, key DeliveryKey, operator string, at time.Time) (peer string, err error) {
	if at.IsZero() {
		at = s.now()
	}
	at = at.UTC()
	op := sanitizeASCII(operator, maxOperatorLen)
	res := new(string)
	err = s.write(ctx, 2048, func(w *wtx) error {
		r, err := readDelivery(w.tx, key)
		if err != nil {
			return err
		}
		if r.State != StateDead {
			return fmt.Errorf("%w: delivery %d is %s, not dead", ErrConflict, key, r.State)
		}
		r.State = StatePending
		r.NextAttemptAt = at
		r.RetriedAt = at
		r.Retries++
		r.DeadAt = time.Time{}
		r.DeadReason = ""
		if err := putDelivery(w, key, r); err != nil {
			return err
		}
		if err := w.put(bktOutQueue, compositeKey(r.Peer, u64(uint64(key))), []byte{}); err != nil {
			return err
		}
		if err := w.addCounter(keyNDead, -1); err != nil {
			return err
		}
		if err := w.addCounter(keyNPending, 1); err != nil {
			return err
		}
		detail := "retry " + strconv.Itoa(r.Retries)
		if op != "" {
			detail += " by " + op
		}
		if err := appendAudit(w, auditRec{
			At: at, Kind: AuditRetried, Recipient: r.Peer, MessageID: r.MessageID,
			Digest: r.Digest, Ref: "delivery/" + uitoa(uint64(key)), Detail: detail,
		}); err != nil {
			return err
		}
		*res = r.Peer
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("store: retry dead %d: %w", key, err)
	}
	return *res, nil
}

// ---- dead letters

// DeadLetter is a dead-lettered delivery as the console lists it.
type DeadLetter struct {
	Key           DeliveryKey
	SubmissionID  string
	Recipient     string // the recipient's country (optional)
	Peer          string // the recipient node id
	MessageID     string
	MessageType   string // of the submitted message
	Attempts      int
	Retries       int // operator retries before this dead letter
	CreatedAt     time.Time
	LastAttemptAt time.Time
	DeadAt        time.Time
	Code          string // the problem code of the reason, "" when none (ProblemCode)
	Reason        string // the stored reason text; only with DeadLetterQuery.WithReason
}

// DeadLetterQuery pages the dead letters newest first.
type DeadLetterQuery struct {
	Before DeliveryKey // only keys below it; 0: from the newest
	Limit  int         // 1..1000; 0 means 100
	// WithReason adds the reason text, which may quote a peer's problem
	// detail (free text): off unless the operator's role allows it.
	WithReason bool
}

// DeadLetters lists dead deliveries, newest first, and next, the Before of
// the following page (0 when this page reached the first delivery).
func (s *Store) DeadLetters(ctx context.Context, q DeadLetterQuery) (out []DeadLetter, next DeliveryKey, err error) {
	limit := pageLimit(q.Limit)
	err = s.view(ctx, func(tx *bolt.Tx) error {
		types := typeCache{tx: tx}
		c := tx.Bucket(bktOutDlv).Cursor()
		k, v := lastBelow(c, uint64(q.Before))
		for n := 0; k != nil && len(out) < limit && n < MaxScan; k, v = c.Prev() {
			n++
			key, _ := getU64(k)
			next = DeliveryKey(key)
			r, err := decodeDelivery(v)
			if err != nil {
				return fmt.Errorf("delivery %d: %w", key, err)
			}
			if r.State != StateDead {
				continue
			}
			d := DeadLetter{
				Key: DeliveryKey(key), SubmissionID: r.SubmissionID, Recipient: r.Recipient, Peer: r.Peer,
				MessageID: r.MessageID, MessageType: types.of(r.SubmissionID), Attempts: r.Attempts, Retries: r.Retries,
				CreatedAt: r.CreatedAt, LastAttemptAt: r.LastAttemptAt, DeadAt: r.DeadAt, Code: ProblemCode(r.DeadReason),
			}
			if q.WithReason {
				d.Reason = r.DeadReason
			}
			out = append(out, d)
		}
		if k == nil {
			next = 0
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: dead letters: %w", err)
	}
	return out, next, nil
}

// lastBelow positions c on the last key below before (the last key when
// before is 0).
func lastBelow(c *bolt.Cursor, before uint64) ([]byte, []byte) {
	if before == 0 {
		return c.Last()
	}
	k, _ := c.Seek(u64(before))
	if k == nil {
		return c.Last()
	}
	return c.Prev()
}

func pageLimit(n int) int {
	if n <= 0 {
		return defaultPage
	}
	return min(n, maxPage)
}

// typeCache reads the messageType of submitted messages, once per
// submission (the deliveries of a submission share it).
type typeCache struct {
	tx *bolt.Tx
	m  map[string]string
}

func (t *typeCache) of(submissionID string) string {
	if typ, ok := t.m[submissionID]; ok {
		return typ
	}
	if t.m == nil {
		t.m = map[string]string{}
	}
	typ := messageTypeOf(t.tx.Bucket(bktOutMsg).Get([]byte(submissionID)))
	t.m[submissionID] = typ
	return typ
}

// messageTypeOf reads the top-level "messageType" of a submitted message
// (SPEC §4), "" when it has none or is not a JSON object. The store does
// not otherwise interpret messages; the type is what traffic is counted by.
func messageTypeOf(msg []byte) string {
	dec := json.NewDecoder(bytes.NewReader(msg))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		name, _ := t.(string)
		if name == "messageType" {
			var typ string
			if err := dec.Decode(&typ); err != nil || checkName(typ, maxNameLen) != nil {
				return ""
			}
			return typ
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}

// codeRe is the shape of a problem code (SPEC §7): upper-case words joined
// by underscores, or one of the single-word codes.
var codeRe = regexp.MustCompile(`\b(?:[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|UNAVAILABLE|INTERNAL|EXPIRED)\b`)

// ProblemCode is the first problem code (SPEC §7) in an attempt error or a
// dead-letter reason the node wrote, "" when there is none (a network
// error, the lifetime ran out without an answer). The console shows codes,
// not the text, which may quote a peer.
func ProblemCode(text string) string {
	return codeRe.FindString(text)
}

// ---- refused inbound messages

// Refusal is one refused inbound message (an inbound.rejected audit entry).
// The refused bytes were never stored; Detail only with WithDetail.
type Refusal struct {
	AuditSeq  uint64
	At        time.Time
	Code      string // the problem code answered
	Sender    string // the claimed sender country, if known
	MessageID string // the claimed messageId, if known
	Peer      string // the transport peer (mTLS identity or address)
	Digest    [32]byte
	Detail    string // peer-controlled text, sanitized; only with WithDetail
}

// RefusedQuery selects refusals in [Since, Until).
type RefusedQuery struct {
	Since, Until time.Time
	Limit        int // recent entries returned, newest first: 1..1000, 0 means 100
	Code         string
	WithDetail   bool
}

// RefusedReport counts refusals by problem code and lists the recent ones.
type RefusedReport struct {
	ByCode    map[string]int
	Total     int
	Recent    []Refusal // newest first, at most Limit
	Truncated bool      // MaxScan audit entries were visited before the window's start
}

// Refused reads the audit chain backwards from its head over the window.
func (s *Store) Refused(ctx context.Context, q RefusedQuery) (*RefusedReport, error) {
	if !q.Until.After(q.Since) {
		return nil, fmt.Errorf("store: refused: %w", invalidf("window [%s, %s) is empty", q.Since, q.Until))
	}
	limit := pageLimit(q.Limit)
	out := &RefusedReport{ByCode: map[string]int{}}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return scanAuditBack(tx, q.Since, func(e auditRec) {
			if e.Kind != AuditRejected || e.At.Before(q.Since) || !e.At.Before(q.Until) {
				return
			}
			r := refusalOf(e, q.WithDetail)
			if q.Code != "" && r.Code != q.Code {
				return
			}
			out.ByCode[r.Code]++
			out.Total++
			if len(out.Recent) < limit {
				out.Recent = append(out.Recent, r)
			}
		}, &out.Truncated)
	})
	if err != nil {
		return nil, fmt.Errorf("store: refused: %w", err)
	}
	return out, nil
}

// scanAuditBack calls fn for audit entries from the head backwards until
// one is older than since − clockSlack or MaxScan were visited.
func scanAuditBack(tx *bolt.Tx, since time.Time, fn func(auditRec), truncated *bool) error {
	stop := since.Add(-clockSlack)
	c := tx.Bucket(bktAudit).Cursor()
	n := 0
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		if n++; n > MaxScan {
			*truncated = true
			return nil
		}
		_, rec, err := splitAuditValue(v)
		if err != nil {
			return err
		}
		e, err := decodeAudit(rec)
		if err != nil {
			return err
		}
		if e.At.Before(stop) {
			return nil
		}
		fn(e)
	}
	return nil
}

// refusalOf parses the detail AuditReject wrote: "code=C[ peer=P][ detail=D]".
func refusalOf(e auditRec, withDetail bool) Refusal {
	r := Refusal{AuditSeq: e.Seq, At: e.At, Sender: e.Sender, MessageID: e.MessageID, Digest: e.Digest}
	rest, _ := strings.CutPrefix(e.Detail, "code=")
	rest, detail, _ := strings.Cut(rest, " detail=")
	r.Code, r.Peer, _ = strings.Cut(rest, " peer=")
	if withDetail {
		r.Detail = detail
	}
	return r
}

// ---- traffic

// TrafficQuery is a window [Since, Until) cut into buckets of Bucket.
type TrafficQuery struct {
	Since, Until time.Time
	Bucket       time.Duration
	// Peer, if set, keeps only the traffic with that node id or country.
	Peer string
}

// TrafficSeries counts messages of one type with one peer per bucket.
type TrafficSeries struct {
	Peer    string // outbound: the recipient node id; inbound: the sender node id, or its country when unknown
	Country string // the peer's country, when known
	Type    string // messageType ("" when unknown)
	Counts  []int  // one per bucket
	Total   int
}

// Latency is the time from accepting a message for delivery (the 202) to
// storing its verified receipt, over the deliveries whose receipt arrived
// in the window. Percentiles are nearest-rank.
type Latency struct {
	Count              int
	P50, P90, P99, Max time.Duration
}

// TrafficReport is the traffic of one window.
type TrafficReport struct {
	Since, Until time.Time
	Bucket       time.Duration
	Buckets      int
	Out          []TrafficSeries // messages accepted for delivery, by enqueue time
	In           []TrafficSeries // messages received, by receive time
	Receipts     []int           // verified receipts stored (deliveries completed), by their time
	Failed       []int           // failed delivery attempts, by their time (the last 8 of each delivery are kept)
	Dead         []int           // deliveries dead-lettered, by their time
	Refused      []int           // inbound messages refused, by their time
	Latency      Latency
	// Attempts is the number of delivery attempts of the deliveries
	// enqueued in the window (a receipt counts as the successful one);
	// Retries the attempts beyond each one's first.
	Attempts, Retries int
	Truncated         bool // a scan stopped at MaxScan: the counts are a lower bound
}

// Traffic computes the series of a window from the records: deliveries
// (enqueue, attempts, receipt, dead-letter times), inbox records (receive
// time, type) and the audit chain (refusals).
func (s *Store) Traffic(ctx context.Context, q TrafficQuery) (*TrafficReport, error) {
	if !q.Until.After(q.Since) || q.Bucket <= 0 {
		return nil, fmt.Errorf("store: traffic: %w", invalidf("window [%s, %s) or bucket %s is empty", q.Since, q.Until, q.Bucket))
	}
	nb := int((q.Until.Sub(q.Since) + q.Bucket - 1) / q.Bucket)
	if nb > MaxBuckets {
		return nil, fmt.Errorf("store: traffic: %w", invalidf("%d buckets is more than %d", nb, MaxBuckets))
	}
	rep := &TrafficReport{
		Since: q.Since.UTC(), Until: q.Until.UTC(), Bucket: q.Bucket, Buckets: nb,
		Receipts: make([]int, nb), Failed: make([]int, nb), Dead: make([]int, nb), Refused: make([]int, nb),
	}
	bucket := func(t time.Time) int {
		if t.IsZero() || t.Before(q.Since) || !t.Before(q.Until) {
			return -1
		}
		return int(t.Sub(q.Since) / q.Bucket)
	}
	out := map[[3]string]*TrafficSeries{}
	in := map[[3]string]*TrafficSeries{}
	add := func(m map[[3]string]*TrafficSeries, peer, country, typ string, i int) {
		k := [3]string{peer, country, typ}
		ts := m[k]
		if ts == nil {
			ts = &TrafficSeries{Peer: peer, Country: country, Type: typ, Counts: make([]int, nb)}
			m[k] = ts
		}
		ts.Counts[i]++
		ts.Total++
	}
	match := func(peer, country string) bool { return q.Peer == "" || q.Peer == peer || q.Peer == country }
	var lat []time.Duration
	err := s.view(ctx, func(tx *bolt.Tx) error {
		// Outbound.
		types := typeCache{tx: tx}
		stop := q.Since.Add(-TrafficLookback)
		c := tx.Bucket(bktOutDlv).Cursor()
		n := 0
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if n++; n > MaxScan {
				rep.Truncated = true
				break
			}
			r, err := decodeDelivery(v)
			if err != nil {
				return err
			}
			if r.CreatedAt.Before(stop) {
				break
			}
			if !match(r.Peer, r.Recipient) {
				continue
			}
			if i := bucket(r.CreatedAt); i >= 0 {
				add(out, r.Peer, r.Recipient, types.of(r.SubmissionID), i)
				rep.Attempts += r.Attempts
				rep.Retries += max(r.Attempts-1, 0)
			}
			if i := bucket(r.DeliveredAt); i >= 0 {
				rep.Receipts[i]++
				lat = append(lat, r.DeliveredAt.Sub(r.CreatedAt))
			}
			if i := bucket(r.DeadAt); i >= 0 {
				rep.Dead[i]++
			}
			for _, h := range r.History {
				if i := bucket(h.At); i >= 0 {
					rep.Failed[i]++
				}
			}
		}
		// Inbound.
		c = tx.Bucket(bktInbox).Cursor()
		stop = q.Since.Add(-clockSlack)
		n = 0
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if n++; n > MaxScan {
				rep.Truncated = true
				break
			}
			r, err := decodeInbound(v)
			if err != nil {
				return err
			}
			if r.ReceivedAt.Before(stop) {
				break
			}
			peer := r.SenderNodeID
			if peer == "" {
				peer = r.Sender
			}
			if !match(peer, r.Sender) {
				continue
			}
			if i := bucket(r.ReceivedAt); i >= 0 {
				add(in, peer, r.Sender, r.MessageType, i)
			}
		}
		// Refusals.
		return scanAuditBack(tx, q.Since, func(e auditRec) {
			if e.Kind != AuditRejected {
				return
			}
			if r := refusalOf(e, false); !match(r.Peer, r.Sender) {
				return
			}
			if i := bucket(e.At); i >= 0 {
				rep.Refused[i]++
			}
		}, &rep.Truncated)
	})
	if err != nil {
		return nil, fmt.Errorf("store: traffic: %w", err)
	}
	rep.Out = sortedSeries(out)
	rep.In = sortedSeries(in)
	rep.Latency = latencyOf(lat)
	return rep, nil
}

func sortedSeries(m map[[3]string]*TrafficSeries) []TrafficSeries {
	out := make([]TrafficSeries, 0, len(m))
	for _, s := range m {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b TrafficSeries) int {
		return strings.Compare(a.Peer+"\x00"+a.Country+"\x00"+a.Type, b.Peer+"\x00"+b.Country+"\x00"+b.Type)
	})
	return out
}

// latencyOf returns nearest-rank percentiles of d.
func latencyOf(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	rank := func(p int) time.Duration {
		i := (p*len(d)+99)/100 - 1
		return d[max(i, 0)]
	}
	return Latency{Count: len(d), P50: rank(50), P90: rank(90), P99: rank(99), Max: d[len(d)-1]}
}

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
		_, rec, err := splitAuditValue(v)
		if err != nil {
			return nil, err
		}
		e, err := decodeAudit(rec)
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
	_, rec, err := splitAuditValue(v)
	if err != nil {
		return nil, err
	}
	e, err := decodeAudit(rec)
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
