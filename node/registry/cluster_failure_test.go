package registry_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol/trust"
)

// The failure cases of DESIGN.md §15, each on an in-process cluster of 3
// voters (TJ-N1, TR-N1, KZ-N1) and 2 non-voters (UZ-N1, KG-N1) with real
// bbolt files. "Crash" is Close: in process there is no harsher stop, and
// every write is fsynced before it is acknowledged anyway.

// allOthers returns the nodes of c other than those given.
func (c *cluster) allOthers(not ...*cnode) []*cnode {
	var out []*cnode
next:
	for _, n := range c.nodes {
		for _, x := range not {
			if n == x {
				continue next
			}
		}
		out = append(out, n)
	}
	return out
}

// usedEverywhere asserts that every running node burnt id at index.
func (c *cluster) usedEverywhere(id string, index uint64) {
	c.t.Helper()
	for _, n := range c.running() {
		got, used := n.must().State().UsedID(id)
		if !used || got != index {
			c.t.Errorf("%s: command %s used=%v at %d, want index %d", n.id, id, used, got, index)
		}
	}
}

// Leader crash: a new leader takes over; no acknowledged command is lost; a
// command retried after the crash — acknowledged before it, or in flight
// during it — is applied exactly once, and the retry returns the original
// result.
func TestLeaderCrash(t *testing.T) {
	c := newCluster(t, nil)
	old := c.leader()
	f := c.follower(old)

	var acked []trust.Result
	for i := 2; i <= 4; i++ {
		data, _ := c.registerNode("TJ", i)
		acked = append(acked, f.mustSubmit(data, trust.OutcomeAccepted))
	}
	// b1 is acknowledged by the leader; its client retries anyway (it
	// did not see the answer).
	b1, id1 := c.registerNode("TR", 2)
	r1 := old.mustSubmit(b1, trust.OutcomeAccepted)
	// b2 is in flight when the leader crashes.
	b2, id2 := c.registerNode("KZ", 2)
	inflight := make(chan error, 1)
	oldReg := old.must()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := oldReg.Submit(ctx, b2)
		inflight <- err
	}()
	crashed := time.Now()
	old.kill()
	t.Logf("in-flight submission on the crashed leader returned: %v", <-inflight)

	nl := c.leader()
	if nl == old {
		t.Fatal("the crashed node leads")
	}
	t.Logf("new leader %s elected %s after the crash", nl.id, time.Since(crashed).Round(time.Millisecond))

	g := c.follower(nl)
	rr1 := g.mustSubmit(b1, trust.OutcomeAccepted)
	if rr1.Index != r1.Index || rr1.ChainHead != r1.ChainHead {
		t.Errorf("retry of an acknowledged command: index %d head %s, want the original %d %s", rr1.Index, shortHash(rr1.ChainHead), r1.Index, shortHash(r1.ChainHead))
	}
	rr2 := g.mustSubmit(b2, trust.OutcomeAccepted)
	// A retry on the leader itself gives the same answer.
	if again := nl.mustSubmit(b2, trust.OutcomeAccepted); again.Index != rr2.Index {
		t.Errorf("second retry: index %d, want %d", again.Index, rr2.Index)
	}

	c.converged(c.running()...)
	for _, res := range acked {
		c.usedEverywhere(res.CommandID, res.Index)
	}
	c.usedEverywhere(id1, r1.Index)
	c.usedEverywhere(id2, rr2.Index)
	for _, n := range c.running() {
		for _, id := range []string{id1, id2} {
			if k := acceptedCount(t, n.must(), id); k != 1 {
				t.Errorf("%s: command %s accepted %d times", n.id, id, k)
			}
		}
	}

	// The crashed leader comes back and converges on the same history.
	old.start()
	c.converged(c.nodes...)
	for _, res := range acked {
		c.usedEverywhere(res.CommandID, res.Index)
	}
}

