package exchange_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
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

func trSubmitter(t *testing.T) (*exchange.Submitter, *store.Store, *[]string) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "node.db"), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	var woken []string
	return &exchange.Submitter{
		Store:  st,
		Signer: func() *jws.Signer { return tr.Signer },
		Self:   protocol.Endpoint{NodeID: protocoltest.NodeID("TR"), Country: "TR"},
		NodeOf: func(m string) (protocol.Endpoint, bool) {
			switch m {
			case "TJ", "KZ", "UZ":
				return protocol.Endpoint{NodeID: protocoltest.NodeID(m), Country: m}, true
			}
			return protocol.Endpoint{}, false
		},
		Notify: func(p string) { woken = append(woken, p) },
		Now:    func() time.Time { return now },
	}, st, &woken
}

// template is a realistic example message with the members the node fills
// in left as they are (Submit overwrites them).
func template(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "schemas", "testdata", "valid", name))
	require.NoError(t, err)
	return b
}

func request(t *testing.T, msg json.RawMessage, id string, recipients ...string) []byte {
	t.Helper()
	b, err := json.Marshal(exchange.OutboxRequest{ID: id, Message: msg, Recipients: recipients})
	require.NoError(t, err)
	return b
}

func TestSubmit(t *testing.T) {
	ctx := context.Background()
	birthTmpl := template(t, "live-birth-tajik-child-in-istanbul.json")

	t.Run("ok/routed-birth-of-a-tajik-child-goes-to-tj", func(t *testing.T) {
		s, _, woken := trSubmitter(t)
		st, dup, err := s.Submit(ctx, request(t, birthTmpl, ""))
		require.NoError(t, err)
		assert.False(t, dup)
		require.Len(t, st.Deliveries, 1)
		d := st.Deliveries[0]
		assert.Equal(t, "TJ", d.Recipient)
		assert.Equal(t, store.StatePending, d.State)
		assert.Equal(t, []string{protocoltest.NodeID("TJ")}, *woken)

		// What is queued is a message TJ's inbound pipeline accepts.
		q, err := s.Store.(*store.Store).QueueHead(ctx, protocoltest.NodeID("TJ"))
		require.NoError(t, err)
		v := inbound()
		got, err := v.Verify(q.JWS, now)
		require.NoError(t, err)
		assert.Equal(t, "TR", got.Envelope.Sender.Country)
		assert.Equal(t, "citizenship-notification", got.Envelope.Purpose)
		assert.Equal(t, d.MessageID, got.Envelope.MessageID)
	})

	t.Run("ok/same-id-again-is-the-stored-submission", func(t *testing.T) {
		s, st, _ := trSubmitter(t)
		id := protocoltest.NewUUID()
		first, _, err := s.Submit(ctx, request(t, birthTmpl, id))
		require.NoError(t, err)
		again, dup, err := s.Submit(ctx, request(t, birthTmpl, id))
		require.NoError(t, err)
		assert.True(t, dup)
		assert.Equal(t, first.Deliveries[0].MessageID, again.Deliveries[0].MessageID)
		c, err := st.Counts(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 1, c.Queued)
	})

	t.Run("fail/recipient-not-a-member", func(t *testing.T) {
		s, st, _ := trSubmitter(t)
		_, _, err := s.Submit(ctx, request(t, birthTmpl, "", "TJ", "FR"))
		assert.Equal(t, protocol.CodeRecipientUnknown, protocol.CodeOf(err))
		c, _ := st.Counts(ctx)
		assert.EqualValues(t, 0, c.Queued, "nothing stored")
	})

	t.Run("fail/citizenship-notification-to-a-country-no-subject-holds", func(t *testing.T) {
		s, _, _ := trSubmitter(t)
		_, _, err := s.Submit(ctx, request(t, birthTmpl, "", "KZ"))
		assert.Equal(t, protocol.CodeSemanticInvalid, protocol.CodeOf(err), "%v", err)
	})

	t.Run("fail/sender-of-another-member-is-refused-not-rewritten", func(t *testing.T) {
		for ptr, edit := range map[string]func(m map[string]any){
			"/message/sender/country": func(m map[string]any) { m["sender"].(map[string]any)["country"] = "KZ" },
			"/message/sender/nodeId":  func(m map[string]any) { m["sender"].(map[string]any)["nodeId"] = "TR-OTHER-NODE" },
		} {
			s, st, _ := trSubmitter(t)
			var m map[string]any
			require.NoError(t, json.Unmarshal(birthTmpl, &m))
			edit(m)
			other, _ := json.Marshal(m)
			_, _, err := s.Submit(ctx, request(t, other, ""))
			var pe *protocol.Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, protocol.CodeSenderNotSelf, pe.Code)
			assert.Equal(t, 422, pe.Code.Status())
			assert.Equal(t, ptr, pe.Pointer)
			c, _ := st.Counts(ctx)
			assert.EqualValues(t, 0, c.Queued, "nothing stored")
		}
	})

	t.Run("fail/own-member", func(t *testing.T) {
		s, _, _ := trSubmitter(t)
		_, _, err := s.Submit(ctx, request(t, birthTmpl, "", "TR"))
		assert.Equal(t, protocol.CodeBadRequest, protocol.CodeOf(err))
	})

	t.Run("fail/not-json", func(t *testing.T) {
		s, _, _ := trSubmitter(t)
		_, _, err := s.Submit(ctx, []byte(`{"message": {"a": 1,}`))
		assert.NotEmpty(t, protocol.CodeOf(err))
	})

	t.Run("fail/unknown-request-member", func(t *testing.T) {
		s, _, _ := trSubmitter(t)
		_, _, err := s.Submit(ctx, []byte(`{"message": {}, "recipient": ["TJ"]}`))
		assert.Equal(t, protocol.CodeBadRequest, protocol.CodeOf(err))
	})
}
