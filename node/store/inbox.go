package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// InboundRecord is an accepted inbound message and the receipt answered
// for it (SPEC §8.1–8.3).
type InboundRecord struct {
	Seq           uint64 // inbox sequence number, assigned by Accept
	Sender        string // sender.country: with MessageID the idempotency key (SPEC §8.2)
	SenderNodeID  string // sender.nodeId (optional)
	MessageID     string
	MessageType   string
	ReceivedAt    time.Time
	JWS           []byte   // the exact compact JWS received
	Digest        [32]byte // SHA-256 of JWS (the receipt's crvs-sha256); computed when zero
	PayloadDigest [32]byte // SHA-256 of the signed payload bytes: what idempotency compares
	Receipt       []byte   // the signed receipt answered
}

// RejectEntry is the audit record of a refused inbound message. Its text
// comes from a peer: the store truncates and sanitizes it (DESIGN.md §10).
type RejectEntry struct {
	Sender    string // claimed sender.country, if known
	MessageID string // claimed messageId, if known
	Code      string // the problem code (SPEC §7)
	Digest    [32]byte
	At        time.Time
	Peer      string // the transport peer (mTLS identity or address)
	Detail    string
}

func (in *InboundRecord) validate(now func() time.Time) error {
	if err := checkField("sender", in.Sender, maxNameLen); err != nil {
		return err
	}
	if err := checkField("messageId", in.MessageID, maxIDLen); err != nil {
		return err
	}
	if in.SenderNodeID != "" {
		if err := checkField("senderNodeId", in.SenderNodeID, maxNameLen); err != nil {
			return err
		}
	}
	if in.MessageType != "" {
		if err := checkField("messageType", in.MessageType, maxNameLen); err != nil {
			return err
		}
	}
	if err := checkBlob("jws", in.JWS); err != nil {
		return err
	}
	if err := checkBlob("receipt", in.Receipt); err != nil {
		return err
	}
	if in.PayloadDigest == ([32]byte{}) {
		return invalidf("payload digest is missing")
	}
	d := sha256.Sum256(in.JWS)
	switch {
	case in.Digest == [32]byte{}:
		in.Digest = d
	case in.Digest != d:
		return invalidf("digest is not the SHA-256 of the JWS")
	}
	if in.ReceivedAt.IsZero() {
		in.ReceivedAt = now()
	}
	in.ReceivedAt = in.ReceivedAt.UTC()
	in.Seq = 0
	return nil
}

// Accept stores an inbound message with its receipt, durably, once
// (SPEC §8.2). The caller signs the receipt first; Accept stores it in the
// same transaction as the record and an audit entry, and returns after the
// fsync.
//
//   - (Sender, MessageID) already stored with the same PayloadDigest: the
//     ORIGINAL record, receipt included, and duplicate=true; nothing written.
//   - stored with another PayloadDigest: ErrConflict; nothing written (the
//     caller records the refusal with AuditReject).
//   - else: a new record with the next inbox seq.
//
// Concurrent identical calls give one record; all return its receipt.
func (s *Store) Accept(ctx context.Context, in InboundRecord) (stored InboundRecord, duplicate bool, err error) {
	if err := in.validate(s.now); err != nil {
		return InboundRecord{}, false, fmt.Errorf("store: accept: %w", err)
	}
	idKey := compositeKey(in.Sender, []byte(in.MessageID))
	// Fast path: a retry of a stored message needs no write.
	var found bool
	err = s.view(ctx, func(tx *bolt.Tx) error {
		var e error
		stored, found, e = lookupInbound(tx, idKey)
		return e
	})
	if err != nil {
		return InboundRecord{}, false, fmt.Errorf("store: accept: %w", err)
	}
	if found {
		return sameOrConflict(stored, in)
	}
	// The operation's results live in a value of their own: when ctx ends
	// first this call returns while the committer may still run it.
	res := new(acceptResult)
	err = s.write(ctx, len(in.JWS)+len(in.Receipt), func(w *wtx) error {
		rec, dup, err := acceptTx(w, idKey, in)
		if err != nil {
			return err
		}
		res.rec, res.dup = rec, dup
		return nil
	})
	if err != nil {
		return InboundRecord{}, false, fmt.Errorf("store: accept %s/%s: %w", in.Sender, in.MessageID, err)
	}
	return res.rec, res.dup, nil
}

type acceptResult struct {
	rec InboundRecord
	dup bool
}

