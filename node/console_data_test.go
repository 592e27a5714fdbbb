package node_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node"
	"github.com/ecrn/crvsx/node/console/view"
	"github.com/ecrn/crvsx/node/devnet"
	"github.com/ecrn/crvsx/node/store"
	"github.com/stretchr/testify/require"
)

// TestConsoleRetryDeadLetter: a birth from TR to a stopped TJ dies after
// TR's (tiny) delivery lifetime; the console's retry moves it back once,
// the worker delivers it when TJ is back, and the timeline tells it:
// accepted, failed attempts, dead, retried, delivered.
func TestConsoleRetryDeadLetter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	net, err := devnet.Open(t.TempDir(), devnet.Options{Fast: true}, nil)
	require.NoError(t, err)
	for _, m := range net.Members {
		m.Config.Exchange.BackoffCap = node.Duration(300 * time.Millisecond)
		m.Config.Exchange.BreakerFailures = 1000
	}
	net.Members["TR"].Config.Exchange.DeliveryLifetime = node.Duration(5 * time.Second)
	require.NoError(t, net.Start(ctx))
	t.Cleanup(net.Stop)
	tr := net.Members["TR"].Node()
	var data view.Data = tr

	require.NoError(t, net.StopMember("TJ"))
	sub, err := client(net.Members["TR"]).Submit(ctx, template(t, "birth-tajik-child-in-istanbul.json"), nil, "")
	require.NoError(t, err)
	st, err := tr.Store().Submission(ctx, sub.ID)
	require.NoError(t, err)
	require.Len(t, st.Deliveries, 1)
	ref := "delivery/" + strconv.FormatUint(uint64(st.Deliveries[0].Key), 10)

	require.Eventually(t, func() bool {
		m, err := data.Message(ctx, ref)
		require.NoError(t, err)
		return m.State == string(store.StateDead)
	}, 30*time.Second, 100*time.Millisecond, "dead after the lifetime")

	tv, err := data.Traffic(ctx, time.Hour, time.Now())
	require.NoError(t, err)
	require.Len(t, tv.DeadLetters, 1)
	require.Equal(t, st.Deliveries[0].Key, tv.DeadLetters[0].Key)
	require.Equal(t, "event.live-birth", tv.DeadLetters[0].MessageType)
	require.Equal(t, 1, tv.Totals.Out)
	require.Equal(t, 1, tv.Totals.Dead)

	require.NoError(t, net.StartMember(ctx, "TJ"))
	require.NoError(t, data.RetryDeadLetter(ctx, ref, "test-operator"))
	err = data.RetryDeadLetter(ctx, ref, "test-operator")
	require.ErrorIs(t, err, view.ErrConflict, "a second retry does nothing")
	waitDelivered(t, client(net.Members["TR"]), sub.ID)

	m, err := data.Message(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, string(store.StateDelivered), m.State)
	require.Equal(t, "timeline.state.delivered", m.StateKey)
	var kinds []string
	for _, e := range m.Events {
		if len(kinds) == 0 || kinds[len(kinds)-1] != e.Kind {
			kinds = append(kinds, e.Kind)
		}
	}
	require.Equal(t, []string{store.EventAccepted, store.EventAttemptFailed, store.EventDead, store.EventRetried, store.EventDelivered}, kinds)
	byID, err := data.Message(ctx, m.MessageID)
	require.NoError(t, err)
	require.Equal(t, ref, byID.Ref, "found by messageId too")

	_, _, err = tr.Store().VerifyAudit(ctx)
	require.NoError(t, err)
	require.NoError(t, tr.Store().Check(ctx))

	o, err := data.Overview(ctx, time.Now())
	require.NoError(t, err)
	require.NotEmpty(t, o.Members)
	require.NotEmpty(t, o.Registry.Replicas)
	mp, err := data.Member(ctx, "TJ", time.Now())
	require.NoError(t, err)
	require.Equal(t, 1, mp.Traffic.Sent)
	require.Equal(t, 1, mp.Traffic.Receipts)
	b, pin, err := data.Bundle(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, b)
	require.Len(t, pin, 64)
}
