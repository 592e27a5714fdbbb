package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// State is a delivery's state.
type State string

// Delivery states.
const (
	StatePending   State = "pending"   // queued or being retried
	StateDelivered State = "delivered" // a valid receipt is stored
	StateDead      State = "dead"      // dead-lettered; never sent again
)

// DeliveryKey identifies one delivery (one signed message to one peer).
// Keys grow in Enqueue order.
type DeliveryKey uint64

// Submission is an outbound message accepted from the national system:
// one signed message per recipient.
type Submission struct {
	ID         string    // the submission id (idempotency key of the local API)
	CreatedAt  time.Time // zero: Options.Now
	Message    []byte    // the validated message JSON
	Deliveries []Delivery
}

// Delivery is one signed message for one peer. In Enqueue the caller sets
// Recipient, RecipientNodeID, MessageID, JWS and optionally Digest; the
// store sets the rest.
type Delivery struct {
	Key             DeliveryKey
	SubmissionID    string
	Recipient       string // recipient.country (optional: an organisation's node has none)
	RecipientNodeID string // recipient.nodeId: the peer, whose queue this joins
	MessageID       string
	JWS             []byte
	Digest          [32]byte // SHA-256 of JWS; computed when zero
	CreatedAt       time.Time
	Attempts        int
	LastError       string
	NextAttemptAt   time.Time
	// RetriedAt is when an operator last moved this delivery back from
	// dead-letter (RetryDead); zero if never.
	RetriedAt time.Time
}

// LifetimeStart is the time the dead-letter lifetime runs from: the
// enqueue, or the operator's last retry (DESIGN.md §4 RetryDead).
func (d *Delivery) LifetimeStart() time.Time {
	if d.RetriedAt.After(d.CreatedAt) {
		return d.RetriedAt
	}
	return d.CreatedAt
}

// Attempt is one failed delivery attempt.
type Attempt struct {
	At            time.Time
	Err           string    // why it failed (truncated to 1 KiB)
	NextAttemptAt time.Time // when to try again (backoff with jitter, chosen by the caller)
}

// DeliveryStatus is a delivery as GET /v1/outbox/{id} shows it.
type DeliveryStatus struct {
	Key             DeliveryKey
	Recipient       string
	RecipientNodeID string
	MessageID       string
	Digest          [32]byte
	State           State
	Attempts        int
	LastAttemptAt   time.Time
	LastError       string
	NextAttemptAt   time.Time
	History         []Attempt // the last attempts, oldest first
	Receipt         []byte    // when delivered
	DeliveredAt     time.Time
	DeadAt          time.Time
	DeadReason      string
}

// SubmissionStatus is a submission with the status of each delivery.
type SubmissionStatus struct {
	ID            string
	CreatedAt     time.Time
	MessageDigest [32]byte
	Message       []byte
	Deliveries    []DeliveryStatus
}

func (sub *Submission) validate(now func() time.Time) error {
	if err := checkField("submission id", sub.ID, maxIDLen); err != nil {
		return err
	}
	if err := checkBlob("message", sub.Message); err != nil {
		return err
	}
	if n := len(sub.Deliveries); n == 0 || n > maxDeliveries {
		return invalidf("%d deliveries is not in 1..%d", n, maxDeliveries)
	}
	if sub.CreatedAt.IsZero() {
		sub.CreatedAt = now()
	}
	sub.CreatedAt = sub.CreatedAt.UTC()
	seen := make(map[string]bool, len(sub.Deliveries))
	for i := range sub.Deliveries {
		d := &sub.Deliveries[i]
		if err := checkField("recipient node id", d.RecipientNodeID, maxNameLen); err != nil {
			return err
		}
		if d.Recipient != "" {
			if err := checkField("recipient", d.Recipient, maxNameLen); err != nil {
				return err
			}
		}
		if err := checkField("messageId", d.MessageID, maxIDLen); err != nil {
			return err
		}
		if err := checkBlob("jws", d.JWS); err != nil {
			return err
		}
		sum := sha256.Sum256(d.JWS)
		switch {
		case d.Digest == [32]byte{}:
			d.Digest = sum
		case d.Digest != sum:
			return invalidf("delivery %d: digest is not the SHA-256 of the JWS", i)
		}
		id := string(compositeKey(d.RecipientNodeID, []byte(d.MessageID)))
		if seen[id] {
			return invalidf("two deliveries of message %s to %s", d.MessageID, d.RecipientNodeID)
		}
		seen[id] = true
	}
	return nil
}

