package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAccept(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, s *Store)
	}{
		{"ok/first-accept-gets-seq-1", func(t *testing.T, s *Store) {
			in := inbound("TJ", "m-1", "birth", 600)
			got, dup, err := s.Accept(ctx, in)
			require.NoError(t, err)
			assert.False(t, dup)
			assert.Equal(t, uint64(1), got.Seq)
			assert.Equal(t, sha256.Sum256(in.JWS), got.Digest)
			stored, err := s.LookupInbound(ctx, "TJ", "m-1")
			require.NoError(t, err)
			assert.Equal(t, in.JWS, stored.JWS)
			assert.Equal(t, in.Receipt, stored.Receipt)
			assert.Equal(t, in.PayloadDigest, stored.PayloadDigest)
			assert.True(t, stored.ReceivedAt.Equal(t0))
		}},
		{"ok/duplicate-returns-original-receipt", func(t *testing.T, s *Store) {
			first := inbound("TJ", "m-1", "birth", 600)
			_, _, err := s.Accept(ctx, first)
			require.NoError(t, err)
			again := inbound("TJ", "m-1", "birth", 600) // re-signed: other JWS and receipt bytes
			require.NotEqual(t, first.JWS, again.JWS)
			got, dup, err := s.Accept(ctx, again)
			require.NoError(t, err)
			assert.True(t, dup)
			assert.Equal(t, first.Receipt, got.Receipt, "the original receipt, byte for byte")
			assert.Equal(t, first.JWS, got.JWS, "the original record")
			c, err := s.Counts(ctx)
			require.NoError(t, err)
			assert.Equal(t, uint64(1), c.Inbox)
			assert.Equal(t, uint64(1), c.Audit, "a duplicate writes nothing, not even audit")
		}},
		{"fail/same-id-other-payload-conflict", func(t *testing.T, s *Store) {
			_, _, err := s.Accept(ctx, inbound("TJ", "m-1", "birth", 600))
			require.NoError(t, err)
			_, _, err = s.Accept(ctx, inbound("TJ", "m-1", "another birth", 600))
			require.ErrorIs(t, err, ErrConflict)
			c, err := s.Counts(ctx)
			require.NoError(t, err)
			assert.Equal(t, uint64(1), c.Inbox)
			assert.Equal(t, uint64(1), c.Audit, "a conflict writes nothing")
		}},
		{"ok/same-id-other-sender-is-another-message", func(t *testing.T, s *Store) {
			_, _, err := s.Accept(ctx, inbound("TJ", "m-1", "birth", 600))
			require.NoError(t, err)
			got, dup, err := s.Accept(ctx, inbound("TR", "m-1", "other", 600))
			require.NoError(t, err)
			assert.False(t, dup)
			assert.Equal(t, uint64(2), got.Seq)
		}},
		{"ok/composite-key-has-no-ambiguity", func(t *testing.T, s *Store) {
			// ("TJ", "Xm") and ("TJX", "m") must not share a key.
			_, _, err := s.Accept(ctx, inbound("TJ", "Xm", "a", 200))
			require.NoError(t, err)
			_, dup, err := s.Accept(ctx, inbound("TJX", "m", "b", 200))
			require.NoError(t, err)
			assert.False(t, dup)
		}},
		{"fail/digest-not-of-jws", func(t *testing.T, s *Store) {
			in := inbound("TJ", "m-1", "birth", 600)
			in.Digest = sha256.Sum256([]byte("other"))
			_, _, err := s.Accept(ctx, in)
			require.ErrorIs(t, err, ErrInvalid)
		}},
		{"fail/no-payload-digest", func(t *testing.T, s *Store) {
			in := inbound("TJ", "m-1", "birth", 600)
			in.PayloadDigest = [32]byte{}
			_, _, err := s.Accept(ctx, in)
			require.ErrorIs(t, err, ErrInvalid)
		}},
		{"fail/no-receipt", func(t *testing.T, s *Store) {
			in := inbound("TJ", "m-1", "birth", 600)
			in.Receipt = nil
			_, _, err := s.Accept(ctx, in)
			require.ErrorIs(t, err, ErrInvalid)
		}},
		{"fail/jws-over-limit", func(t *testing.T, s *Store) {
			in := inbound("TJ", "m-1", "birth", 600)
			in.JWS = make([]byte, maxBlob+1)
			in.Digest = [32]byte{}
			_, _, err := s.Accept(ctx, in)
			require.ErrorIs(t, err, ErrInvalid)
		}},
		{"fail/sender-not-printable", func(t *testing.T, s *Store) {
			_, _, err := s.Accept(ctx, inbound("T J", "m-1", "birth", 600))
			require.ErrorIs(t, err, ErrInvalid)
		}},
		{"fail/message-id-too-long", func(t *testing.T, s *Store) {
			_, _, err := s.Accept(ctx, inbound("TJ", strings.Repeat("a", maxIDLen+1), "birth", 600))
			require.ErrorIs(t, err, ErrInvalid)
		}},
		{"fail/lookup-unknown-not-found", func(t *testing.T, s *Store) {
			_, err := s.LookupInbound(ctx, "TJ", "nope")
			require.ErrorIs(t, err, ErrNotFound)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpen(t, Options{NoSync: true})
			tt.run(t, s)
			mustCheck(t, s)
		})
	}
}

