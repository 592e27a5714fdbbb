package registry_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

func TestConfigValidate(t *testing.T) {
	n := trusttest.New(t, "TJ", "TR", "KZ")
	_, trans := raft.NewInmemTransport("TJ-N1.raft.test:7001")
	t.Cleanup(func() { trans.Close() })
	base := func() registry.Config {
		c := registry.DefaultConfig()
		c.NodeID, c.Dir, c.Genesis, c.GenesisPin, c.Transport = "TJ-N1", t.TempDir(), n.Genesis, n.Genesis.Hash(), trans
		return c
	}
	for _, tc := range []struct {
		name string
		edit func(*registry.Config)
		want error
	}{
		{"ok/defaults", func(*registry.Config) {}, nil},
		{"ok/short-timings", shortTimings, nil},
		{"fail/node-id", func(c *registry.Config) { c.NodeID = "tj-n1" }, registry.ErrInvalidConfig},
		{"fail/no-dir", func(c *registry.Config) { c.Dir = "" }, registry.ErrInvalidConfig},
		{"fail/no-genesis", func(c *registry.Config) { c.Genesis = nil }, registry.ErrInvalidConfig},
		{"fail/no-transport", func(c *registry.Config) { c.Transport = nil }, registry.ErrInvalidConfig},
		{"fail/lease-above-heartbeat", func(c *registry.Config) { c.LeaderLeaseTimeout = c.HeartbeatTimeout + time.Second }, registry.ErrInvalidConfig},
		{"fail/election-below-heartbeat", func(c *registry.Config) { c.ElectionTimeout = c.HeartbeatTimeout / 2 }, registry.ErrInvalidConfig},
		{"fail/commit-timeout", func(c *registry.Config) { c.CommitTimeout = 0 }, registry.ErrInvalidConfig},
		{"fail/snapshot-threshold", func(c *registry.Config) { c.SnapshotThreshold = 0 }, registry.ErrInvalidConfig},
		{"fail/negative-staleness", func(c *registry.Config) { c.MaxStaleness = -time.Second }, registry.ErrInvalidConfig},
		{"fail/pin-of-another-network", func(c *registry.Config) { c.GenesisPin = trusttest.New(t, "TJ").Genesis.Hash() }, trust.ErrGenesisPin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Validate() = %v, want %v", err, tc.want)
			}
		})
	}
	d := registry.DefaultConfig()
	if d.HeartbeatTimeout < time.Second || d.ElectionTimeout < 2*d.HeartbeatTimeout || d.CommitTimeout > d.HeartbeatTimeout/10 {
		t.Errorf("defaults are not WAN-suitable: %+v", d)
	}
}

// A data directory belongs to one network: opened with another genesis
// (and its pin), the node refuses to start.
func TestOpenRefusesAnotherNetwork(t *testing.T) {
	c := newCluster(t, nil)
	n := c.node("TJ-N1")
	n.kill()
	other := trusttest.New(t, clusterMembers...)
	_, trans := raft.NewInmemTransport(n.addr)
	defer trans.Close()
	cfg := n.config(trans)
	cfg.Genesis, cfg.GenesisPin = other.Genesis, other.Genesis.Hash()
	r, err := registry.Open(context.Background(), cfg)
	if !errors.Is(err, trust.ErrGenesisPin) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("Open with another network's genesis: %v, want ErrGenesisPin", err)
	}
}

// Followers count as in sync after an election even if no command was ever
// applied: the entries Raft adds itself (configuration, the no-op of each
// term) never reach the FSM and must not make a node stale.
func TestFreshWithoutCommands(t *testing.T) {
	c := newCluster(t, func(cfg *registry.Config) { cfg.MaxStaleness = 2 * time.Second })
	waitUntil(t, 10*time.Second, "every node fresh", func() error {
		for _, n := range c.nodes {
			if err := n.must().Fresh(); err != nil {
				return err
			}
		}
		return nil
	})
	// ... and stay so over several bounds, on an idle cluster.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range c.nodes {
			if st := n.must().Status(); st.Stale {
				t.Fatalf("%s stale on an idle, healthy cluster: %+v", n.id, st)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// LinearizableRead on any node returns a view with every acknowledged
// write; cut off from the leader it fails with ErrUnavailable.
func TestLinearizableRead(t *testing.T) {
	c := newCluster(t, nil)
	l := c.leader()
	data, kid := c.revokeSigningKey("KZ")
	l.mustSubmit(data, trust.OutcomeAccepted)
	for _, n := range c.nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		v, err := n.must().LinearizableRead(ctx)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", n.id, err)
		}
		if info, _ := v.KeyInfo(kid); info.Status != trust.KeyRevoked {
			t.Fatalf("%s: linearizable read misses an acknowledged revocation", n.id)
		}
	}
	uz := c.node("UZ-N1")
	c.partition([]*cnode{uz}, c.allOthers(uz))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := uz.must().LinearizableRead(ctx); !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("linearizable read cut off from the leader: %v, want ErrUnavailable", err)
	}
}

