package registry_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

// In-process registry clusters for the failure-case tests (DESIGN.md §15):
// real Registry nodes with real bbolt files in t.TempDir(), connected by
// raft.InmemTransport, with partitions, kills, restarts in the same
// directory and a per-node clock that can be skewed. Modelled on rqlite's
// store tests and hashicorp/raft's MakeCluster.

// clusterMembers gives a network of five members: TJ, TR, KZ own the three
// genesis voters, UZ and KG the two genesis non-voters (registrytest).
var clusterMembers = []string{"TJ", "TR", "KZ", "UZ", "KG"}

// clockAnchor is where the test clocks start: an hour after the genesis, so
// that consensus time is governed by the commands' issuedAt (+ skew) and the
// leader's stamp, not by the genesis time.
var clockAnchor = trusttest.GenesisTime.Time().Add(time.Hour)

// skewClock runs at real speed from clockAnchor, plus a settable offset
// (the skew).
type skewClock struct {
	start  time.Time
	offset atomic.Int64
}

func newSkewClock() *skewClock { return &skewClock{start: time.Now()} }

func (c *skewClock) Now() time.Time {
	return clockAnchor.Add(time.Since(c.start) + time.Duration(c.offset.Load()))
}

func (c *skewClock) Skew(d time.Duration) { c.offset.Store(int64(d)) }

// shortTimings are in-process timings: fast, but with margin for a loaded
// 2-core machine running -race.
func shortTimings(c *registry.Config) {
	c.HeartbeatTimeout = 300 * time.Millisecond
	c.ElectionTimeout = 600 * time.Millisecond
	c.LeaderLeaseTimeout = 200 * time.Millisecond
	c.CommitTimeout = 10 * time.Millisecond
	c.SnapshotThreshold = 1 << 20 // only the snapshots a test asks for
	c.SnapshotInterval = time.Second
	c.TrailingLogs = 1024
	c.ReconcileInterval = 200 * time.Millisecond
}

type cluster struct {
	t    *testing.T
	net  *trusttest.Network
	tune func(*registry.Config)
	log  *slog.Logger

	mu      sync.Mutex
	nodes   []*cnode
	blocked map[[2]string]bool // cut links, both directions stored
}

type cnode struct {
	c     *cluster
	id    string
	addr  raft.ServerAddress
	dir   string
	clock *skewClock

	mu    sync.Mutex
	reg   *registry.Registry
	trans *raft.InmemTransport
}

// newCluster builds the five-node network (3 voters + 2 non-voters) and
// starts the nodes named in start (all if none), then waits for a leader.
func newCluster(t *testing.T, tune func(*registry.Config), start ...string) *cluster {
	t.Helper()
	return newClusterOn(t, trusttest.New(t, clusterMembers...), tune, start...)
}

// newClusterOn is newCluster on a given network (several clusters of one
// genesis replay the same signed commands).
func newClusterOn(t *testing.T, net *trusttest.Network, tune func(*registry.Config), start ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, net: net, tune: tune, blocked: map[[2]string]bool{}}
	c.log = clusterLogger(t)
	for _, gn := range c.net.Genesis.Document().Nodes {
		c.nodes = append(c.nodes, &cnode{c: c, id: gn.ID, addr: raft.ServerAddress(gn.RaftAddress), dir: t.TempDir(), clock: newSkewClock()})
	}
	t.Cleanup(c.closeAll)
	if len(start) == 0 {
		for _, n := range c.nodes {
			start = append(start, n.id)
		}
	}
	for _, id := range start {
		c.node(id).start()
	}
	c.leader()
	return c
}

