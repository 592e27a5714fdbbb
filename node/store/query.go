package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Status queries (protocol/SPEC.md §11.2, DESIGN.md §2 and §7): the
// attestation answered for each (requester, messageId), kept so that the
// same query again gets the same bytes (§11.2.6), and the audit entries of
// queries — which never hold the subject, only the caller's keyed hash of it.

// Audit entry kinds of status queries.
const (
	// AuditQueryAnswered: a query answered with an attestation; written in
	// the transaction that stores the attestation.
	AuditQueryAnswered = "query.answered"
	// AuditQueryRefused: a query that reached SPEC §11.2 step 4 and was
	// refused there or later (scope, rate, probing policy, conflict).
	AuditQueryRefused = "query.refused"
	// AuditQueryProbing: a requester crossed a probing threshold.
	AuditQueryProbing = "query.probing"
)

// Buckets of status queries. They are created by the first write that needs
// them, so a file made before them opens unchanged (DESIGN.md §2).
var bktQuery = []byte("query")

// kindQuery is record 'Q' (DESIGN.md §3).
const kindQuery = 'Q'

// maxQueryAuditDetail bounds the audit detail of a query.
const maxQueryAuditDetail = 512

// QueryAnswer is an answered status query: the idempotency key
// (Requester, MessageID), the digest of the query's signed payload (what
// "the same query" compares, as SPEC §8.2), and the attestation answered.
type QueryAnswer struct {
	Requester     string // the requester id (INT-UNHCR, KG-BORDER)
	MessageID     string
	PayloadDigest [32]byte
	AnsweredAt    time.Time
	Attestation   []byte // the signed attestation, exact bytes
}

// QueryAudit is what the audit chain keeps of a query: never the subject,
// only SubjectHMAC (an HMAC-SHA-256 of it under a key of the node, hex).
type QueryAudit struct {
	Requester   string
	MessageID   string
	SubjectHMAC string   // 64 hex digits
	Questions   []string // as asked
	Outcome     string   // the matchResult, or the refusal's problem code
	Detail      string   // optional: what was out of scope, the probing signal
	At          time.Time
}

type queryRec struct {
	Requester     string    `json:"requester"`
	MessageID     string    `json:"messageId"`
	PayloadDigest digest    `json:"payloadDigest"`
	AnsweredAt    time.Time `json:"answeredAt"`
	Attestation   string    `json:"attestation"`
}

func (q *QueryAnswer) validate(now func() time.Time) error {
	if err := checkField("requester", q.Requester, maxNameLen); err != nil {
		return err
	}
	if err := checkField("messageId", q.MessageID, maxIDLen); err != nil {
		return err
	}
	if q.PayloadDigest == ([32]byte{}) {
		return invalidf("payload digest is missing")
	}
	if err := checkBlob("attestation", q.Attestation); err != nil {
		return err
	}
	for _, c := range q.Attestation { // a compact JWS is ASCII
		if c < 0x21 || c > 0x7e {
			return invalidf("attestation is not a compact JWS")
		}
	}
	if q.AnsweredAt.IsZero() {
		q.AnsweredAt = now()
	}
	q.AnsweredAt = q.AnsweredAt.UTC()
	return nil
}

func (a QueryAudit) record(kind string, att [32]byte) auditRec {
	var b strings.Builder
	b.WriteString("subject=" + sanitizeASCII(a.SubjectHMAC, 64))
	if len(a.Questions) > 0 {
		qs := make([]string, len(a.Questions))
		for i, q := range a.Questions {
			qs[i] = sanitizeASCII(q, 32)
		}
		b.WriteString(" questions=" + strings.Join(qs, ","))
	}
	b.WriteString(" outcome=" + sanitizeASCII(a.Outcome, 64))
	if a.Detail != "" {
		b.WriteString(" detail=" + sanitizeASCII(a.Detail, 256))
	}
	return auditRec{
		At: a.At, Kind: kind,
		Sender:    sanitizeASCII(a.Requester, maxNameLen),
		MessageID: sanitizeASCII(a.MessageID, maxIDLen),
		Digest:    att,
		Ref:       "query",
		Detail:    sanitizeASCII(b.String(), maxQueryAuditDetail),
	}
}