// A used command id with another payload is refused REPLAYED_ID; the same
// payload again returns the original result.
func TestRetryIsIdempotentButIDsAreNotReusable(t *testing.T) {
	c := newCluster(t, nil)
	l := c.leader()
	cmd := c.net.Command(trust.CmdNodeRegister, "TJ", trust.NodeRegisterArgs{Node: trusttest.NodeSpec("TJ", 2, trust.RoleNonvoter)})
	first := l.mustSubmit(c.net.Sign(cmd, c.net.Member("TJ").Gov), trust.OutcomeAccepted)
	// The same command signed again (ECDSA: other signature bytes).
	again := l.mustSubmit(c.net.Sign(cmd, c.net.Member("TJ").Gov), trust.OutcomeAccepted)
	if again.Index != first.Index {
		t.Fatalf("re-signed retry applied at %d, original %d", again.Index, first.Index)
	}
	other, err := trust.NewCommand(c.net.Genesis.Hash(), cmd.ID, trust.CmdNodeRegister, c.net.Now, "TJ", trust.NodeRegisterArgs{Node: trusttest.NodeSpec("TJ", 3, trust.RoleNonvoter)})
	if err != nil {
		t.Fatal(err)
	}
	res := l.mustSubmit(c.net.Sign(other, c.net.Member("TJ").Gov), trust.OutcomeRejected)
	if res.Reason != trust.ReasonReplayedID || res.Index == first.Index {
		t.Fatalf("other payload under a used id: %s at %d", res.Reason, res.Index)
	}
	// Too large: refused before Raft, nothing proposed.
	before := l.must().Status().AppliedIndex
	big, err := l.submit(make([]byte, 1<<20+1), time.Second)
	if err != nil || big.Reason != trust.ReasonMalformedEntry || big.Index != 0 || l.must().Status().AppliedIndex != before {
		t.Fatalf("oversized entry: %+v %v", big, err)
	}
}

