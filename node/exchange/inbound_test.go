package exchange_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tjReceiver is TJ's inbound pipeline over a real store in a temp dir.
func tjReceiver(t *testing.T) (*exchange.Receiver, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "node.db"), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return &exchange.Receiver{
		Verifier: inbound(),
		Store:    st,
		Signer:   func() *jws.Signer { return tj.Signer },
		Self:     *tjNode,
		Now:      func() time.Time { return now },
	}, st
}

var trPeer = &exchange.Peer{NodeID: protocoltest.NodeID("TR"), Member: "TR"}

func sent(tok []byte, msgID string) exchange.SentMessage {
	return exchange.SentMessage{Recipient: "TJ", MessageID: msgID, Digest: sha256.Sum256(tok)}
}

func TestReceive(t *testing.T) {
	ctx := context.Background()
	keys := tr.TrustView(tj, kz)

	t.Run("ok/accepted-with-a-receipt-the-sender-accepts", func(t *testing.T) {
		r, st := tjReceiver(t)
		id := protocoltest.NewUUID()
		tok := tr.Sign(protocol.TypEvent, protocoltest.BirthMessageAt("TR", "TJ", id, created))
		got, err := r.Receive(ctx, tok, trPeer)
		require.NoError(t, err)
		assert.False(t, got.Duplicate)
		_, err = exchange.CheckReceipt(got.JWS, sent(tok, id), keys, nil, now)
		require.NoError(t, err, "the sender must accept the receipt")
		rec, err := st.LookupInbound(ctx, "TR", id)
		require.NoError(t, err)
		assert.Equal(t, tok, rec.JWS, "the exact bytes are stored")
		assert.Equal(t, got.JWS, rec.Receipt, "the receipt is stored with the record")
	})

	t.Run("ok/same-bytes-again-original-receipt", func(t *testing.T) {
		r, _ := tjReceiver(t)
		tok := tr.Sign(protocol.TypEvent, birth())
		first, err := r.Receive(ctx, tok, trPeer)
		require.NoError(t, err)
		again, err := r.Receive(ctx, tok, trPeer)
		require.NoError(t, err)
		assert.True(t, again.Duplicate)
		assert.Equal(t, first.JWS, again.JWS)
		assert.Equal(t, first.Seq, again.Seq)
	})

	t.Run("ok/re-signed-same-payload-original-receipt (SPEC 8.2)", func(t *testing.T) {
		r, _ := tjReceiver(t)
		payload := birth()
		first, err := r.Receive(ctx, tr.Sign(protocol.TypEvent, payload), trPeer)
		require.NoError(t, err)
		again, err := r.Receive(ctx, tr.Sign(protocol.TypEvent, payload), trPeer) // a new ECDSA signature
		require.NoError(t, err)
		assert.True(t, again.Duplicate)
		assert.Equal(t, first.JWS, again.JWS)
	})

	t.Run("fail/same-id-other-content-conflict (SPEC 8.2)", func(t *testing.T) {
		r, st := tjReceiver(t)
		id := protocoltest.NewUUID()
		_, err := r.Receive(ctx, tr.Sign(protocol.TypEvent, protocoltest.BirthMessageAt("TR", "TJ", id, created)), trPeer)
		require.NoError(t, err)
		other := protocoltest.BirthMessageAt("TR", "TJ", id, created.Add(time.Second))
		_, err = r.Receive(ctx, tr.Sign(protocol.TypEvent, other), trPeer)
		assert.Equal(t, protocol.CodeConflict, protocol.CodeOf(err))
		c, err := st.Counts(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 1, c.Inbox, "nothing stored for the conflict")
	})

	t.Run("ok/ten-identical-at-once-one-record-one-receipt", func(t *testing.T) {
		r, st := tjReceiver(t)
		tok := tr.Sign(protocol.TypEvent, birth())
		var wg sync.WaitGroup
		receipts := make([][]byte, 10)
		errs := make([]error, 10)
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := r.Receive(ctx, tok, trPeer)
				errs[i] = err
				if err == nil {
					receipts[i] = got.JWS
				}
			}()
		}
		wg.Wait()
		for i := range 10 {
			require.NoError(t, errs[i])
			assert.Equal(t, receipts[0], receipts[i], "one receipt")
		}
		c, err := st.Counts(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 1, c.Inbox, "one record")
	})

	t.Run("fail/peer-is-not-the-sender (SPEC 6.6.5)", func(t *testing.T) {
		r, st := tjReceiver(t)
		kzPeer := &exchange.Peer{NodeID: protocoltest.NodeID("KZ"), Member: "KZ"}
		_, err := r.Receive(ctx, tr.Sign(protocol.TypEvent, birth()), kzPeer)
		assert.Equal(t, protocol.CodeSenderMismatch, protocol.CodeOf(err))
		c, err := st.Counts(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 0, c.Inbox)
		entries, err := st.AuditAfter(ctx, 0, 10)
		require.NoError(t, err)
		require.Len(t, entries, 1, "the refusal is audited")
		assert.Equal(t, store.AuditRejected, entries[0].Kind)
	})

	t.Run("ok/hostile-then-valid", func(t *testing.T) {
		r, st := tjReceiver(t)
		for _, vec := range protocoltest.VectorsFor(tr.Key().Alg) {
			if vec.Code == "" {
				continue
			}
			_, err := r.Receive(ctx, tr.Mint(vec.Kind, protocol.TypEvent, birth()), trPeer)
			require.Error(t, err, vec.Name)
		}
		c, err := st.Counts(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 0, c.Inbox, "nothing stored from hostile messages")
		_, err = r.Receive(ctx, tr.Sign(protocol.TypEvent, birth()), trPeer)
		require.NoError(t, err, "the next valid message is accepted")
		_, n, err := st.VerifyAudit(ctx)
		require.NoError(t, err)
		assert.Greater(t, n, uint64(40))
	})
}

