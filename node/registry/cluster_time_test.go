package registry_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

// A skewed clock on the leader changes no outcome (REGISTRY.md §9, §15). One
// script of commands, signed once (30 minutes after the genesis, submitted
// half an hour later), runs on four clusters of the same genesis:
//
//	A  no skew;
//	B  the leader's clock a day ahead: consensus time is clamped to
//	   issuedAt + skew, as in A;
//	C  the leader's clock a day behind from the start: the leader refuses
//	   to propose (ErrLeaderClockBehind, through forwarding) and burns no
//	   id; once its clock is fixed the same signed commands apply;
//	D  every voter's clock jumps a day back mid-run and leadership moves:
//	   stamps never decrease (the new leader starts from the highest stamp
//	   applied), so the rest of the script applies as in A.
//
// Every run must end with A's state hash and each command with A's
// consensus time.
func TestSkewedLeaderClock(t *testing.T) {
	net := trusttest.New(t, clusterMembers...)
	net.Advance(29 * time.Minute)
	sc := &cluster{t: t, net: net}
	var script [][]byte
	var ids []string
	add := func(data []byte, id string) { script, ids = append(script, data), append(ids, id) }
	add(sc.registerNode("TJ", 2))
	rev, _ := sc.revokeSigningKey("TR")
	add(rev, "")
	susp := net.Command(trust.CmdMemberSuspend, "TJ", trust.SuspendArgs{Member: "KG", Reason: "test"})
	add(net.Sign(susp, net.Gov("TJ", "TR", "KZ", "UZ")...), susp.ID)
	add(sc.registerNode("UZ", 2))

	voters := []string{"TJ-N1", "TR-N1", "KZ-N1"}
	runScript := func(c *cluster, n *cnode, from, to int) []trust.Timestamp {
		t.Helper()
		var times []trust.Timestamp
		for _, d := range script[from:to] {
			times = append(times, n.mustSubmit(d, trust.OutcomeAccepted).Time)
		}
		return times
	}
	type outcome struct {
		hash  string
		times []trust.Timestamp
	}
	finish := func(c *cluster, times []trust.Timestamp) outcome {
		return outcome{hash: c.converged(c.running()...).StateHash, times: times}
	}

	var runs = map[string]outcome{}
	t.Run("A/no-skew", func(t *testing.T) {
		c := newClusterOn(t, net, nil, voters...)
		l := c.leader()
		runs["A"] = finish(c, runScript(c, c.follower(l), 0, len(script)))
	})
	t.Run("B/leader-a-day-ahead", func(t *testing.T) {
		c := newClusterOn(t, net, nil, voters...)
		l := c.leader()
		l.clock.Skew(24 * time.Hour)
		runs["B"] = finish(c, runScript(c, c.follower(l), 0, len(script)))
	})
	t.Run("C/leader-a-day-behind", func(t *testing.T) {
		c := newClusterOn(t, net, nil, voters...)
		l := c.leader()
		l.clock.Skew(-24 * time.Hour)
		f := c.follower(l)
		_, err := f.submit(script[0], 5*time.Second)
		if !errors.Is(err, registry.ErrLeaderClockBehind) {
			t.Fatalf("submit through a follower to a leader a day behind: %v, want ErrLeaderClockBehind", err)
		}
		t.Logf("refused: %v", err)
		for _, n := range c.running() {
			if _, used := n.must().State().UsedID(ids[0]); used {
				t.Fatalf("%s burnt the id of a command the leader did not propose", n.id)
			}
			if h := n.must().State().Hash(); h != net.State().Hash() {
				t.Fatalf("%s changed state", n.id)
			}
		}
		l.clock.Skew(0)
		runs["C"] = finish(c, runScript(c, f, 0, len(script)))
	})
	t.Run("D/clocks-jump-back-and-leadership-moves", func(t *testing.T) {
		c := newClusterOn(t, net, nil, voters...)
		l := c.leader()
		times := runScript(c, l, 0, 2)
		for _, n := range c.running() {
			n.clock.Skew(-24 * time.Hour)
		}
		if err := l.must().TransferLeadership(); err != nil {
			t.Fatal(err)
		}
		var nl *cnode
		waitUntil(t, 15*time.Second, "a new leader", func() error {
			if nl = c.leader(); nl == l {
				return errors.New("same leader")
			}
			return nil
		})
		runs["D"] = finish(c, append(times, runScript(c, nl, 2, len(script))...))
	})

	a, ok := runs["A"]
	if !ok {
		t.Fatal("run A did not finish")
	}
	for _, name := range []string{"B", "C", "D"} {
		r, ok := runs[name]
		if !ok {
			continue // its subtest failed
		}
		if r.hash != a.hash || !slices.Equal(r.times, a.times) {
			t.Errorf("run %s: hash %s times %v; run A: hash %s times %v", name, shortHash(r.hash), r.times, shortHash(a.hash), a.times)
		}
	}
	t.Logf("state hash %s in every run; consensus times %v", shortHash(a.hash), a.times)
}

// wanTimings are the production defaults (DefaultConfig).
func wanTimings(c *registry.Config) {
	d := registry.DefaultConfig()
	c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout, c.CommitTimeout = d.HeartbeatTimeout, d.ElectionTimeout, d.LeaderLeaseTimeout, d.CommitTimeout
}

// A key revocation is visible in the trust view of every node of a 5-node
// cluster (3 voters, 2 non-voters) within one second, with the production
// (WAN) timings over the in-process transport. Each member revokes its own
// signing key, submitted on its own node (so voters and non-voters, leader
// and forwarded paths are all measured).
func TestRevocationVisibleEverywhereWithinOneSecond(t *testing.T) {
	c := newCluster(t, wanTimings)
	c.converged(c.nodes...)
	var worst time.Duration
	for _, m := range clusterMembers {
		data, kid := c.revokeSigningKey(m)
		n := c.node(m + "-N1")
		r := n.must()
		role := r.Status().Role
		start := time.Now()
		ack := make(chan time.Duration, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := r.Submit(ctx, data)
			if err != nil || res.Outcome != trust.OutcomeAccepted {
				t.Errorf("revocation on %s: %v %s %s", n.id, err, res.Outcome, res.Reason)
			}
			ack <- time.Since(start)
		}()
		seen := map[string]time.Duration{}
		for len(seen) < len(c.nodes) && time.Since(start) < 5*time.Second {
			for _, x := range c.nodes {
				if _, ok := seen[x.id]; ok {
					continue
				}
				if info, ok := x.must().View().KeyInfo(kid); ok && info.Status == trust.KeyRevoked {
					seen[x.id] = time.Since(start)
				}
			}
			time.Sleep(100 * time.Microsecond)
		}
		acked := <-ack
		var all time.Duration
		var per []string
		for _, x := range c.nodes {
			d, ok := seen[x.id]
			if !ok {
				t.Fatalf("revocation of %s not visible on %s after 5s", kid, x.id)
			}
			all = max(all, d)
			per = append(per, fmt.Sprintf("%s %s", x.id, d.Round(time.Millisecond)))
		}
		worst = max(worst, all)
		t.Logf("%s (%s) revoked %s: acknowledged after %s; visible on all 5 views after %s [%s]",
			n.id, role, kid, acked.Round(time.Millisecond), all.Round(time.Millisecond), strings.Join(per, ", "))
		if all > time.Second {
			t.Errorf("revocation took %s to reach every trust view, want ≤ 1s", all)
		}
	}
	t.Logf("worst revocation propagation to all 5 trust views: %s", worst.Round(time.Millisecond))
}
