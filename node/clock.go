package node

import (
	"log/slog"
	"time"

	"github.com/ecrn/crvsx/node/internal/clockskew"
)

// The node's clock and how it compares with its peers' (node/exchange
// DESIGN.md §8).

// clock is the deliverer's exchange.Clock on the node's time.
type clock struct{ now func() time.Time }

func (c clock) Now() time.Time                         { return c.now() }
func (c clock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// observeDate is the peer client's ObserveDate: one sample of the
// estimator, and a log line when its verdict changes.
func (n *Node) observeDate(nodeID string, local, peer time.Time) {
	n.skew.Observe(nodeID, local, peer)
	est := n.skew.Estimate(local)
	n.metrics.ClockOffset.Set(est.Offset.Round(time.Second).Seconds())
	n.skewMu.Lock()
	last := n.skewLast
	changed := est.Level != last.Level || (est.Offset > 0) != (last.Offset > 0)
	if changed {
		n.skewLast = est
	}
	n.skewMu.Unlock()
	if !changed {
		return
	}
	attrs := []any{slog.Duration("offset", est.Offset.Round(time.Second)), slog.Int("peers", est.Peers), slog.Int("samples", est.Samples)}
	switch est.Level {
	case clockskew.Off, clockskew.Warn:
		dir, who := "ahead of", "peers refuse this node's messages"
		if est.Offset < 0 {
			dir, who = "behind", "this node refuses its peers' messages"
		}
		msg := "clock appears to be " + dir + " peers by ~" + abs(est.Offset).Round(time.Second).String()
		if est.Level == clockskew.Off {
			msg += "; past the clock skew allowed, " + who + " (MESSAGE_FROM_FUTURE) and /readyz says not ready"
		}
		n.log.Warn(msg, attrs...)
	case clockskew.OK:
		if last.Level == clockskew.Off || last.Level == clockskew.Warn {
			n.log.Info("clock agrees with peers again", attrs...)
		}
	}
}

func abs(d time.Duration) time.Duration { return max(d, -d) }
