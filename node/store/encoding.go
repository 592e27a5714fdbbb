package store

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"
)

// Bucket names (DESIGN.md §2).
var (
	bktMeta        = []byte("meta")
	bktInbox       = []byte("inbox")
	bktInboxJWS    = []byte("inbox.jws")
	bktInboxRcpt   = []byte("inbox.receipt")
	bktInboxID     = []byte("inbox.id")
	bktCursor      = []byte("cursor")
	bktOutSub      = []byte("outbox.sub")
	bktOutMsg      = []byte("outbox.msg")
	bktOutDlv      = []byte("outbox.dlv")
	bktOutJWS      = []byte("outbox.jws")
	bktOutRcpt     = []byte("outbox.receipt")
	bktOutQueue    = []byte("outbox.queue")
	bktOutID       = []byte("outbox.id")
	bktAudit       = []byte("audit")
	allBuckets     = [][]byte{bktMeta, bktInbox, bktInboxJWS, bktInboxRcpt, bktInboxID, bktCursor, bktOutSub, bktOutMsg, bktOutDlv, bktOutJWS, bktOutRcpt, bktOutQueue, bktOutID, bktAudit}
	keyFormat      = []byte("format")
	keyCreated     = []byte("created")
	keyAuditHead   = []byte("audit.head")
	keyNPending    = []byte("n.pending")
	keyNDelivered  = []byte("n.delivered")
	keyNDead       = []byte("n.dead")
	keyNRejected   = []byte("n.rejected")
	formatVersion1 = uint32(1)
)

// Record envelope (DESIGN.md §3).
const (
	recordV1 = 1
	// recordV2 is record D with the retry members (retriedAt, retries),
	// DESIGN.md §3: written only for a delivery an operator retried, so a
	// file without retries stays readable by a binary that knows only v1.
	recordV2       = 2
	kindInbound    = 'I'
	kindSubmission = 'S'
	kindDelivery   = 'D'
	kindAudit      = 'A'
)

func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

func getU64(b []byte) (uint64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

func uitoa(n uint64) string { return strconv.FormatUint(n, 10) }

// compositeKey encodes (a, b) as len(a) ‖ a ‖ b; a is at most 64 bytes
// (validated by the callers), so the length fits one byte.
func compositeKey(a string, b []byte) []byte {
	k := make([]byte, 0, 1+len(a)+len(b))
	k = append(k, byte(len(a)))
	k = append(k, a...)
	return append(k, b...)
}

func prefixKey(a string) []byte { return compositeKey(a, nil) }

// splitComposite undoes compositeKey.
func splitComposite(k []byte) (a string, rest []byte, ok bool) {
	if len(k) < 1 || int(k[0]) > len(k)-1 {
		return "", nil, false
	}
	n := int(k[0])
	return string(k[1 : 1+n]), k[1+n:], true
}

// digest is a SHA-256 written as 64 lower-case hex digits in records.
type digest [32]byte

func (d digest) MarshalText() ([]byte, error) {
	b := make([]byte, 64)
	hex.Encode(b, d[:])
	return b, nil
}

func (d *digest) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return errors.New("digest is not 64 hex digits")
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return errors.New("digest is not lower-case hex")
		}
	}
	_, err := hex.Decode(d[:], b)
	return err
}

func (d digest) isZero() bool { return d == digest{} }

// inboundRec is record 'I'.
type inboundRec struct {
	Sender        string    `json:"sender"`
	SenderNodeID  string    `json:"senderNodeId,omitempty"`
	MessageID     string    `json:"messageId"`
	MessageType   string    `json:"messageType,omitempty"`
	ReceivedAt    time.Time `json:"receivedAt"`
	Digest        digest    `json:"digest"`
	PayloadDigest digest    `json:"payloadDigest"`
}

// submissionRec is record 'S'.
type submissionRec struct {
	ID            string    `json:"id"`
	CreatedAt     time.Time `json:"createdAt"`
	MessageDigest digest    `json:"messageDigest"`
	Deliveries    []uint64  `json:"deliveries"`
}

// attemptRec is one entry of a delivery's history.
type attemptRec struct {
	At            time.Time `json:"at"`
	Error         string    `json:"error,omitempty"`
	NextAttemptAt time.Time `json:"nextAttemptAt,omitzero"`
}

