package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
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
		e, _, err := decodeAuditValue(v)
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