// clusterLogger routes slog records into t.Log; CRVSX_TEST_LOG=debug|info|warn
// sets the level (default info).
func clusterLogger(t *testing.T) *slog.Logger {
	w := &clusterLogWriter{t: t}
	t.Cleanup(w.stop) // registered first: runs after the cluster's cleanup
	level := slog.LevelInfo
	switch os.Getenv("CRVSX_TEST_LOG") {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type clusterLogWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *clusterLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *clusterLogWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

func (c *cluster) node(id string) *cnode {
	for _, n := range c.nodes {
		if n.id == id {
			return n
		}
	}
	c.t.Fatalf("no node %s", id)
	return nil
}

// addNode adds a node that is not in the genesis (it must be registered and
// joined to run: it does not bootstrap).
func (c *cluster) addNode(spec trust.NodeSpec) *cnode {
	n := &cnode{c: c, id: spec.ID, addr: raft.ServerAddress(spec.RaftAddress), dir: c.t.TempDir(), clock: newSkewClock()}
	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	return n
}

// voters and nonvoters of the genesis.
func (c *cluster) voters() []*cnode    { return c.nodes[:3] }
func (c *cluster) nonvoters() []*cnode { return c.nodes[3:] }

func (c *cluster) running() []*cnode {
	var out []*cnode
	for _, n := range c.nodes {
		if n.R() != nil {
			out = append(out, n)
		}
	}
	return out
}

func (c *cluster) closeAll() {
	for _, n := range c.nodes {
		n.kill()
	}
}

// R returns the node's running Registry, or nil.
func (n *cnode) R() *registry.Registry {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.reg
}

// must returns the running Registry or fails the test.
func (n *cnode) must() *registry.Registry {
	n.c.t.Helper()
	r := n.R()
	if r == nil {
		n.c.t.Fatalf("node %s is down", n.id)
	}
	return r
}

func (n *cnode) config(trans raft.Transport) registry.Config {
	cfg := registry.DefaultConfig()
	cfg.NodeID = n.id
	cfg.Dir = n.dir
	cfg.Genesis = n.c.net.Genesis
	cfg.GenesisPin = n.c.net.Genesis.Hash()
	cfg.Transport = trans
	cfg.Forwarder = inprocForwarder{c: n.c, from: n.id}
	cfg.Logger = n.c.log.With("node", n.id)
	cfg.Clock = n.clock.Now
	shortTimings(&cfg)
	if n.c.tune != nil {
		n.c.tune(&cfg)
	}
	return cfg
}

// open opens the node's Registry on a fresh transport, without starting it
// in the cluster (for tests of Open's refusals).
func (n *cnode) open() (*registry.Registry, *raft.InmemTransport, error) {
	_, trans := raft.NewInmemTransportWithTimeout(n.addr, time.Second)
	r, err := registry.Open(context.Background(), n.config(trans))
	if err != nil {
		trans.Close()
	}
	return r, trans, err
}

// start opens the node in its directory and links it to every running node
// it is not cut off from.
func (n *cnode) start() {
	n.c.t.Helper()
	r, trans, err := n.open()
	if err != nil {
		n.c.t.Fatalf("open %s: %v", n.id, err)
	}
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	n.mu.Lock()
	n.reg, n.trans = r, trans
	n.mu.Unlock()
	for _, p := range n.c.nodes {
		if p != n && p.trans != nil && !n.c.blocked[[2]string{n.id, p.id}] {
			n.trans.Connect(p.addr, p.trans)
			p.trans.Connect(n.addr, n.trans)
		}
	}
}

// kill stops the node (Close: raft shuts down, files close) and unlinks it.
func (n *cnode) kill() {
	n.c.mu.Lock()
	n.mu.Lock()
	r := n.reg
	n.reg, n.trans = nil, nil
	n.mu.Unlock()
	for _, p := range n.c.nodes {
		if p != n && p.trans != nil {
			p.trans.Disconnect(n.addr)
		}
	}
	n.c.mu.Unlock()
	if r != nil {
		if err := r.Close(); err != nil {
			n.c.t.Errorf("close %s: %v", n.id, err)
		}
	}
}

// partition cuts every link between nodes of different groups; nodes in no
// group keep their links.
func (c *cluster) partition(groups ...[]*cnode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	group := map[string]int{}
	for g, ns := range groups {
		for _, n := range ns {
			group[n.id] = g + 1
		}
	}
	for _, a := range c.nodes {
		for _, b := range c.nodes {
			ga, gb := group[a.id], group[b.id]
			if a == b || ga == 0 || gb == 0 || ga == gb {
				continue
			}
			c.blocked[[2]string{a.id, b.id}] = true
			if a.trans != nil {
				a.trans.Disconnect(b.addr)
			}
		}
	}
}

// heal restores every link between running nodes.
func (c *cluster) heal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.blocked)
	for _, a := range c.nodes {
		for _, b := range c.nodes {
			if a != b && a.trans != nil && b.trans != nil {
				a.trans.Connect(b.addr, b.trans)
			}
		}
	}
}