// Membership follows the registry (DESIGN.md §13): a registered node joins
// as a non-voter (AddNonvoter, guarded by the state); node.set-role makes it
// a voter once caught up and back; a suspended member's voter is demoted
// and promoted again when reinstated.
func TestMembershipFollowsTheRegistry(t *testing.T) {
	c := newCluster(t, func(cfg *registry.Config) { cfg.CatchUpEntries = 2 })
	l := c.leader()
	spec := trusttest.NodeSpec("TJ", 2, trust.RoleNonvoter)
	newNode := c.addNode(spec)
	newNode.start()
	if _, err := newNode.submit([]byte("x"), time.Second); !errors.Is(err, registry.ErrNoLeader) {
		t.Fatalf("submit on a node outside any configuration: %v, want ErrNoLeader", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.must().AddNonvoter(ctx, spec.ID, spec.RaftAddress); !errors.Is(err, registry.ErrNodeNotRegistered) {
		t.Fatalf("AddNonvoter before node.register: %v, want ErrNodeNotRegistered", err)
	}
	reg := c.net.Command(trust.CmdNodeRegister, "TJ", trust.NodeRegisterArgs{Node: spec})
	l.mustSubmit(c.net.Sign(reg, c.net.Member("TJ").Gov), trust.OutcomeAccepted)
	if err := c.follower(l).must().AddNonvoter(ctx, spec.ID, spec.RaftAddress); !errors.Is(err, registry.ErrNotLeader) {
		t.Fatalf("AddNonvoter on a follower: %v, want ErrNotLeader", err)
	}
	if err := l.must().AddNonvoter(ctx, spec.ID, "elsewhere:7000"); !errors.Is(err, registry.ErrNodeNotRegistered) {
		t.Fatalf("AddNonvoter at another address: %v, want ErrNodeNotRegistered", err)
	}
	if err := l.must().AddNonvoter(ctx, spec.ID, spec.RaftAddress); err != nil {
		t.Fatal(err)
	}
	c.converged(c.nodes...)
	suffrage := func(of *cnode) string {
		for _, s := range c.leader().must().Status().Servers {
			if s.ID == of.id {
				return s.Suffrage
			}
		}
		return ""
	}
	waitFor := func(of *cnode, want string) {
		t.Helper()
		waitUntil(t, 15*time.Second, of.id+" becomes "+want, func() error {
			if got := suffrage(of); got != want {
				return errors.New("suffrage " + got)
			}
			return nil
		})
	}
	waitFor(newNode, trust.RoleNonvoter)

	// Promotion waits until the node has caught up: cut off, it stays a
	// non-voter although the registry names it a voter.
	c.partition([]*cnode{newNode}, c.allOthers(newNode))
	for i := 2; i < 6; i++ {
		data, _ := c.registerNode("UZ", i)
		l.mustSubmit(data, trust.OutcomeAccepted)
	}
	data, _ := c.setRole(spec.ID, trust.RoleVoter)
	c.node("KG-N1").mustSubmit(data, trust.OutcomeAccepted)
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if got := suffrage(newNode); got != trust.RoleNonvoter {
			t.Fatalf("%s promoted to %q while cut off and behind", newNode.id, got)
		}
	}
	c.heal()
	waitFor(newNode, trust.RoleVoter)
	data, _ = c.setRole(spec.ID, trust.RoleNonvoter)
	c.node("KG-N1").mustSubmit(data, trust.OutcomeAccepted)
	waitFor(newNode, trust.RoleNonvoter)

	tr := c.node("TR-N1")
	susp := c.net.Command(trust.CmdMemberSuspend, "TJ", trust.SuspendArgs{Member: "TR", Reason: "test"})
	c.node("UZ-N1").mustSubmit(c.net.Sign(susp, c.net.Gov("TJ", "KZ", "UZ", "KG")...), trust.OutcomeAccepted)
	waitFor(tr, trust.RoleNonvoter)
	rein := c.net.Command(trust.CmdMemberReinstate, "TJ", trust.ReinstateArgs{Member: "TR"})
	c.node("UZ-N1").mustSubmit(c.net.Sign(rein, c.net.Gov("TJ", "KZ", "UZ")...), trust.OutcomeAccepted)
	waitFor(tr, trust.RoleVoter)
	c.converged(c.nodes...)
}

// Close stops every goroutine the nodes started.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	c := newCluster(t, nil)
	l := c.leader()
	data, _ := c.registerNode("TJ", 2)
	c.follower(l).mustSubmit(data, trust.OutcomeAccepted)
	if err := l.must().SnapshotNow(); err != nil {
		t.Fatal(err)
	}
	// A write left hanging on a leader cut off from its quorum.
	c.partition([]*cnode{l}, c.allOthers(l))
	hanging := make(chan error, 1)
	lr := l.must()
	data, _ = c.registerNode("TR", 2)
	go func() {
		_, err := lr.Submit(context.Background(), data)
		hanging <- err
	}()
	c.closeAll()
	if err := <-hanging; !errors.Is(err, registry.ErrUnavailable) && !errors.Is(err, registry.ErrClosed) {
		t.Fatalf("hanging write after Close: %v", err)
	}
	var n int
	waitUntil(t, 10*time.Second, "goroutines to settle", func() error {
		if n = runtime.NumGoroutine(); n > before {
			return errors.New("goroutines left")
		}
		return nil
	})
	t.Logf("goroutines: %d before, %d after", before, n)
}

// TestRaftLogFormatsHclogFmt: raft logs some values with hclog.Fmt
// ("servers", hclog.Fmt("%+v", …)); the adapter formats them instead of
// printing "[%+v …]".
func TestRaftLogFormatsHclogFmt(t *testing.T) {
	var buf bytes.Buffer
	l := registry.NewRaftLogger(slog.New(slog.NewTextHandler(&buf, nil)))
	l.Info("initial configuration", "servers", hclog.Fmt("%+v", []raft.Server{{ID: "TJ-N1", Address: "tj:7000"}}))
	if out := buf.String(); strings.Contains(out, "%+v") || !strings.Contains(out, "ID:TJ-N1") {
		t.Fatalf("%s", out)
	}
}
