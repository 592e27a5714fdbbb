package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	peerTR = "TR-NVI-CRVS"
	peerKZ = "KZ-MOJ-CRVS"
)

func mustEnqueue(t *testing.T, s *Store, sub Submission) *SubmissionStatus {
	t.Helper()
	st, dup, err := s.Enqueue(context.Background(), sub)
	require.NoError(t, err)
	require.False(t, dup)
	return st
}

func receiptFor(d *Delivery) []byte {
	return fakeJWS([]byte(fmt.Sprintf(`{"messageType":"receipt","inResponseTo":%q}`, d.MessageID)))
}

func TestOutbox(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, s *Store)
	}{
		{"ok/enqueue-one-delivery-per-recipient", func(t *testing.T, s *Store) {
			st := mustEnqueue(t, s, submission("s-1", peerTR, peerKZ))
			require.Len(t, st.Deliveries, 2)
			for _, d := range st.Deliveries {
				assert.Equal(t, StatePending, d.State)
				assert.Zero(t, d.Attempts)
			}
			assert.Equal(t, peerTR, st.Deliveries[0].RecipientNodeID)
			c, err := s.Counts(ctx)
			require.NoError(t, err)
			assert.Equal(t, uint64(2), c.Queued)
			assert.Equal(t, uint64(2), c.Audit, "one audit entry per delivery")
		}},
		{"ok/enqueue-same-id-same-message-is-duplicate", func(t *testing.T, s *Store) {
			mustEnqueue(t, s, submission("s-1", peerTR))
			st, dup, err := s.Enqueue(ctx, submission("s-1", peerTR)) // re-signed JWS, same message
			require.NoError(t, err)
			assert.True(t, dup)
			assert.Len(t, st.Deliveries, 1)
			c, _ := s.Counts(ctx)
			assert.Equal(t, uint64(1), c.Queued)
		}},
		{"fail/enqueue-same-id-other-message-conflict", func(t *testing.T, s *Store) {
			mustEnqueue(t, s, submission("s-1", peerTR))
			other := submission("s-1", peerTR)
			other.Message = []byte(`{"other":true}`)
			_, _, err := s.Enqueue(ctx, other)
			require.ErrorIs(t, err, ErrConflict)
		}},
		{"fail/enqueue-message-id-already-queued-to-peer", func(t *testing.T, s *Store) {
			mustEnqueue(t, s, submission("s-1", peerTR))
			again := submission("s-2", peerTR)
			again.Deliveries[0].MessageID = "s-1-" + peerTR
			_, _, err := s.Enqueue(ctx, again)
			require.ErrorIs(t, err, ErrConflict)
			_, err = s.Submission(ctx, "s-2")
			require.ErrorIs(t, err, ErrNotFound, "nothing of a refused submission is stored")
		}},
		{"fail/enqueue-invalid", func(t *testing.T, s *Store) {
			for name, mut := range map[string]func(*Submission){
				"no deliveries":     func(s *Submission) { s.Deliveries = nil },
				"no message":        func(s *Submission) { s.Message = nil },
				"no peer":           func(s *Submission) { s.Deliveries[0].RecipientNodeID = "" },
				"bad digest":        func(s *Submission) { s.Deliveries[0].Digest = [32]byte{1} },
				"twice to one peer": func(s *Submission) { s.Deliveries = append(s.Deliveries, s.Deliveries[0]) },
				"too many":          func(s *Submission) { s.Deliveries = make([]Delivery, maxDeliveries+1) },
				"id too long":       func(s *Submission) { s.ID = strings.Repeat("s", maxIDLen+1) },
			} {
				sub := submission("s-bad", peerTR)
				mut(&sub)
				_, _, err := s.Enqueue(ctx, sub)
				require.ErrorIs(t, err, ErrInvalid, name)
			}
		}},
		{"ok/fifo-per-peer", func(t *testing.T, s *Store) {
			for i := range 5 {
				mustEnqueue(t, s, submission(fmt.Sprintf("s-%d", i), peerTR, peerKZ))
			}
			// The first delivery to TR fails and is retried later: the second
			// must not overtake it, however due it is.
			d, err := s.NextDue(ctx, peerTR, t0)
			require.NoError(t, err)
			require.NotNil(t, d)
			assert.Equal(t, "s-0-"+peerTR, d.MessageID)
			require.NoError(t, s.RecordAttempt(ctx, d.Key, Attempt{At: t0, Err: "connection refused", NextAttemptAt: t0.Add(time.Minute)}))
			d2, err := s.NextDue(ctx, peerTR, t0.Add(30*time.Second))
			require.NoError(t, err)
			assert.Nil(t, d2, "the head is not due; nothing overtakes it")
			h, err := s.QueueHead(ctx, peerTR)
			require.NoError(t, err)
			assert.Equal(t, d.Key, h.Key)
			assert.Equal(t, 1, h.Attempts)
			assert.True(t, h.NextAttemptAt.Equal(t0.Add(time.Minute)))
			// KZ's queue is independent.
			k, err := s.NextDue(ctx, peerKZ, t0)
			require.NoError(t, err)
			assert.Equal(t, "s-0-"+peerKZ, k.MessageID)
			// Deliver TR in order.
			var got []string
			now := t0.Add(time.Hour)
			for {
				d, err := s.NextDue(ctx, peerTR, now)
				require.NoError(t, err)
				if d == nil {
					break
				}
				got = append(got, d.MessageID)
				require.NoError(t, s.MarkDelivered(ctx, d.Key, receiptFor(d), now))
			}
			assert.Equal(t, []string{"s-0-" + peerTR, "s-1-" + peerTR, "s-2-" + peerTR, "s-3-" + peerTR, "s-4-" + peerTR}, got)
		}},
		{"ok/dead-letter-not-redelivered", func(t *testing.T, s *Store) {
			mustEnqueue(t, s, submission("s-1", peerTR))
			mustEnqueue(t, s, submission("s-2", peerTR))
			d, _ := s.NextDue(ctx, peerTR, t0)
			require.NoError(t, s.MarkDead(ctx, d.Key, "lifetime of 7 days exceeded", t0.Add(7*24*time.Hour)))
			require.NoError(t, s.MarkDead(ctx, d.Key, "again", t0), "idempotent")
			next, err := s.NextDue(ctx, peerTR, t0.Add(8*24*time.Hour))
			require.NoError(t, err)
			require.NotNil(t, next)
			assert.Equal(t, "s-2-"+peerTR, next.MessageID, "the dead one leaves the queue; the next is the head")
			require.ErrorIs(t, s.RecordAttempt(ctx, d.Key, Attempt{At: t0}), ErrConflict)
			st, err := s.Submission(ctx, "s-1")
			require.NoError(t, err)
			assert.Equal(t, StateDead, st.Deliveries[0].State)
			assert.Equal(t, "lifetime of 7 days exceeded", st.Deliveries[0].DeadReason)
			c, _ := s.Counts(ctx)
			assert.Equal(t, Counts{Queued: 1, Dead: 1, Audit: 3}, c)
		}},
		{"ok/mark-delivered-idempotent-keeps-first-receipt", func(t *testing.T, s *Store) {
			mustEnqueue(t, s, submission("s-1", peerTR))
			d, _ := s.NextDue(ctx, peerTR, t0)
			r1 := receiptFor(d)
			require.NoError(t, s.MarkDelivered(ctx, d.Key, r1, t0))
			require.NoError(t, s.MarkDelivered(ctx, d.Key, receiptFor(d), t0.Add(time.Second)))
			st, _ := s.Submission(ctx, "s-1")
			assert.Equal(t, StateDelivered, st.Deliveries[0].State)
			assert.Equal(t, r1, st.Deliveries[0].Receipt)
			assert.Equal(t, 1, st.Deliveries[0].Attempts)
			c, _ := s.Counts(ctx)
			assert.Equal(t, Counts{Delivered: 1, Audit: 2}, c)
			peers, _ := s.PendingPeers(ctx)
			assert.Empty(t, peers)
		}},
		{"fail/dead-after-delivered-conflict", func(t *testing.T, s *Store) {
			mustEnqueue(t, s, submission("s-1", peerTR))
			d, _ := s.NextDue(ctx, peerTR, t0)
			require.NoError(t, s.MarkDelivered(ctx, d.Key, receiptFor(d), t0))
			require.ErrorIs(t, s.MarkDead(ctx, d.Key, "late", t0), ErrConflict)
		}},
		{"ok/receipt-after-dead-letter-is-kept", func(t *testing.T, s *Store) {
			mustEnqueue(t, s, submission("s-1", peerTR))
			d, _ := s.NextDue(ctx, peerTR, t0)
			require.NoError(t, s.MarkDead(ctx, d.Key, "ttl", t0))
			require.NoError(t, s.MarkDelivered(ctx, d.Key, receiptFor(d), t0.Add(time.Second)))
			st, _ := s.Submission(ctx, "s-1")
			assert.Equal(t, StateDelivered, st.Deliveries[0].State)
			c, _ := s.Counts(ctx)
			assert.Equal(t, Counts{Delivered: 1, Audit: 3}, c)
		}},
		{"ok/attempt-history-bounded", func(t *testing.T, s *Store) {
			mustEnqueue(t, s, submission("s-1", peerTR))
			d, _ := s.NextDue(ctx, peerTR, t0)
			for i := range 20 {
				at := t0.Add(time.Duration(i) * time.Minute)
				require.NoError(t, s.RecordAttempt(ctx, d.Key, Attempt{At: at, Err: fmt.Sprintf("attempt %d: %s", i, strings.Repeat("e", 5000)), NextAttemptAt: at.Add(time.Minute)}))
			}
			st, _ := s.Submission(ctx, "s-1")
			ds := st.Deliveries[0]
			assert.Equal(t, 20, ds.Attempts)
			assert.Len(t, ds.History, maxHistory)
			assert.True(t, strings.HasPrefix(ds.History[maxHistory-1].Err, "attempt 19"))
			assert.LessOrEqual(t, len(ds.LastError), maxErrLen)
		}},
		{"ok/pending-peers-after-restart", func(t *testing.T, s *Store) {
			mustEnqueue(t, s, submission("s-1", peerTR, peerKZ, "INT-UNHCR-1"))
			d, _ := s.NextDue(ctx, peerKZ, t0)
			require.NoError(t, s.MarkDelivered(ctx, d.Key, receiptFor(d), t0))
			path := s.Path()
			require.NoError(t, s.Close())
			s2 := mustOpenPath(t, path, Options{NoSync: true})
			peers, err := s2.PendingPeers(ctx)
			require.NoError(t, err)
			assert.Equal(t, []string{"INT-UNHCR-1", peerTR}, peers)
			mustCheck(t, s2)
		}},
		{"fail/unknown-delivery-not-found", func(t *testing.T, s *Store) {
			require.ErrorIs(t, s.MarkDelivered(ctx, 99, []byte("r"), t0), ErrNotFound)
			require.ErrorIs(t, s.MarkDead(ctx, 99, "x", t0), ErrNotFound)
			require.ErrorIs(t, s.RecordAttempt(ctx, 99, Attempt{}), ErrNotFound)
			_, err := s.Submission(ctx, "nope")
			require.ErrorIs(t, err, ErrNotFound)
			d, err := s.NextDue(ctx, peerTR, t0)
			require.NoError(t, err)
			assert.Nil(t, d)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpen(t, Options{NoSync: true})
			tt.run(t, s)
			if !isClosed(s) {
				mustCheck(t, s)
			}
		})
	}
}