func TestReceiveOrderAndLimits(t *testing.T) {
	ctx := context.Background()

	t.Run("ok/retry-after-the-age-limit-gets-the-original-receipt (SPEC 8.2)", func(t *testing.T) {
		r, _ := tjReceiver(t)
		tok := tr.Sign(protocol.TypEvent, birth())
		first, err := r.Receive(ctx, tok, trPeer)
		require.NoError(t, err)
		r.Now = func() time.Time { return now.Add(30 * 24 * time.Hour) }
		again, err := r.Receive(ctx, tok, trPeer)
		require.NoError(t, err, "a stored message is found before the time window")
		assert.Equal(t, first.JWS, again.JWS)
		_, err = r.Receive(ctx, tr.Sign(protocol.TypEvent, birth()), trPeer)
		assert.Equal(t, protocol.CodeTooOld, protocol.CodeOf(err), "a new message that old is refused")
	})

	t.Run("fail/sender-node-is-not-the-peer-node (SPEC 6.6.5)", func(t *testing.T) {
		r, _ := tjReceiver(t)
		other := &exchange.Peer{NodeID: "TR-ANKARA-CRVS", Member: "TR"}
		_, err := r.Receive(ctx, tr.Sign(protocol.TypEvent, birth()), other)
		assert.Equal(t, protocol.CodeSenderMismatch, protocol.CodeOf(err))
	})

	t.Run("fail/stale-registry-fails-closed (registry DESIGN 14)", func(t *testing.T) {
		r, st := tjReceiver(t)
		tok := tr.Sign(protocol.TypEvent, birth())
		_, err := r.Receive(ctx, tok, trPeer)
		require.NoError(t, err)
		r.Fresh = func() error { return errors.New("replica past its staleness bound") }
		_, err = r.Receive(ctx, tr.Sign(protocol.TypEvent, birth()), trPeer)
		assert.Equal(t, protocol.CodeUnavailable, protocol.CodeOf(err))
		assert.Equal(t, 503, protocol.ProblemFor(err).Status)
		again, err := r.Receive(ctx, tok, trPeer)
		require.NoError(t, err, "a message stored before is still answered")
		assert.True(t, again.Duplicate)
		c, _ := st.Counts(ctx)
		assert.EqualValues(t, 1, c.Inbox)
	})

	t.Run("ok/refusal-audits-are-rate-limited-per-peer", func(t *testing.T) {
		r, st := tjReceiver(t)
		r.AuditLimit, r.AuditBurst = 1, 5
		for range 50 {
			_, err := r.Receive(ctx, []byte("garbage"), trPeer)
			require.Error(t, err)
		}
		c, err := st.Counts(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 5, c.Rejected, "the burst, then nothing until the bucket refills")
		_, err = r.Receive(ctx, []byte("garbage"), &exchange.Peer{NodeID: "KZ-MOJ-CRVS", Member: "KZ"})
		require.Error(t, err)
		c, _ = st.Counts(ctx)
		assert.EqualValues(t, 6, c.Rejected, "another peer has its own bucket")
	})
}