// TestAcceptConcurrentIdentical: SPEC §8.2 "Concurrent identical
// submissions give one record and one receipt".
func TestAcceptConcurrentIdentical(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"same-batch", "free-running"} {
		t.Run("ok/ten-concurrent-identical-accepts-one-record/"+mode, func(t *testing.T) {
			s := mustOpen(t, Options{})
			const n = 10
			ins := make([]InboundRecord, n)
			for i := range ins {
				ins[i] = inbound("KZ", "m-ten", "birth", 6000) // each re-signed
			}
			var g *gate
			if mode == "same-batch" {
				g = holdCommitter(t, s)
			}
			type result struct {
				rec InboundRecord
				dup bool
				err error
			}
			results := make([]result, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					r, dup, err := s.Accept(ctx, ins[i])
					results[i] = result{r, dup, err}
				})
			}
			if g != nil {
				waitQueued(t, s, n)
				before := s.Stats().Commits
				g.open()
				wg.Wait()
				assert.Equal(t, before+1, s.Stats().Commits, "ten accepts, one commit")
			}
			wg.Wait()
			fresh := 0
			for _, r := range results {
				require.NoError(t, r.err)
				if !r.dup {
					fresh++
				}
			}
			require.Equal(t, 1, fresh, "exactly one accept stores")
			stored, err := s.LookupInbound(ctx, "KZ", "m-ten")
			require.NoError(t, err)
			for i, r := range results {
				assert.Equal(t, stored.Receipt, r.rec.Receipt, "caller %d gets the stored receipt", i)
				assert.Equal(t, uint64(1), r.rec.Seq)
			}
			c, err := s.Counts(ctx)
			require.NoError(t, err)
			assert.Equal(t, uint64(1), c.Inbox)
			assert.Equal(t, uint64(1), c.Audit)
			mustCheck(t, s)
		})
	}
}