// LookupQuery returns the stored answer of (requester, messageID), if any.
func (s *Store) LookupQuery(ctx context.Context, requester, messageID string) (QueryAnswer, bool, error) {
	var q QueryAnswer
	var found bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var e error
		q, found, e = lookupQuery(tx, compositeKey(requester, []byte(messageID)))
		return e
	})
	if err != nil {
		return QueryAnswer{}, false, fmt.Errorf("store: lookup query %s/%s: %w", requester, messageID, err)
	}
	return q, found, nil
}

func lookupQuery(tx *bolt.Tx, key []byte) (QueryAnswer, bool, error) {
	b := tx.Bucket(bktQuery)
	if b == nil {
		return QueryAnswer{}, false, nil
	}
	v := b.Get(key)
	if v == nil {
		return QueryAnswer{}, false, nil
	}
	var r queryRec
	if err := decodeRecord(kindQuery, v, &r); err != nil {
		return QueryAnswer{}, false, err
	}
	if checkName(r.Requester, maxNameLen) != nil || checkName(r.MessageID, maxIDLen) != nil || r.Attestation == "" || r.AnsweredAt.IsZero() {
		return QueryAnswer{}, false, corruptf("query record: bad fields")
	}
	return QueryAnswer{Requester: r.Requester, MessageID: r.MessageID, PayloadDigest: r.PayloadDigest,
		AnsweredAt: r.AnsweredAt.UTC(), Attestation: []byte(r.Attestation)}, true, nil
}

// AnswerQuery stores an answered query and its audit entry in one
// transaction, durably, once (SPEC §11.2.6):
//
//   - (Requester, MessageID) already stored with the same PayloadDigest:
//     the ORIGINAL answer and duplicate=true; nothing written;
//   - stored with another PayloadDigest: ErrConflict; nothing written;
//   - else: the answer and an AuditQueryAnswered entry whose digest is the
//     SHA-256 of the attestation.
func (s *Store) AnswerQuery(ctx context.Context, q QueryAnswer, audit QueryAudit) (stored QueryAnswer, duplicate bool, err error) {
	if err := q.validate(s.now); err != nil {
		return QueryAnswer{}, false, fmt.Errorf("store: answer query: %w", err)
	}
	if audit.At.IsZero() {
		audit.At = q.AnsweredAt
	}
	key := compositeKey(q.Requester, []byte(q.MessageID))
	rec, err := encodeRecord(kindQuery, queryRec{Requester: q.Requester, MessageID: q.MessageID,
		PayloadDigest: q.PayloadDigest, AnsweredAt: q.AnsweredAt, Attestation: string(q.Attestation)})
	if err != nil {
		return QueryAnswer{}, false, err
	}
	type result struct {
		q   QueryAnswer
		dup bool
	}
	res := new(result)
	err = s.write(ctx, len(rec)+1024, func(w *wtx) error {
		old, found, err := lookupQuery(w.tx, key)
		if err != nil {
			return err
		}
		if found {
			if old.PayloadDigest != q.PayloadDigest {
				return fmt.Errorf("%w: query %s/%s answered for another payload", ErrConflict, q.Requester, q.MessageID)
			}
			res.q, res.dup = old, true
			return nil
		}
		if w.tx.Bucket(bktQuery) == nil {
			if _, err := w.tx.CreateBucket(bktQuery); err != nil {
				return &txAbort{fmt.Errorf("create bucket %s: %w", bktQuery, err)}
			}
			w.dirty = true
		}
		if err := w.put(bktQuery, key, rec); err != nil {
			return err
		}
		if err := appendAudit(w, audit.record(AuditQueryAnswered, sha256.Sum256(q.Attestation))); err != nil {
			return err
		}
		res.q = q
		return nil
	})
	if err != nil {
		return QueryAnswer{}, false, fmt.Errorf("store: answer query %s/%s: %w", q.Requester, q.MessageID, err)
	}
	return res.q, res.dup, nil
}

// AuditQuery appends an audit entry of a query that was not answered
// (AuditQueryRefused) or of a probing signal (AuditQueryProbing); it
// shares a commit with other writes and returns once durable.
func (s *Store) AuditQuery(ctx context.Context, kind string, a QueryAudit) error {
	if kind != AuditQueryRefused && kind != AuditQueryProbing {
		return fmt.Errorf("store: audit query: %w", invalidf("kind %q", kind))
	}
	if a.At.IsZero() {
		a.At = s.now()
	}
	rec := a.record(kind, [32]byte{})
	if err := s.write(ctx, 1024, func(w *wtx) error { return appendAudit(w, rec) }); err != nil {
		return fmt.Errorf("store: audit query: %w", err)
	}
	return nil
}