// Leader isolated in a minority: writes there fail with ErrUnavailable, the
// majority elects a leader and writes succeed there (also from a
// non-voter), and after healing the old leader converges; the write it
// could not commit was never applied, and a retry applies it once.
func TestLeaderIsolatedInMinority(t *testing.T) {
	c := newCluster(t, nil)
	old := c.leader()
	rest := c.allOthers(old)
	c.partition([]*cnode{old}, rest)

	x, xid := c.registerNode("TJ", 7)
	_, err := old.submit(x, 2*time.Second)
	if !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("write on the isolated leader: %v, want ErrUnavailable", err)
	}
	t.Logf("write on the isolated leader: %v", err)

	nl := c.leaderAmong(rest...)
	y, _ := c.registerNode("TR", 7)
	ry := c.node("UZ-N1").mustSubmit(y, trust.OutcomeAccepted)
	t.Logf("majority leader %s committed index %d", nl.id, ry.Index)

	waitUntil(t, 10*time.Second, "the isolated leader steps down", func() error {
		if st := old.must().Status(); st.Role == registry.RaftLeader {
			return errors.New("still leader")
		}
		return nil
	})
	if _, err := old.submit(x, time.Second); !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("write on the isolated node after stepping down: %v, want ErrUnavailable", err)
	}
	if st := old.must().Status(); st.AppliedIndex >= ry.Index {
		t.Fatalf("the isolated node applied %d while cut off", st.AppliedIndex)
	}

	c.heal()
	st := c.converged(c.nodes...)
	if st.AppliedIndex < ry.Index {
		t.Fatalf("converged at %d, below the majority's %d", st.AppliedIndex, ry.Index)
	}
	for _, n := range c.nodes {
		if _, used := n.must().State().UsedID(xid); used {
			t.Errorf("%s applied the write the minority could not commit", n.id)
		}
	}
	rx := old.mustSubmit(x, trust.OutcomeAccepted)
	c.converged(c.nodes...)
	c.usedEverywhere(xid, rx.Index)
}

// Loss of quorum: no side of a three-way split holds a majority of the
// voters. Writes are unavailable everywhere; every node keeps serving its
// trust view (a revocation stays visible) and, past the staleness bound,
// reports itself stale and fails closed; when the network heals the
// cluster recovers by itself.
func TestQuorumLoss(t *testing.T) {
	const bound = 1500 * time.Millisecond
	c := newCluster(t, func(cfg *registry.Config) { cfg.MaxStaleness = bound })
	l := c.leader()
	rev, kid := c.revokeSigningKey("KZ")
	l.mustSubmit(rev, trust.OutcomeAccepted)
	before := c.converged(c.nodes...)
	for _, n := range c.nodes {
		if err := n.must().Fresh(); err != nil {
			t.Fatalf("%s not fresh before the split: %v", n.id, err)
		}
	}

	tj, tr, kz, uz, kg := c.node("TJ-N1"), c.node("TR-N1"), c.node("KZ-N1"), c.node("UZ-N1"), c.node("KG-N1")
	c.partition([]*cnode{tj, uz}, []*cnode{tr, kg}, []*cnode{kz})
	split := map[string]time.Time{}
	for _, n := range c.nodes {
		split[n.id] = n.clock.Now()
	}

	for i, n := range c.nodes {
		data, _ := c.registerNode("UZ", 10+i)
		if _, err := n.submit(data, time.Second); !errors.Is(err, registry.ErrUnavailable) {
			t.Errorf("write on %s without quorum: %v, want ErrUnavailable", n.id, err)
		}
	}
	waitUntil(t, 10*time.Second, "every node stale", func() error {
		for _, n := range c.nodes {
			if st := n.must().Status(); !st.Stale {
				return errors.New(n.id + " not stale yet")
			}
		}
		return nil
	})
	for _, n := range c.nodes {
		r := n.must()
		st := r.Status()
		if st.StateHash != before.StateHash || st.AppliedIndex != before.AppliedIndex {
			t.Errorf("%s: state changed without quorum", n.id)
		}
		if st.Staleness <= bound || st.StalenessBound != bound {
			t.Errorf("%s: stale with staleness %s, bound %s", n.id, st.Staleness, st.StalenessBound)
		}
		// The leader may count itself in sync until its lease ran out.
		if st.SyncedAt.After(split[n.id].Add(time.Second)) {
			t.Errorf("%s: synced at %s after the split at %s", n.id, st.SyncedAt, split[n.id])
		}
		var se *registry.StaleError
		if err := r.Fresh(); !errors.As(err, &se) || !errors.Is(err, registry.ErrStale) {
			t.Errorf("%s: Fresh() = %v, want *StaleError", n.id, err)
		}
		if info, ok := r.View().KeyInfo(kid); !ok || info.Status != trust.KeyRevoked {
			t.Errorf("%s: revoked key %s reads %+v", n.id, kid, info)
		}
		t.Logf("%s: %s, staleness %s (bound %s)", n.id, st.Role, st.Staleness.Round(time.Millisecond), st.StalenessBound)
	}

	healed := time.Now()
	c.heal()
	data, _ := c.registerNode("KG", 2)
	c.node("KG-N1").mustSubmit(data, trust.OutcomeAccepted)
	c.converged(c.nodes...)
	waitUntil(t, 10*time.Second, "every node fresh again", func() error {
		for _, n := range c.nodes {
			if err := n.must().Fresh(); err != nil {
				return err
			}
		}
		return nil
	})
	t.Logf("recovered %s after healing, without operator action", time.Since(healed).Round(time.Millisecond))
}

