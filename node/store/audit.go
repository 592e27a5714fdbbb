package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Audit entry kinds.
const (
	AuditAccepted  = "inbound.accepted"
	AuditRejected  = "inbound.rejected"
	AuditEnqueued  = "outbound.enqueued"
	AuditDelivered = "outbound.delivered"
	AuditDead      = "outbound.dead"
)

func knownAuditKind(k string) bool {
	switch k {
	case AuditAccepted, AuditRejected, AuditEnqueued, AuditDelivered, AuditDead, AuditRetried,
		AuditQueryAnswered, AuditQueryRefused, AuditQueryProbing, AuditRecordsChanged:
		return true
	}
	return false
}

// AuditEntry is one link of the audit chain (DESIGN.md §7).
type AuditEntry struct {
	Seq       uint64
	At        time.Time
	Kind      string // AuditAccepted, …
	Sender    string // inbound: the sender's country
	Recipient string // outbound: the peer (recipient node id)
	MessageID string
	Digest    [32]byte // the JWS digest, when there is one
	Ref       string   // "inbox/<seq>", "delivery/<key>"
	Detail    string
	Prev      [32]byte // hash of the previous entry
	Hash      [32]byte // SHA-256(Prev ‖ the stored record bytes)
}

// appendAudit adds one entry in the caller's transaction.
func appendAudit(w *wtx, e auditRec) error {
	seq, prev, err := readHead(w.tx)
	if err != nil {
		return &txAbort{err}
	}
	e.Seq = seq + 1
	e.Prev = prev
	if e.At.IsZero() {
		e.At = w.now()
	}
	e.At = e.At.UTC()
	rec, err := encodeRecord(kindAudit, e)
	if err != nil {
		return &txAbort{err}
	}
	h := chainHash(prev, rec)
	v := make([]byte, 0, 32+len(rec))
	v = append(v, h[:]...)
	v = append(v, rec...)
	if err := w.put(bktAudit, u64(e.Seq), v); err != nil {
		return err
	}
	head := make([]byte, 0, 40)
	head = append(head, u64(e.Seq)...)
	head = append(head, h[:]...)
	return w.put(bktMeta, keyAuditHead, head)
}

func chainHash(prev [32]byte, rec []byte) [32]byte {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(rec)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// readHead returns the last audit seq and its hash (0 and zeros when empty).
func readHead(tx *bolt.Tx) (uint64, [32]byte, error) {
	var h [32]byte
	v := tx.Bucket(bktMeta).Get(keyAuditHead)
	if v == nil {
		return 0, h, nil
	}
	if len(v) != 40 {
		return 0, h, &AuditError{Reason: fmt.Sprintf("head record of %d bytes", len(v))}
	}
	seq, _ := getU64(v[:8])
	copy(h[:], v[8:])
	return seq, h, nil
}

// AuditHead returns the hash of the last audit entry and the number of
// entries, from the head record (no recomputation; see VerifyAudit).
func (s *Store) AuditHead(ctx context.Context) (head [32]byte, n uint64, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		var e error
		n, head, e = readHead(tx)
		return e
	})
	if err != nil {
		return head, 0, fmt.Errorf("store: audit head: %w", err)
	}
	return head, n, nil
}

// VerifyAudit recomputes the whole chain in one read transaction and checks
// every entry's hash, seq and prev link and the head record. It returns the
// head and the number of entries, or an *AuditError (wrapping ErrCorrupt)
// naming the first broken entry.
func (s *Store) VerifyAudit(ctx context.Context) (head [32]byte, n uint64, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		var e error
		head, n, e = verifyAuditTx(ctx, tx)
		return e
	})
	return head, n, err
}

func verifyAuditTx(ctx context.Context, tx *bolt.Tx) ([32]byte, uint64, error) {
	var prev [32]byte
	var n uint64
	c := tx.Bucket(bktAudit).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return prev, n, err
			}
		}
		want := n + 1
		seq, ok := getU64(k)
		if !ok || seq != want {
			return prev, n, &AuditError{Seq: want, Reason: fmt.Sprintf("missing (next key is %x)", k)}
		}
		stored, rec, err := splitAuditValue(v)
		if err != nil {
			return prev, n, &AuditError{Seq: seq, Reason: err.Error()}
		}
		if got := chainHash(prev, rec); got != stored {
			return prev, n, &AuditError{Seq: seq, Reason: "hash does not match the entry's bytes and the previous hash"}
		}
		e, err := decodeAudit(rec)
		if err != nil {
			return prev, n, &AuditError{Seq: seq, Reason: err.Error()}
		}
		if e.Seq != seq {
			return prev, n, &AuditError{Seq: seq, Reason: fmt.Sprintf("entry says seq %d", e.Seq)}
		}
		if e.Prev != prev {
			return prev, n, &AuditError{Seq: seq, Reason: "prev does not name the previous entry"}
		}
		prev = stored
		n = seq
	}
	hseq, hhash, err := readHead(tx)
	if err != nil {
		return prev, n, err
	}
	if hseq != n || hhash != prev {
		return prev, n, &AuditError{Reason: fmt.Sprintf("head says entry %d %s, chain ends at %d %s", hseq, hex.EncodeToString(hhash[:8]), n, hex.EncodeToString(prev[:8]))}
	}
	return prev, n, nil
}

// AuditAfter returns up to limit entries with seq > after, in order.
func (s *Store) AuditAfter(ctx context.Context, after uint64, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = defaultPage
	}
	limit = min(limit, maxPage)
	var out []AuditEntry
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bktAudit).Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			e, h, err := decodeAuditValue(v)
			if err != nil {
				return err
			}
			out = append(out, AuditEntry{
				Seq: e.Seq, At: e.At, Kind: e.Kind, Sender: e.Sender, Recipient: e.Recipient,
				MessageID: e.MessageID, Digest: e.Digest, Ref: e.Ref, Detail: e.Detail, Prev: e.Prev, Hash: h,
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: audit after %d: %w", after, err)
	}
	return out, nil
}