func sameOrConflict(stored, in InboundRecord) (InboundRecord, bool, error) {
	if stored.PayloadDigest != in.PayloadDigest {
		return InboundRecord{}, false, fmt.Errorf("store: accept %s/%s: %w: stored with another payload (inbox %d)", in.Sender, in.MessageID, ErrConflict, stored.Seq)
	}
	return stored, true, nil
}

func acceptTx(w *wtx, idKey []byte, in InboundRecord) (InboundRecord, bool, error) {
	stored, found, err := lookupInbound(w.tx, idKey)
	if err != nil {
		return InboundRecord{}, false, err
	}
	if found {
		if stored.PayloadDigest != in.PayloadDigest {
			return InboundRecord{}, false, fmt.Errorf("%w: stored with another payload (inbox %d)", ErrConflict, stored.Seq)
		}
		return stored, true, nil
	}
	rec, err := encodeRecord(kindInbound, inboundRec{
		Sender: in.Sender, SenderNodeID: in.SenderNodeID, MessageID: in.MessageID, MessageType: in.MessageType,
		ReceivedAt: in.ReceivedAt, Digest: in.Digest, PayloadDigest: in.PayloadDigest,
	})
	if err != nil {
		return InboundRecord{}, false, err
	}
	// Every refusal is decided above; from here on only writes.
	seq, err := w.nextSeq(bktInbox)
	if err != nil {
		return InboundRecord{}, false, err
	}
	k := u64(seq)
	for _, p := range []struct{ b, k, v []byte }{
		{bktInbox, k, rec},
		{bktInboxJWS, k, in.JWS},
		{bktInboxRcpt, k, in.Receipt},
		{bktInboxID, idKey, k},
	} {
		if err := w.put(p.b, p.k, p.v); err != nil {
			return InboundRecord{}, false, err
		}
	}
	if err := appendAudit(w, auditRec{
		At: in.ReceivedAt, Kind: AuditAccepted, Sender: in.Sender, MessageID: in.MessageID,
		Digest: in.Digest, Ref: "inbox/" + uitoa(seq), Detail: in.MessageType,
	}); err != nil {
		return InboundRecord{}, false, err
	}
	in.Seq = seq
	return in, false, nil
}

// lookupInbound reads the record of an idempotency key, copied out of tx.
func lookupInbound(tx *bolt.Tx, idKey []byte) (InboundRecord, bool, error) {
	v := tx.Bucket(bktInboxID).Get(idKey)
	if v == nil {
		return InboundRecord{}, false, nil
	}
	seq, ok := getU64(v)
	if !ok {
		return InboundRecord{}, false, corruptf("inbox index value of %d bytes", len(v))
	}
	r, err := readInbound(tx, seq)
	return r, err == nil, err
}

// readInbound reads inbox record seq with its JWS and receipt.
func readInbound(tx *bolt.Tx, seq uint64) (InboundRecord, error) {
	k := u64(seq)
	raw := tx.Bucket(bktInbox).Get(k)
	if raw == nil { // reached through the index or below the sequence: never absent
		return InboundRecord{}, corruptf("inbox %d is missing", seq)
	}
	r, err := decodeInbound(raw)
	if err != nil {
		return InboundRecord{}, fmt.Errorf("inbox %d: %w", seq, err)
	}
	jws := tx.Bucket(bktInboxJWS).Get(k)
	rcpt := tx.Bucket(bktInboxRcpt).Get(k)
	if jws == nil || rcpt == nil {
		return InboundRecord{}, corruptf("inbox %d: JWS or receipt missing", seq)
	}
	return InboundRecord{
		Seq: seq, Sender: r.Sender, SenderNodeID: r.SenderNodeID, MessageID: r.MessageID, MessageType: r.MessageType,
		ReceivedAt: r.ReceivedAt, JWS: cloneBytes(jws), Digest: r.Digest, PayloadDigest: r.PayloadDigest, Receipt: cloneBytes(rcpt),
	}, nil
}

// LookupInbound returns the stored record of (sender, messageID), receipt
// included, or ErrNotFound.
func (s *Store) LookupInbound(ctx context.Context, sender, messageID string) (InboundRecord, error) {
	if err := checkField("sender", sender, maxNameLen); err != nil {
		return InboundRecord{}, fmt.Errorf("store: lookup: %w", err)
	}
	if err := checkField("messageId", messageID, maxIDLen); err != nil {
		return InboundRecord{}, fmt.Errorf("store: lookup: %w", err)
	}
	var r InboundRecord
	var found bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var e error
		r, found, e = lookupInbound(tx, compositeKey(sender, []byte(messageID)))
		return e
	})
	if err == nil && !found {
		err = ErrNotFound
	}
	if err != nil {
		return InboundRecord{}, fmt.Errorf("store: lookup %s/%s: %w", sender, messageID, err)
	}
	return r, nil
}

