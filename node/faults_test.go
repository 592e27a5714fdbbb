package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node"
	"github.com/ecrn/crvsx/node/devnet"
	"github.com/ecrn/crvsx/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startNetWith is startNet with node options per country and retries fast
// enough for a test to watch a sender give up nothing.
func startNetWith(t *testing.T, opts map[string][]node.Option) *devnet.Network {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := devnet.Open(t.TempDir(), devnet.Options{Fast: true}, nil)
	require.NoError(t, err)
	for c, m := range n.Members {
		m.Config.Exchange.BackoffCap = node.Duration(500 * time.Millisecond)
		m.Config.Exchange.BreakerFailures = 1000
		m.Options = opts[c]
	}
	require.NoError(t, n.Start(ctx))
	t.Cleanup(n.Stop)
	return n
}

type readyReport struct {
	Ready   bool
	Reasons []string `json:"reasons"`
}

func readyz(t *testing.T, m *devnet.Member) readyReport {
	t.Helper()
	resp, err := http.Get(m.HealthURL() + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	var r readyReport
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	r.Ready = resp.StatusCode == http.StatusOK
	return r
}

func metricsText(t *testing.T, m *devnet.Member) string {
	t.Helper()
	resp, err := http.Get(m.HealthURL() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// TestStorageFull: store DESIGN §6 "Full volume" and SPEC §7
// STORAGE_FULL, end to end: a receiver whose commits fail with ENOSPC
// answers 507 to peers and to its national system, is not ready and says
// why, keeps what it acknowledged, and recovers by itself.
func TestStorageFull(t *testing.T) {
	ctx := context.Background()
	var full atomic.Bool
	fault := func() error {
		if full.Load() {
			return &os.PathError{Op: "write", Path: "node.db", Err: syscall.ENOSPC}
		}
		return nil
	}
	net := startNetWith(t, map[string][]node.Option{"TJ": {node.WithStoreFault(fault)}})
	tjm := net.Members["TJ"]
	tr, tj := client(net.Members["TR"]), client(tjm)

	before, err := tr.Submit(ctx, template(t, "birth-tajik-child-in-istanbul.json"), nil, "")
	require.NoError(t, err)
	waitDelivered(t, tr, before.ID)
	require.True(t, readyz(t, tjm).Ready)

	full.Store(true)
	during, err := tr.Submit(ctx, template(t, "birth-tajik-child-in-istanbul.json"), nil, "")
	require.NoError(t, err)

	t.Run("§7-STORAGE_FULL/peer-message-is-refused-507-and-retried", func(t *testing.T) {
		require.Eventually(t, func() bool {
			v, err := tr.Submission(ctx, during.ID)
			require.NoError(t, err)
			d := v.Deliveries[0]
			require.Equal(t, "pending", d.Status, "a 507 is retried, never a dead letter: %s", d.DeadReason)
			return d.Attempts >= 2 && strings.Contains(d.LastError, "STORAGE_FULL") && strings.Contains(d.LastError, "507")
		}, 20*time.Second, 50*time.Millisecond)
	})
	t.Run("§7-STORAGE_FULL/local-submission-is-refused-507", func(t *testing.T) {
		_, err := tj.Submit(ctx, template(t, "marriage-tajik-kazakh-couple-in-dushanbe.json"), nil, "")
		var pe *protocol.ProblemError
		require.True(t, errors.As(err, &pe), "%v", err)
		assert.Equal(t, http.StatusInsufficientStorage, pe.Status)
		assert.Equal(t, protocol.CodeStorageFull, pe.Problem.Code)
		assert.Equal(t, "Insufficient Storage", pe.Problem.Title)
		assert.True(t, pe.Retryable())
	})
	t.Run("§6-full/readyz-and-metric-say-so", func(t *testing.T) {
		r := readyz(t, tjm)
		assert.False(t, r.Ready)
		require.Len(t, r.Reasons, 1, "%v", r.Reasons)
		assert.True(t, strings.HasPrefix(r.Reasons[0], "storage full: store: storage full since "), r.Reasons[0])
		assert.Contains(t, r.Reasons[0], "no space left on device")
		require.Eventually(t, func() bool { return strings.Contains(metricsText(t, tjm), "\ncrvsx_storage_full 1\n") },
			15*time.Second, 100*time.Millisecond)
		resp, err := http.Get(tjm.HealthURL() + "/livez")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "a full node stays alive")
	})
	t.Run("§6-full/what-was-acknowledged-stays", func(t *testing.T) {
		p, err := tj.Inbox(ctx, 0, 10)
		require.NoError(t, err)
		require.Len(t, p.Records, 1)
	})

	full.Store(false)
	t.Run("§6-full/recovers-when-space-returns", func(t *testing.T) {
		waitDelivered(t, tr, during.ID)
		require.Eventually(t, func() bool { return readyz(t, tjm).Ready }, 15*time.Second, 100*time.Millisecond)
		require.Eventually(t, func() bool { return strings.Contains(metricsText(t, tjm), "\ncrvsx_storage_full 0\n") },
			15*time.Second, 100*time.Millisecond)
		p, err := tj.Inbox(ctx, 0, 10)
		require.NoError(t, err)
		require.Len(t, p.Records, 2, "the message refused while full came again and was stored once")
		_, err = tj.Submit(ctx, template(t, "marriage-tajik-kazakh-couple-in-dushanbe.json"), nil, "")
		require.NoError(t, err, "local submissions are taken again")
	})
}

// TestSkewedClock: node/exchange DESIGN §8 and SPEC §6.7, end to end: a
// node whose clock is ten minutes ahead has its messages refused with
// MESSAGE_FROM_FUTURE (retried, never a dead letter), learns from its
// peer's Date headers that its clock is off, and says so on /readyz and in
// crvsx_clock_offset_seconds; its peer stays ready.
func TestSkewedClock(t *testing.T) {
	ctx := context.Background()
	ahead := func() time.Time { return time.Now().Add(10 * time.Minute) }
	net := startNetWith(t, map[string][]node.Option{"TR": {node.WithClock(ahead)}})
	trm := net.Members["TR"]
	tr := client(trm)

	sub, err := tr.Submit(ctx, template(t, "birth-tajik-child-in-istanbul.json"), nil, "")
	require.NoError(t, err)
	t.Run("§6.7-MESSAGE_FROM_FUTURE/the-skewed-senders-message-is-refused-and-retried", func(t *testing.T) {
		require.Eventually(t, func() bool {
			v, err := tr.Submission(ctx, sub.ID)
			require.NoError(t, err)
			d := v.Deliveries[0]
			require.Equal(t, "pending", d.Status, "clocks disagree: retried, never a dead letter: %s", d.DeadReason)
			return d.Attempts >= 3 && strings.Contains(d.LastError, "MESSAGE_FROM_FUTURE")
		}, 20*time.Second, 50*time.Millisecond)
	})
	t.Run("§8-clock/readyz-names-the-offset", func(t *testing.T) {
		var r readyReport
		require.Eventually(t, func() bool { r = readyz(t, trm); return !r.Ready }, 10*time.Second, 50*time.Millisecond)
		require.Len(t, r.Reasons, 1, "%v", r.Reasons)
		assert.Regexp(t, `^clock off by \+(9m5[5-9]s|10m[0-5]s) against 1 peer$`, r.Reasons[0])
		assert.True(t, readyz(t, net.Members["TJ"]).Ready, "the peer with the right clock is not blamed")
	})
	t.Run("§8-clock/metric", func(t *testing.T) {
		require.Eventually(t, func() bool {
			for _, l := range strings.Split(metricsText(t, trm), "\n") {
				var v float64
				if _, err := fmt.Sscanf(l, "crvsx_clock_offset_seconds %g", &v); err == nil {
					return v >= 595 && v <= 605
				}
			}
			return false
		}, 15*time.Second, 100*time.Millisecond)
	})
}