func TestInboxCursor(t *testing.T) {
	ctx := context.Background()
	fill := func(t *testing.T, s *Store, n int) {
		for i := 1; i <= n; i++ {
			_, _, err := s.Accept(ctx, inbound([]string{"TJ", "TR", "KZ"}[i%3], fmt.Sprintf("m-%d", i), "p", 300))
			require.NoError(t, err)
		}
	}
	tests := []struct {
		name string
		run  func(t *testing.T, s *Store)
	}{
		{"ok/pages-in-seq-order", func(t *testing.T, s *Store) {
			fill(t, s, 7)
			var seen []uint64
			after := uint64(0)
			for {
				recs, next, err := s.InboxAfter(ctx, "national", after, 3)
				require.NoError(t, err)
				if len(recs) == 0 {
					assert.Equal(t, after, next)
					break
				}
				for _, r := range recs {
					seen = append(seen, r.Seq)
					assert.NotEmpty(t, r.JWS)
					assert.NotEmpty(t, r.Receipt)
				}
				after = next
			}
			assert.Equal(t, []uint64{1, 2, 3, 4, 5, 6, 7}, seen)
		}},
		{"ok/in-order-per-sender", func(t *testing.T, s *Store) {
			fill(t, s, 9)
			recs, _, err := s.InboxAfter(ctx, "national", 0, 100)
			require.NoError(t, err)
			last := map[string]int{}
			for _, r := range recs {
				var i int
				_, err := fmt.Sscanf(r.MessageID, "m-%d", &i)
				require.NoError(t, err)
				assert.Greater(t, i, last[r.Sender], "sender %s", r.Sender)
				last[r.Sender] = i
			}
		}},
		{"fail/cursor-past-the-end-is-invalid-input", func(t *testing.T, s *Store) {
			fill(t, s, 2)
			for _, after := range []uint64{3, 1 << 40, ^uint64(0)} {
				_, next, err := s.InboxAfter(ctx, "national", after, 3)
				require.ErrorIs(t, err, ErrInvalid, "after %d", after)
				assert.NotErrorIs(t, err, ErrCorrupt)
				assert.Equal(t, after, next)
			}
			recs, _, err := s.InboxAfter(ctx, "national", 2, 3)
			require.NoError(t, err, "the last sequence itself is a valid cursor")
			assert.Empty(t, recs)
		}},
		{"ok/ack-monotonic", func(t *testing.T, s *Store) {
			fill(t, s, 5)
			require.NoError(t, s.Ack(ctx, "national", 3))
			require.NoError(t, s.Ack(ctx, "national", 2), "a lower ack is a no-op, not an error")
			n, err := s.AckedUpTo(ctx, "national")
			require.NoError(t, err)
			assert.Equal(t, uint64(3), n)
			require.NoError(t, s.Ack(ctx, "national", 5))
			n, err = s.AckedUpTo(ctx, "national")
			require.NoError(t, err)
			assert.Equal(t, uint64(5), n)
		}},
		{"fail/ack-beyond-last-seq", func(t *testing.T, s *Store) {
			fill(t, s, 2)
			require.ErrorIs(t, s.Ack(ctx, "national", 3), ErrInvalid)
			n, err := s.AckedUpTo(ctx, "national")
			require.NoError(t, err)
			assert.Equal(t, uint64(0), n)
		}},
		{"ok/consumers-are-independent", func(t *testing.T, s *Store) {
			fill(t, s, 4)
			require.NoError(t, s.Ack(ctx, "webhook", 4))
			require.NoError(t, s.Ack(ctx, "national", 1))
			w, _ := s.AckedUpTo(ctx, "webhook")
			n, _ := s.AckedUpTo(ctx, "national")
			assert.Equal(t, []uint64{4, 1}, []uint64{w, n})
		}},
		{"ok/ack-survives-reopen", func(t *testing.T, s *Store) {
			fill(t, s, 3)
			require.NoError(t, s.Ack(ctx, "webhook", 2))
			path := s.Path()
			require.NoError(t, s.Close())
			s2 := mustOpenPath(t, path, Options{NoSync: true})
			n, err := s2.AckedUpTo(ctx, "webhook")
			require.NoError(t, err)
			assert.Equal(t, uint64(2), n)
			mustCheck(t, s2)
		}},
		{"fail/bad-consumer-name", func(t *testing.T, s *Store) {
			require.ErrorIs(t, s.Ack(ctx, "", 0), ErrInvalid)
			_, _, err := s.InboxAfter(ctx, "a b", 0, 1)
			require.ErrorIs(t, err, ErrInvalid)
		}},
		{"ok/page-limited-by-bytes", func(t *testing.T, s *Store) {
			for i := range 40 {
				_, _, err := s.Accept(ctx, inbound("TJ", fmt.Sprintf("big-%d", i), "p", 250_000))
				require.NoError(t, err)
			}
			recs, next, err := s.InboxAfter(ctx, "national", 0, 1000)
			require.NoError(t, err)
			assert.Less(t, len(recs), 40)
			assert.Equal(t, uint64(len(recs)), next)
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

func TestAuditReject(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{NoSync: true})
	d := sha256.Sum256([]byte("body"))
	require.NoError(t, s.AuditReject(ctx, RejectEntry{Sender: "TJ", MessageID: "m-1", Code: "JWS_SIGNATURE_INVALID", Digest: d, At: t0, Peer: "TJ-MOJ-CRVS"}))
	// Peer-controlled text is bounded and sanitized, never refused.
	require.NoError(t, s.AuditReject(ctx, RejectEntry{Sender: "T\x00J\n", MessageID: strings.Repeat("é", 500), Code: "PAYLOAD_MALFORMED", Detail: strings.Repeat("x", 10_000), Peer: "10.0.0.1:443"}))
	require.ErrorIs(t, s.AuditReject(ctx, RejectEntry{Sender: "TJ"}), ErrInvalid, "a refusal without a code is a bug")

	c, err := s.Counts(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), c.Rejected)
	assert.Equal(t, uint64(0), c.Inbox, "a refusal stores nothing but its audit entry")
	es, err := s.AuditAfter(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, es, 2)
	assert.Equal(t, AuditRejected, es[0].Kind)
	assert.Equal(t, d, es[0].Digest)
	assert.Contains(t, es[0].Detail, "code=JWS_SIGNATURE_INVALID")
	assert.Equal(t, "T?J?", es[1].Sender)
	assert.LessOrEqual(t, len(es[1].MessageID), maxIDLen)
	assert.LessOrEqual(t, len(es[1].Detail), maxRejectDetail+maxRejectCode+maxRejectPeer+32)
	mustCheck(t, s)
}