// deliveryRec is record 'D'.
type deliveryRec struct {
	SubmissionID  string       `json:"submissionId"`
	Recipient     string       `json:"recipient,omitempty"`
	Peer          string       `json:"peer"`
	MessageID     string       `json:"messageId"`
	Digest        digest       `json:"digest"`
	CreatedAt     time.Time    `json:"createdAt"`
	State         State        `json:"state"`
	Attempts      int          `json:"attempts"`
	LastAttemptAt time.Time    `json:"lastAttemptAt,omitzero"`
	LastError     string       `json:"lastError,omitempty"`
	NextAttemptAt time.Time    `json:"nextAttemptAt,omitzero"`
	History       []attemptRec `json:"history,omitempty"`
	DeliveredAt   time.Time    `json:"deliveredAt,omitzero"`
	ReceiptDigest digest       `json:"receiptDigest,omitzero"`
	DeadAt        time.Time    `json:"deadAt,omitzero"`
	DeadReason    string       `json:"deadReason,omitempty"`
	// Version 2 (DESIGN.md §3): an operator's retries of a dead letter.
	RetriedAt time.Time `json:"retriedAt,omitzero"`
	Retries   int       `json:"retries,omitempty"`
}

// auditRec is record 'A'.
type auditRec struct {
	Seq       uint64    `json:"seq"`
	At        time.Time `json:"at"`
	Kind      string    `json:"kind"`
	Sender    string    `json:"sender,omitempty"`
	Recipient string    `json:"recipient,omitempty"`
	MessageID string    `json:"messageId,omitempty"`
	Digest    digest    `json:"digest,omitzero"`
	Ref       string    `json:"ref,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	Prev      digest    `json:"prev"`
}

// encodeRecord writes the envelope: version, kind, one JSON object.
func encodeRecord(kind byte, v any) ([]byte, error) {
	return encodeRecordVersion(recordV1, kind, v)
}

func encodeRecordVersion(version, kind byte, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("store: encode record %c: %w", kind, err)
	}
	b := make([]byte, 0, 2+len(j))
	b = append(b, version, kind)
	return append(b, j...), nil
}

// encodeDelivery writes record D: version 1, or version 2 when it carries
// the retry members (DESIGN.md §3).
func encodeDelivery(r deliveryRec) ([]byte, error) {
	if r.Retries > 0 || !r.RetriedAt.IsZero() {
		return encodeRecordVersion(recordV2, kindDelivery, r)
	}
	return encodeRecordVersion(recordV1, kindDelivery, r)
}

// decodeRecord reads the envelope strictly: known version, the expected
// kind, one JSON object with no unknown members and nothing after it.
func decodeRecord(kind byte, b []byte, v any) error {
	if len(b) < 2 {
		return fmt.Errorf("%w: record of %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != recordV1 && !(b[0] == recordV2 && kind == kindDelivery) {
		return fmt.Errorf("%w: record version %d is not supported (written by a newer crvsx?)", ErrCorrupt, b[0])
	}
	if b[1] != kind {
		return fmt.Errorf("%w: record kind %q, want %q", ErrCorrupt, b[1], kind)
	}
	body := b[2:]
	if !utf8.Valid(body) {
		return fmt.Errorf("%w: record %c is not UTF-8", ErrCorrupt, kind)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: record %c: %w", ErrCorrupt, kind, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: record %c: data after the object", ErrCorrupt, kind)
	}
	return nil
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

func decodeInbound(b []byte) (inboundRec, error) {
	var r inboundRec
	if err := decodeRecord(kindInbound, b, &r); err != nil {
		return r, err
	}
	switch {
	case checkName(r.Sender, maxNameLen) != nil:
		return r, corruptf("inbound record: bad sender")
	case checkName(r.MessageID, maxIDLen) != nil:
		return r, corruptf("inbound record: bad messageId")
	case r.SenderNodeID != "" && checkName(r.SenderNodeID, maxNameLen) != nil:
		return r, corruptf("inbound record: bad senderNodeId")
	case r.MessageType != "" && checkName(r.MessageType, maxNameLen) != nil:
		return r, corruptf("inbound record: bad messageType")
	case r.ReceivedAt.IsZero():
		return r, corruptf("inbound record: no receivedAt")
	}
	r.ReceivedAt = r.ReceivedAt.UTC()
	return r, nil
}

func decodeSubmission(b []byte) (submissionRec, error) {
	var r submissionRec
	if err := decodeRecord(kindSubmission, b, &r); err != nil {
		return r, err
	}
	switch {
	case checkName(r.ID, maxIDLen) != nil:
		return r, corruptf("submission record: bad id")
	case len(r.Deliveries) == 0 || len(r.Deliveries) > maxDeliveries:
		return r, corruptf("submission record: %d deliveries", len(r.Deliveries))
	case r.CreatedAt.IsZero():
		return r, corruptf("submission record: no createdAt")
	}
	for _, k := range r.Deliveries {
		if k == 0 {
			return r, corruptf("submission record: delivery key 0")
		}
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return r, nil
}

func decodeDelivery(b []byte) (deliveryRec, error) {
	var r deliveryRec
	if err := decodeRecord(kindDelivery, b, &r); err != nil {
		return r, err
	}
	switch {
	case checkName(r.SubmissionID, maxIDLen) != nil:
		return r, corruptf("delivery record: bad submissionId")
	case checkName(r.Peer, maxNameLen) != nil:
		return r, corruptf("delivery record: bad peer")
	case r.Recipient != "" && checkName(r.Recipient, maxNameLen) != nil:
		return r, corruptf("delivery record: bad recipient")
	case checkName(r.MessageID, maxIDLen) != nil:
		return r, corruptf("delivery record: bad messageId")
	case r.State != StatePending && r.State != StateDelivered && r.State != StateDead:
		return r, corruptf("delivery record: state %q", r.State)
	case r.Attempts < 0 || len(r.History) > maxHistory:
		return r, corruptf("delivery record: attempts %d, history %d", r.Attempts, len(r.History))
	case r.CreatedAt.IsZero():
		return r, corruptf("delivery record: no createdAt")
	case r.State == StateDelivered && (r.DeliveredAt.IsZero() || r.ReceiptDigest.isZero()):
		return r, corruptf("delivery record: delivered without time or receipt")
	case r.State == StateDead && r.DeadAt.IsZero():
		return r, corruptf("delivery record: dead without time")
	case b[0] == recordV1 && (r.Retries != 0 || !r.RetriedAt.IsZero()):
		return r, corruptf("delivery record: version 1 with retry members")
	case b[0] == recordV2 && (r.Retries < 1 || r.RetriedAt.IsZero()):
		return r, corruptf("delivery record: version 2 without a retry")
	}
	r.CreatedAt = r.CreatedAt.UTC()
	r.LastAttemptAt = utcOrZero(r.LastAttemptAt)
	r.NextAttemptAt = utcOrZero(r.NextAttemptAt)
	r.DeliveredAt = utcOrZero(r.DeliveredAt)
	r.DeadAt = utcOrZero(r.DeadAt)
	r.RetriedAt = utcOrZero(r.RetriedAt)
	for i := range r.History {
		r.History[i].At = r.History[i].At.UTC()
		r.History[i].NextAttemptAt = utcOrZero(r.History[i].NextAttemptAt)
	}
	return r, nil
}

// auditValue is the stored value of an audit entry: its hash, then the
// record bytes the hash covers (DESIGN.md §7).
func splitAuditValue(v []byte) (hash [32]byte, rec []byte, err error) {
	if len(v) < 32+2 {
		return hash, nil, corruptf("audit value of %d bytes", len(v))
	}
	copy(hash[:], v[:32])
	return hash, v[32:], nil
}

// decodeAuditValue decodes a stored audit value: the entry and its hash.
// (VerifyAudit splits the value itself: it hashes the record's bytes.)
func decodeAuditValue(v []byte) (auditRec, [32]byte, error) {
	h, rec, err := splitAuditValue(v)
	if err != nil {
		return auditRec{}, h, err
	}
	e, err := decodeAudit(rec)
	return e, h, err
}

func decodeAudit(b []byte) (auditRec, error) {
	var r auditRec
	if err := decodeRecord(kindAudit, b, &r); err != nil {
		return r, err
	}
	switch {
	case r.Seq == 0:
		return r, corruptf("audit record: seq 0")
	case r.At.IsZero():
		return r, corruptf("audit record: no time")
	case !knownAuditKind(r.Kind):
		return r, corruptf("audit record: kind %q", r.Kind)
	}
	r.At = r.At.UTC()
	return r, nil
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