// A non-voter cut off while the leader snapshots and compacts its log past
// it catches up by installing the snapshot (verified, with its history),
// then by the log.
func TestNonvoterCatchesUpBySnapshot(t *testing.T) {
	c := newCluster(t, func(cfg *registry.Config) { cfg.TrailingLogs = 4 })
	l := c.leader()
	kg := c.node("KG-N1")
	before := c.lagBehindSnapshot(l, kg, 15)
	if st := kg.must().Status(); st.AppliedIndex != before.AppliedIndex || st.SnapshotsRestored != 0 {
		t.Fatalf("cut-off node moved: %+v", st)
	}

	healed := time.Now()
	c.heal()
	st := c.converged(c.nodes...)
	kst := kg.must().Status()
	if kst.SnapshotsRestored == 0 || kst.SnapshotError != nil {
		t.Fatalf("%s caught up without installing a snapshot (restored %d, error %v)", kg.id, kst.SnapshotsRestored, kst.SnapshotError)
	}
	t.Logf("%s caught up by snapshot from %d to %d in %s", kg.id, before.AppliedIndex, st.AppliedIndex, time.Since(healed).Round(time.Millisecond))

	// The history travelled with the snapshot: the node's own trust
	// bundle replays to its chain head.
	b, err := kg.must().Bundle()
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := trust.Replay(b, c.net.Genesis.Hash())
	if err != nil || s.ChainHead() != st.ChainHead {
		t.Fatalf("replay of %s's bundle: %v (head %s, want %s)", kg.id, err, shortHash(s.ChainHead()), shortHash(st.ChainHead))
	}

	// Later entries apply on top of the snapshot, also after a restart
	// from the state file it installed.
	kg.kill()
	kg.start()
	if st2 := kg.must().Status(); st2.AppliedIndex != st.AppliedIndex || st2.StateHash != st.StateHash {
		t.Fatalf("restart after the snapshot: %d %s, want %d %s", st2.AppliedIndex, shortHash(st2.StateHash), st.AppliedIndex, shortHash(st.StateHash))
	}
	data, id := c.registerNode("KZ", 2)
	res := kg.mustSubmit(data, trust.OutcomeAccepted)
	c.converged(c.nodes...)
	c.usedEverywhere(id, res.Index)
}

// Restart while isolated: a node restarted with every link cut comes back
// with its last state (same hash and index, a revocation still visible) and
// its last sync time, before any contact; it converges once linked.
func TestRestartWhileIsolated(t *testing.T) {
	c := newCluster(t, nil)
	l := c.leader()
	rev, kid := c.revokeSigningKey("TR")
	l.mustSubmit(rev, trust.OutcomeAccepted)
	before := c.converged(c.nodes...)

	for i, n := range []*cnode{c.follower(l), c.node("UZ-N1")} {
		n.kill()
		data, _ := c.registerNode("TJ", 20+i)
		l.mustSubmit(data, trust.OutcomeAccepted)
		c.partition([]*cnode{n}, c.allOthers(n))
		n.start()
		r := n.must()
		st := r.Status()
		if st.AppliedIndex != before.AppliedIndex || st.StateHash != before.StateHash || st.ChainHead != before.ChainHead {
			t.Fatalf("%s restarted isolated at %d/%s, want its last state %d/%s", n.id, st.AppliedIndex, shortHash(st.StateHash), before.AppliedIndex, shortHash(before.StateHash))
		}
		if info, ok := r.View().KeyInfo(kid); !ok || info.Status != trust.KeyRevoked {
			t.Fatalf("%s restarted isolated without the revocation of %s", n.id, kid)
		}
		if st.SyncedAt.IsZero() || !st.LastLeaderContact.IsZero() || st.Leader.ID != "" {
			t.Fatalf("%s restarted isolated: synced %s, contact %s, leader %q", n.id, st.SyncedAt, st.LastLeaderContact, st.Leader.ID)
		}
		t.Logf("%s restarted isolated: index %d, staleness %s since its last sync", n.id, st.AppliedIndex, st.Staleness.Round(time.Millisecond))
		c.heal()
		before = c.converged(c.nodes...)
	}
}