// reach returns b's Registry if a can talk to it.
func (c *cluster) reach(a, b string) (*registry.Registry, error) {
	c.mu.Lock()
	cut := c.blocked[[2]string{a, b}]
	c.mu.Unlock()
	r := c.node(b).R()
	if cut || r == nil {
		return nil, fmt.Errorf("node %s cannot reach the leader %s: %w", a, b, registry.ErrUnavailable)
	}
	return r, nil
}

// inprocForwarder is the in-process Forwarder: a follower's call reaches the
// leader's Registry directly, unless the link is cut.
type inprocForwarder struct {
	c    *cluster
	from string
}

func (f inprocForwarder) Forward(ctx context.Context, leader registry.Leader, data []byte) (trust.Result, error) {
	r, err := f.c.reach(f.from, leader.ID)
	if err != nil {
		return trust.Result{}, err
	}
	return r.SubmitLeader(ctx, data)
}

func (f inprocForwarder) ReadIndex(ctx context.Context, leader registry.Leader) (uint64, error) {
	r, err := f.c.reach(f.from, leader.ID)
	if err != nil {
		return 0, err
	}
	return r.ReadIndex(ctx)
}

// waitUntil polls cond until it returns nil or the deadline passes.
// Every cluster test (in-process and mTLS) waits with it.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, d, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// leaderAmong waits until one of nodes leads and every one of them that is
// not cut off from it names it; it returns the leader.
func (c *cluster) leaderAmong(nodes ...*cnode) *cnode {
	c.t.Helper()
	var leader *cnode
	waitUntil(c.t, 15*time.Second, "a leader", func() error {
		leader = nil
		for _, n := range nodes {
			if r := n.R(); r != nil && r.Status().Role == registry.RaftLeader {
				if leader != nil {
					return fmt.Errorf("two leaders: %s and %s", leader.id, n.id)
				}
				leader = n
			}
		}
		if leader == nil {
			return errors.New("no leader")
		}
		for _, n := range nodes {
			if r := n.R(); r != nil && n != leader {
				if _, err := c.reach(n.id, leader.id); err == nil && r.Status().Leader.ID != leader.id {
					return fmt.Errorf("%s names leader %q, not %s", n.id, r.Status().Leader.ID, leader.id)
				}
			}
		}
		return nil
	})
	return leader
}

// leader waits for the leader of the running nodes.
func (c *cluster) leader() *cnode {
	c.t.Helper()
	return c.leaderAmong(c.running()...)
}

// follower returns a running voter that is not the leader.
func (c *cluster) follower(leader *cnode) *cnode {
	for _, n := range c.voters() {
		if n != leader && n.R() != nil {
			return n
		}
	}
	c.t.Fatal("no running follower")
	return nil
}

// submit submits data on node n with a deadline.
func (n *cnode) submit(data []byte, d time.Duration) (trust.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return n.must().Submit(ctx, data)
}

// mustSubmit submits data on n (retrying while a leader is being elected)
// and fails the test unless it is applied with outcome want.
func (n *cnode) mustSubmit(data []byte, want trust.Outcome) trust.Result {
	n.c.t.Helper()
	var res trust.Result
	waitUntil(n.c.t, 15*time.Second, "submit on "+n.id, func() error {
		var err error
		res, err = n.submit(data, 5*time.Second)
		return err
	})
	if res.Outcome != want {
		n.c.t.Fatalf("submit on %s: %s %s: outcome %s (%s %s), want %s", n.id, res.Type, res.CommandID, res.Outcome, res.Reason, res.Detail, want)
	}
	return res
}