// InboxAfter returns up to limit records with seq > after, in seq order —
// the order they were accepted, so in order per sender — and next, the seq
// of the last one returned (after, when none): the cursor of the next call.
// A page stops early at 8 MiB, after at least one record. consumer names
// the reader (the national system, "webhook"); reading does not move its
// acknowledgement, Ack does.
func (s *Store) InboxAfter(ctx context.Context, consumer string, after uint64, limit int) ([]InboundRecord, uint64, error) {
	if err := checkField("consumer", consumer, maxNameLen); err != nil {
		return nil, after, fmt.Errorf("store: inbox: %w", err)
	}
	if limit <= 0 {
		limit = defaultPage
	}
	limit = min(limit, maxPage)
	var out []InboundRecord
	next := after
	err := s.view(ctx, func(tx *bolt.Tx) error {
		size := 0
		last := tx.Bucket(bktInbox).Sequence()
		if after > last {
			return invalidf("after %d is beyond the last inbox sequence %d", after, last)
		}
		for seq := after + 1; seq <= last && len(out) < limit && size < maxPageBytes; seq++ {
			r, err := readInbound(tx, seq)
			if err != nil {
				return err
			}
			size += len(r.JWS) + len(r.Receipt)
			out = append(out, r)
			next = seq
		}
		return nil
	})
	if err != nil {
		return nil, after, fmt.Errorf("store: inbox after %d: %w", after, err)
	}
	return out, next, nil
}

// Ack records that consumer has durably taken every record up to upTo.
// Acks are monotonic: a lower upTo is a no-op. upTo beyond the last inbox
// seq is ErrInvalid.
func (s *Store) Ack(ctx context.Context, consumer string, upTo uint64) error {
	if err := checkField("consumer", consumer, maxNameLen); err != nil {
		return fmt.Errorf("store: ack: %w", err)
	}
	err := s.write(ctx, 64, func(w *wtx) error {
		if last := w.bucket(bktInbox).Sequence(); upTo > last {
			return invalidf("ack %d is beyond the last inbox seq %d", upTo, last)
		}
		cur, _ := getU64(w.bucket(bktCursor).Get([]byte(consumer)))
		if upTo <= cur {
			return nil
		}
		return w.put(bktCursor, []byte(consumer), u64(upTo))
	})
	if err != nil {
		return fmt.Errorf("store: ack %s %d: %w", consumer, upTo, err)
	}
	return nil
}

// AckedUpTo returns consumer's acknowledged seq (0 when it never acked).
func (s *Store) AckedUpTo(ctx context.Context, consumer string) (uint64, error) {
	if err := checkField("consumer", consumer, maxNameLen); err != nil {
		return 0, fmt.Errorf("store: acked: %w", err)
	}
	var n uint64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bktCursor).Get([]byte(consumer))
		if v == nil {
			return nil
		}
		var ok bool
		if n, ok = getU64(v); !ok {
			return corruptf("cursor %s of %d bytes", consumer, len(v))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: acked %s: %w", consumer, err)
	}
	return n, nil
}

// AuditReject appends the audit record of a refused inbound message; it
// shares a commit with other writes and returns once durable. Nothing else
// is stored (SPEC §6). The caller rate-limits; the store bounds each entry.
func (s *Store) AuditReject(ctx context.Context, e RejectEntry) error {
	if e.At.IsZero() {
		e.At = s.now()
	}
	code := sanitizeASCII(e.Code, maxRejectCode)
	if code == "" {
		return fmt.Errorf("store: audit reject: %w", invalidf("code is missing"))
	}
	detail := "code=" + code
	if p := sanitizeASCII(e.Peer, maxRejectPeer); p != "" {
		detail += " peer=" + p
	}
	if e.Detail != "" {
		detail += " detail=" + sanitizeASCII(e.Detail, maxRejectDetail)
	}
	rec := auditRec{
		At: e.At, Kind: AuditRejected,
		Sender:    sanitizeASCII(e.Sender, maxNameLen),
		MessageID: sanitizeASCII(e.MessageID, maxIDLen),
		Digest:    e.Digest,
		Detail:    detail,
	}
	err := s.write(ctx, 512, func(w *wtx) error {
		if err := appendAudit(w, rec); err != nil {
			return err
		}
		return w.addCounter(keyNRejected, 1)
	})
	if err != nil {
		return fmt.Errorf("store: audit reject: %w", err)
	}
	return nil
}