// Full restart in random order: every node restarts on its own state, the
// cluster elects a leader once a quorum is up and reaches the same chain
// head, and accepts writes.
func TestFullRestartRandomOrder(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	c := newCluster(t, nil)
	for i := 2; i <= 4; i++ {
		data, _ := c.registerNode("KG", i)
		c.node("KG-N1").mustSubmit(data, trust.OutcomeAccepted)
	}
	before := c.converged(c.nodes...)

	for _, i := range rng.Perm(len(c.nodes)) {
		c.nodes[i].kill()
	}
	order := rng.Perm(len(c.nodes))
	for _, i := range order {
		n := c.nodes[i]
		n.start()
		if st := n.must().Status(); st.ChainHead != before.ChainHead {
			t.Fatalf("%s restarted at %s, want %s", n.id, shortHash(st.ChainHead), shortHash(before.ChainHead))
		}
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond) // stagger, not an assertion
	}
	l := c.leader()
	after := c.converged(c.nodes...)
	if after.ChainHead != before.ChainHead {
		t.Fatalf("chain head %s after restart, %s before", shortHash(after.ChainHead), shortHash(before.ChainHead))
	}
	data, id := c.registerNode("UZ", 2)
	res := c.node(c.follower(l).id).mustSubmit(data, trust.OutcomeAccepted)
	c.converged(c.nodes...)
	c.usedEverywhere(id, res.Index)
}

// A removed node that comes back with old data (it still believes it is a
// voter) does not disturb the cluster: with pre-vote and hashicorp/raft's
// refusal of votes from outside the configuration, the leader and the term
// stay; writes go on; the returning node learns nothing and reports growing
// staleness. (In production every peer's mTLS also refuses it: its pin is
// no longer registered.)
func TestRemovedNodeReturnsWithOldData(t *testing.T) {
	// Timings with margin: a leader starved past its lease on a loaded
	// machine would bump the term for reasons of its own.
	c := newCluster(t, func(cfg *registry.Config) {
		cfg.MaxStaleness = time.Second
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 600*time.Millisecond, 1200*time.Millisecond, 500*time.Millisecond
	})
	l := c.leader()
	v := c.follower(l)
	member := v.id[:2]
	old := c.converged(c.nodes...)
	v.kill()

	rm, _ := c.removeNode(member, v.id)
	l.mustSubmit(rm, trust.OutcomeAccepted)
	waitUntil(t, 10*time.Second, "the leader removes "+v.id+" from the configuration", func() error {
		for _, s := range l.must().Status().Servers {
			if s.ID == v.id {
				return errors.New("still in the configuration")
			}
		}
		return nil
	})
	cur := c.converged(c.running()...)

	lst := l.must().Status()
	v.start()
	probe := 3 * time.Second // the returning node campaigns every 0.6–1.2 s
	deadline := time.Now().Add(probe)
	i := 0
	for time.Now().Before(deadline) {
		for _, n := range c.running() {
			if n == v {
				continue
			}
			st := n.must().Status()
			if st.Leader.ID != l.id || st.Term != lst.Term {
				t.Fatalf("%s: leader %q term %d, want %s term %d: the returning node disturbed the cluster", n.id, st.Leader.ID, st.Term, l.id, lst.Term)
			}
		}
		if i++; i%20 == 0 {
			data, _ := c.registerNode("UZ", 30+i/20)
			l.mustSubmit(data, trust.OutcomeAccepted)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// It holds a prefix of the cluster's history: what it had, or up to
	// its own removal if the leader's last replication to a removed peer
	// reached it (hashicorp/raft tries once, so it learns it is out).
	vst := v.must().Status()
	if vst.AppliedIndex > cur.AppliedIndex || vst.ChainHead != headAt(t, l.must(), vst.AppliedIndex) {
		t.Fatalf("removed node at %d/%s is not a prefix of the cluster's history (was %d)", vst.AppliedIndex, shortHash(vst.ChainHead), old.AppliedIndex)
	}
	if !vst.Stale {
		t.Fatalf("removed node does not report staleness: %+v", vst)
	}
	t.Logf("removed node %s ran %s with old data (%s, term %d, staleness %s); leader %s kept term %d; cluster moved from %d to %d",
		v.id, probe, vst.Role, vst.Term, vst.Staleness.Round(time.Millisecond), l.id, lst.Term, cur.AppliedIndex, l.must().Status().AppliedIndex)
}