// Enqueue stores a submission and queues its deliveries, durably, before
// the local API answers 202. The same ID again with the same Message
// returns the stored status with duplicate=true; with another Message, or
// a (peer, messageId) already queued, ErrConflict.
func (s *Store) Enqueue(ctx context.Context, sub Submission) (st *SubmissionStatus, duplicate bool, err error) {
	if err := sub.validate(s.now); err != nil {
		return nil, false, fmt.Errorf("store: enqueue: %w", err)
	}
	msgDigest := sha256.Sum256(sub.Message)
	size := len(sub.Message)
	for _, d := range sub.Deliveries {
		size += len(d.JWS)
	}
	res := new(bool)
	err = s.write(ctx, size, func(w *wtx) error {
		dup, err := enqueueTx(w, sub, msgDigest)
		if err != nil {
			return err
		}
		*res = dup
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: enqueue %s: %w", sub.ID, err)
	}
	st, err = s.Submission(ctx, sub.ID)
	if err != nil {
		return nil, false, fmt.Errorf("store: enqueue %s: %w", sub.ID, err)
	}
	return st, *res, nil
}

func enqueueTx(w *wtx, sub Submission, msgDigest [32]byte) (bool, error) {
	if v := w.bucket(bktOutSub).Get([]byte(sub.ID)); v != nil {
		r, err := decodeSubmission(v)
		if err != nil {
			return false, err
		}
		if r.MessageDigest != msgDigest {
			return false, fmt.Errorf("%w: submission %s exists with another message", ErrConflict, sub.ID)
		}
		return true, nil
	}
	ids := w.bucket(bktOutID)
	for _, d := range sub.Deliveries {
		if ids.Get(compositeKey(d.RecipientNodeID, []byte(d.MessageID))) != nil {
			return false, fmt.Errorf("%w: message %s to %s is already queued", ErrConflict, d.MessageID, d.RecipientNodeID)
		}
	}
	// Every refusal is decided above; from here on only writes.
	keys := make([]uint64, 0, len(sub.Deliveries))
	for _, d := range sub.Deliveries {
		key, err := w.nextSeq(bktOutDlv)
		if err != nil {
			return false, err
		}
		rec, err := encodeRecord(kindDelivery, deliveryRec{
			SubmissionID: sub.ID, Recipient: d.Recipient, Peer: d.RecipientNodeID, MessageID: d.MessageID,
			Digest: d.Digest, CreatedAt: sub.CreatedAt, State: StatePending, NextAttemptAt: sub.CreatedAt,
		})
		if err != nil {
			return false, &txAbort{err}
		}
		k := u64(key)
		for _, p := range []struct{ b, k, v []byte }{
			{bktOutDlv, k, rec},
			{bktOutJWS, k, d.JWS},
			{bktOutQueue, compositeKey(d.RecipientNodeID, k), []byte{}},
			{bktOutID, compositeKey(d.RecipientNodeID, []byte(d.MessageID)), k},
		} {
			if err := w.put(p.b, p.k, p.v); err != nil {
				return false, err
			}
		}
		if err := appendAudit(w, auditRec{
			At: sub.CreatedAt, Kind: AuditEnqueued, Recipient: d.RecipientNodeID, MessageID: d.MessageID,
			Digest: d.Digest, Ref: "delivery/" + uitoa(key), Detail: "submission " + sub.ID,
		}); err != nil {
			return false, err
		}
		keys = append(keys, key)
	}
	rec, err := encodeRecord(kindSubmission, submissionRec{ID: sub.ID, CreatedAt: sub.CreatedAt, MessageDigest: msgDigest, Deliveries: keys})
	if err != nil {
		return false, &txAbort{err}
	}
	if err := w.put(bktOutSub, []byte(sub.ID), rec); err != nil {
		return false, err
	}
	if err := w.put(bktOutMsg, []byte(sub.ID), sub.Message); err != nil {
		return false, err
	}
	return false, w.addCounter(keyNPending, int64(len(keys)))
}

// readDelivery decodes the status record of key.
func readDelivery(tx *bolt.Tx, key DeliveryKey) (deliveryRec, error) {
	v := tx.Bucket(bktOutDlv).Get(u64(uint64(key)))
	if v == nil {
		return deliveryRec{}, fmt.Errorf("delivery %d: %w", key, ErrNotFound)
	}
	r, err := decodeDelivery(v)
	if err != nil {
		return deliveryRec{}, fmt.Errorf("delivery %d: %w", key, err)
	}
	return r, nil
}

// NextDue returns the oldest pending delivery to peer (a recipient node
// id) if it is due at now, with its JWS; nil when the queue is empty or its
// head is not due yet. A later delivery never overtakes an earlier pending
// one to the same peer; dead ones are never returned.
func (s *Store) NextDue(ctx context.Context, peer string, now time.Time) (*Delivery, error) {
	d, err := s.QueueHead(ctx, peer)
	if err != nil || d == nil {
		return nil, err
	}
	if d.NextAttemptAt.After(now) {
		return nil, nil
	}
	return d, nil
}

// QueueHead returns the oldest pending delivery to peer whether due or not
// (a worker sleeps until its NextAttemptAt), or nil when none is pending.
func (s *Store) QueueHead(ctx context.Context, peer string) (*Delivery, error) {
	if err := checkField("peer", peer, maxNameLen); err != nil {
		return nil, fmt.Errorf("store: queue head: %w", err)
	}
	var out *Delivery
	err := s.view(ctx, func(tx *bolt.Tx) error {
		prefix := prefixKey(peer)
		k, _ := tx.Bucket(bktOutQueue).Cursor().Seek(prefix)
		if k == nil || !bytes.HasPrefix(k, prefix) {
			return nil
		}
		n, ok := getU64(k[len(prefix):])
		if !ok {
			return corruptf("queue key %x", k)
		}
		key := DeliveryKey(n)
		r, err := readDelivery(tx, key)
		if err != nil {
			return err
		}
		if r.State != StatePending || r.Peer != peer {
			return corruptf("delivery %d is queued for %s but is %s for %s", key, peer, r.State, r.Peer)
		}
		jws := tx.Bucket(bktOutJWS).Get(u64(n))
		if jws == nil {
			return corruptf("delivery %d: JWS missing", key)
		}
		out = &Delivery{
			Key: key, SubmissionID: r.SubmissionID, Recipient: r.Recipient, RecipientNodeID: r.Peer,
			MessageID: r.MessageID, JWS: cloneBytes(jws), Digest: r.Digest, CreatedAt: r.CreatedAt,
			Attempts: r.Attempts, LastError: r.LastError, NextAttemptAt: r.NextAttemptAt, RetriedAt: r.RetriedAt,
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: queue head %s: %w", peer, err)
	}
	return out, nil
}

// PendingPeers lists the peers with pending deliveries, sorted, so that
// delivery workers restart after a crash with everything still queued.
func (s *Store) PendingPeers(ctx context.Context) ([]string, error) {
	var out []string
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bktOutQueue).Cursor()
		for k, _ := c.First(); k != nil; {
			peer, _, ok := splitComposite(k)
			if !ok {
				return corruptf("queue key %x", k)
			}
			out = append(out, peer)
			// Skip the rest of this peer's queue: seek past its prefix.
			next := append(prefixKey(peer), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
			k, _ = c.Seek(next)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: pending peers: %w", err)
	}
	slices.Sort(out) // keys order by length first
	return out, nil
}

// QueueLengths returns the number of pending deliveries per peer (node
// id): the outbox backlog a node reports per peer.
func (s *Store) QueueLengths(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bktOutQueue).ForEach(func(k, _ []byte) error {
			peer, _, ok := splitComposite(k)
			if !ok {
				return corruptf("queue key %x", k)
			}
			out[peer]++
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: queue lengths: %w", err)
	}
	return out, nil
}

// RecordAttempt records a failed attempt of a pending delivery: attempts,
// last error, the time of the next attempt. ErrConflict if it is no longer
// pending. Not audited (DESIGN.md §4).
func (s *Store) RecordAttempt(ctx context.Context, key DeliveryKey, a Attempt) error {
	if a.At.IsZero() {
		a.At = s.now()
	}
	at := attemptRec{At: a.At.UTC(), Error: truncateText(a.Err, maxErrLen), NextAttemptAt: utcOrZero(a.NextAttemptAt)}
	err := s.write(ctx, 2048, func(w *wtx) error {
		r, err := readDelivery(w.tx, key)
		if err != nil {
			return err
		}
		if r.State != StatePending {
			return fmt.Errorf("%w: delivery %d is %s", ErrConflict, key, r.State)
		}
		r.Attempts++
		r.LastAttemptAt = at.At
		r.LastError = at.Error
		r.NextAttemptAt = at.NextAttemptAt
		r.History = appendHistory(r.History, at)
		return putDelivery(w, key, r)
	})
	if err != nil {
		return fmt.Errorf("store: record attempt %d: %w", key, err)
	}
	return nil
}

func appendHistory(h []attemptRec, a attemptRec) []attemptRec {
	h = append(h, a)
	if len(h) > maxHistory {
		h = append([]attemptRec(nil), h[len(h)-maxHistory:]...)
	}
	return h
}

func putDelivery(w *wtx, key DeliveryKey, r deliveryRec) error {
	rec, err := encodeDelivery(r)
	if err != nil {
		return &txAbort{err}
	}
	return w.put(bktOutDlv, u64(uint64(key)), rec)
}

// MarkDelivered stores the recipient's receipt and completes the delivery;
// the caller has verified the receipt (SPEC §8.3). Idempotent: a delivered
// delivery stays as it is (the first receipt is kept). A dead one becomes
// delivered — a receipt is proof of delivery even after the dead-letter
// decision. MarkDelivered counts as the successful attempt.
func (s *Store) MarkDelivered(ctx context.Context, key DeliveryKey, receipt []byte, at time.Time) error {
	if err := checkBlob("receipt", receipt); err != nil {
		return fmt.Errorf("store: mark delivered %d: %w", key, err)
	}
	if at.IsZero() {
		at = s.now()
	}
	at = at.UTC()
	rd := sha256.Sum256(receipt)
	err := s.write(ctx, len(receipt), func(w *wtx) error {
		r, err := readDelivery(w.tx, key)
		if err != nil {
			return err
		}
		if r.State == StateDelivered {
			return nil
		}
		was := r.State
		r.State = StateDelivered
		r.Attempts++
		r.LastAttemptAt = at
		r.DeliveredAt = at
		r.ReceiptDigest = rd
		if err := putDelivery(w, key, r); err != nil {
			return err
		}
		if err := w.put(bktOutRcpt, u64(uint64(key)), receipt); err != nil {
			return err
		}
		detail := ""
		if was == StatePending {
			if err := w.del(bktOutQueue, compositeKey(r.Peer, u64(uint64(key)))); err != nil {
				return err
			}
			if err := w.addCounter(keyNPending, -1); err != nil {
				return err
			}
		} else {
			detail = "after dead-letter"
			if err := w.addCounter(keyNDead, -1); err != nil {
				return err
			}
		}
		if err := w.addCounter(keyNDelivered, 1); err != nil {
			return err
		}
		return appendAudit(w, auditRec{
			At: at, Kind: AuditDelivered, Recipient: r.Peer, MessageID: r.MessageID,
			Digest: r.Digest, Ref: "delivery/" + uitoa(uint64(key)), Detail: detail,
		})
	})
	if err != nil {
		return fmt.Errorf("store: mark delivered %d: %w", key, err)
	}
	return nil
}

// MarkDead dead-letters a pending delivery: it leaves its peer's queue and
// is never returned by NextDue again. Idempotent on a dead one;
// ErrConflict on a delivered one.
func (s *Store) MarkDead(ctx context.Context, key DeliveryKey, reason string, at time.Time) error {
	if at.IsZero() {
		at = s.now()
	}
	at = at.UTC()
	reason = truncateText(reason, maxErrLen)
	err := s.write(ctx, 2048, func(w *wtx) error {
		r, err := readDelivery(w.tx, key)
		if err != nil {
			return err
		}
		switch r.State {
		case StateDead:
			return nil
		case StateDelivered:
			return fmt.Errorf("%w: delivery %d is delivered", ErrConflict, key)
		}
		r.State = StateDead
		r.DeadAt = at
		r.DeadReason = reason
		if err := putDelivery(w, key, r); err != nil {
			return err
		}
		if err := w.del(bktOutQueue, compositeKey(r.Peer, u64(uint64(key)))); err != nil {
			return err
		}
		if err := w.addCounter(keyNPending, -1); err != nil {
			return err
		}
		if err := w.addCounter(keyNDead, 1); err != nil {
			return err
		}
		return appendAudit(w, auditRec{
			At: at, Kind: AuditDead, Recipient: r.Peer, MessageID: r.MessageID,
			Digest: r.Digest, Ref: "delivery/" + uitoa(uint64(key)), Detail: reason,
		})
	})
	if err != nil {
		return fmt.Errorf("store: mark dead %d: %w", key, err)
	}
	return nil
}

// Submission returns a submission with the status of each delivery, or
// ErrNotFound.
func (s *Store) Submission(ctx context.Context, id string) (*SubmissionStatus, error) {
	if err := checkField("submission id", id, maxIDLen); err != nil {
		return nil, fmt.Errorf("store: submission: %w", err)
	}
	var out *SubmissionStatus
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bktOutSub).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		r, err := decodeSubmission(v)
		if err != nil {
			return err
		}
		msg := tx.Bucket(bktOutMsg).Get([]byte(id))
		if msg == nil {
			return corruptf("submission %s: message missing", id)
		}
		st := &SubmissionStatus{ID: r.ID, CreatedAt: r.CreatedAt, MessageDigest: r.MessageDigest, Message: cloneBytes(msg)}
		for _, k := range r.Deliveries {
			key := DeliveryKey(k)
			d, err := readDelivery(tx, key)
			if err != nil {
				return err
			}
			ds := DeliveryStatus{
				Key: key, Recipient: d.Recipient, RecipientNodeID: d.Peer, MessageID: d.MessageID, Digest: d.Digest,
				State: d.State, Attempts: d.Attempts, LastAttemptAt: d.LastAttemptAt, LastError: d.LastError,
				NextAttemptAt: d.NextAttemptAt, DeliveredAt: d.DeliveredAt, DeadAt: d.DeadAt, DeadReason: d.DeadReason,
			}
			for _, h := range d.History {
				ds.History = append(ds.History, Attempt{At: h.At, Err: h.Error, NextAttemptAt: h.NextAttemptAt})
			}
			if d.State == StateDelivered {
				rc := tx.Bucket(bktOutRcpt).Get(u64(k))
				if rc == nil {
					return corruptf("delivery %d: delivered without a receipt", k)
				}
				ds.Receipt = cloneBytes(rc)
			}
			st.Deliveries = append(st.Deliveries, ds)
		}
		out = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: submission %s: %w", id, err)
	}
	return out, nil
}