// converged waits until every node in nodes has applied the same entries
// (same applied index and chain head, hence same state hash).
func (c *cluster) converged(nodes ...*cnode) registry.Status {
	c.t.Helper()
	var st registry.Status
	waitUntil(c.t, 20*time.Second, "convergence", func() error {
		var first *registry.Status
		for _, n := range nodes {
			r := n.R()
			if r == nil {
				return fmt.Errorf("%s is down", n.id)
			}
			s := r.Status()
			if first == nil {
				first = &s
				continue
			}
			if s.AppliedIndex != first.AppliedIndex || s.ChainHead != first.ChainHead || s.StateHash != first.StateHash {
				return fmt.Errorf("%s at %d/%s, %s at %d/%s", first.NodeID, first.AppliedIndex, shortHash(first.ChainHead), s.NodeID, s.AppliedIndex, shortHash(s.ChainHead))
			}
		}
		st = *first
		return nil
	})
	return st
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// cmd helpers: each returns signed entry data of a fresh, valid command.

// registerNode is node.register by member of its node number i (a self
// command: one governance signature).
func (c *cluster) registerNode(member string, i int) ([]byte, string) {
	cmd := c.net.Command(trust.CmdNodeRegister, member, trust.NodeRegisterArgs{Node: trusttest.NodeSpec(member, i, trust.RoleNonvoter)})
	return c.net.Sign(cmd, c.net.Member(member).Gov), cmd.ID
}

// removeNode is node.remove by the node's own member.
func (c *cluster) removeNode(member, node string) ([]byte, string) {
	cmd := c.net.Command(trust.CmdNodeRemove, member, trust.NodeRemoveArgs{Node: node})
	return c.net.Sign(cmd, c.net.Member(member).Gov), cmd.ID
}

// setRole is node.set-role signed by four of the five members (the
// threshold: max(2, ⌈5·2/3⌉)).
func (c *cluster) setRole(node, role string) ([]byte, string) {
	cmd := c.net.Command(trust.CmdNodeSetRole, "TJ", trust.NodeSetRoleArgs{Node: node, Role: role})
	return c.net.Sign(cmd, c.net.Gov("TJ", "TR", "KZ", "UZ")...), cmd.ID
}

// revokeSigningKey is key.revoke by member of its own signing key as
// compromised since the command's issuedAt.
func (c *cluster) revokeSigningKey(member string) (data []byte, kid string) {
	kid = c.net.Member(member).Sig.Kid()
	cmd := c.net.Command(trust.CmdKeyRevoke, member, trust.KeyRevokeArgs{Kid: kid, Reason: trust.RevokeCompromised, CompromisedSince: c.net.Now})
	return c.net.Sign(cmd, c.net.Member(member).Gov), kid
}

// acceptedCount counts, in n's trust bundle, the accepted entries that carry
// the command id.
func acceptedCount(t *testing.T, r *registry.Registry, id string) int {
	t.Helper()
	b, err := r.Bundle()
	if err != nil {
		t.Fatal(err)
	}
	_, results, err := trust.Replay(b, r.State().GenesisHash())
	if err != nil {
		t.Fatalf("replay %s's bundle: %v", r.Status().NodeID, err)
	}
	n := 0
	for _, res := range results {
		if res.CommandID == id && res.Outcome == trust.OutcomeAccepted {
			n++
		}
	}
	return n
}

// headAt returns the chain head r's history had after the entry at index
// (the genesis hash for 0).
func headAt(t *testing.T, r *registry.Registry, index uint64) string {
	t.Helper()
	if index == 0 {
		return r.State().GenesisHash()
	}
	b, err := r.Bundle()
	if err != nil {
		t.Fatal(err)
	}
	_, results, err := trust.Replay(b, r.State().GenesisHash())
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range results {
		if res.Index == index {
			return res.ChainHead
		}
	}
	t.Fatalf("no entry %d in %s's history", index, r.Status().NodeID)
	return ""
}

// lagBehindSnapshot registers TJ's second node, waits for every node to
// apply it, cuts node off, registers TR's nodes 3…upTo−1 on the leader l
// and makes l snapshot (with a small TrailingLogs the log is compacted
// past node). It returns the status every node had converged to before.
func (c *cluster) lagBehindSnapshot(l, node *cnode, upTo int) registry.Status {
	c.t.Helper()
	data, _ := c.registerNode("TJ", 2)
	l.mustSubmit(data, trust.OutcomeAccepted)
	before := c.converged(c.nodes...)
	c.partition([]*cnode{node}, c.allOthers(node))
	for i := 3; i < upTo; i++ {
		data, _ := c.registerNode("TR", i)
		l.mustSubmit(data, trust.OutcomeAccepted)
	}
	if err := l.must().SnapshotNow(); err != nil {
		c.t.Fatal(err)
	}
	return before
}
