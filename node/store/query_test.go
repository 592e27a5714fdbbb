package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAnswerQuery is SPEC §11.2.6 at the store: the same (requester,
// messageId) again returns the original attestation bytes; the same id with
// another payload is ErrConflict and writes nothing; the answer and its
// audit entry are one transaction, and the audit entry holds the keyed hash
// of the subject, never more.
func TestAnswerQuery(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{})
	att := fakeJWS([]byte(`{"messageType":"status.attestation"}`))
	q := QueryAnswer{Requester: "INT-UNHCR", MessageID: "3d0c7a52-9b1e-4f6a-8c2d-5e7f9a1b3c4d", PayloadDigest: sha256.Sum256([]byte("query")), Attestation: att}
	a := QueryAudit{Requester: "INT-UNHCR", MessageID: q.MessageID, SubjectHMAC: "ab12", Questions: []string{"vital-status"}, Outcome: "unique-match"}

	_, found, err := s.LookupQuery(ctx, q.Requester, q.MessageID)
	require.NoError(t, err)
	require.False(t, found, "a new file has no query bucket and no answer")

	got, dup, err := s.AnswerQuery(ctx, q, a)
	require.NoError(t, err)
	require.False(t, dup)
	require.Equal(t, att, got.Attestation)
	_, n1, err := s.VerifyAudit(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n1)

	t.Run("replay/same-payload-same-bytes", func(t *testing.T) {
		again := q
		again.Attestation = fakeJWS([]byte(`{"other":"signature"}`))
		got, dup, err := s.AnswerQuery(ctx, again, a)
		require.NoError(t, err)
		require.True(t, dup)
		require.Equal(t, att, got.Attestation, "the original bytes")
		l, found, err := s.LookupQuery(ctx, q.Requester, q.MessageID)
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, att, l.Attestation)
	})
	t.Run("conflict/other-payload", func(t *testing.T) {
		other := q
		other.PayloadDigest = sha256.Sum256([]byte("another query"))
		_, _, err := s.AnswerQuery(ctx, other, a)
		require.ErrorIs(t, err, ErrConflict)
	})
	t.Run("key/requester-scoped", func(t *testing.T) {
		other := q
		other.Requester = "KG-BORDER"
		other.PayloadDigest = sha256.Sum256([]byte("another query"))
		_, dup, err := s.AnswerQuery(ctx, other, a)
		require.NoError(t, err)
		require.False(t, dup)
	})
	t.Run("audit/refused-and-probing", func(t *testing.T) {
		require.NoError(t, s.AuditQuery(ctx, AuditQueryRefused, QueryAudit{Requester: "INT-UNHCR", MessageID: "x", SubjectHMAC: "cd34", Outcome: "QUERY_NOT_AUTHORIZED", Detail: "question civil-status"}))
		require.NoError(t, s.AuditQuery(ctx, AuditQueryProbing, QueryAudit{Requester: "INT-UNHCR", SubjectHMAC: "cd34", Outcome: "probing", Detail: "near-identical"}))
		require.ErrorIs(t, s.AuditQuery(ctx, AuditAccepted, QueryAudit{}), ErrInvalid)
		es, err := s.AuditAfter(ctx, 0, 100)
		require.NoError(t, err)
		require.Len(t, es, 4)
		require.Equal(t, AuditQueryAnswered, es[0].Kind)
		require.Equal(t, sha256.Sum256(att), es[0].Digest)
		require.Equal(t, "subject=ab12 questions=vital-status outcome=unique-match", es[0].Detail)
		require.Equal(t, AuditQueryRefused, es[2].Kind)
		require.Equal(t, AuditQueryProbing, es[3].Kind)
		_, n, err := s.VerifyAudit(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 4, n)
		mustCheck(t, s)
	})
	t.Run("concurrent/one-answer", func(t *testing.T) {
		c := q
		c.MessageID = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
		var wg sync.WaitGroup
		outs := make([][]byte, 8)
		for i := range outs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine := c
				mine.Attestation = fakeJWS([]byte{byte('a' + i)})
				got, _, err := s.AnswerQuery(ctx, mine, a)
				require.NoError(t, err)
				outs[i] = got.Attestation
			}()
		}
		wg.Wait()
		for _, o := range outs {
			require.True(t, bytes.Equal(outs[0], o), "every caller gets the one stored answer")
		}
	})
}

// TestAnswerQueryValidates: limits before anything is written.
func TestAnswerQueryValidates(t *testing.T) {
	s := mustOpen(t, Options{})
	ok := QueryAnswer{Requester: "INT-UNHCR", MessageID: "m", PayloadDigest: sha256.Sum256([]byte("q")), Attestation: []byte("a.b.c")}
	for name, mut := range map[string]func(*QueryAnswer){
		"no-requester":      func(q *QueryAnswer) { q.Requester = "" },
		"no-digest":         func(q *QueryAnswer) { q.PayloadDigest = [32]byte{} },
		"no-attestation":    func(q *QueryAnswer) { q.Attestation = nil },
		"attestation-space": func(q *QueryAnswer) { q.Attestation = []byte("a. b.c") },
	} {
		q := ok
		mut(&q)
		_, _, err := s.AnswerQuery(context.Background(), q, QueryAudit{})
		require.ErrorIs(t, err, ErrInvalid, name)
	}
}
