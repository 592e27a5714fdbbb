package registry_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

// A registry cluster in one process over the real stack: every node is a
// *registry.Registry on the mTLS StreamLayer (loopback TCP, TLS 1.3, SPKI
// pins from the genesis), with the registry API on its own TLS listener and
// the HTTPForwarder for writes — what a node will compose.

type mcMember struct {
	id       string
	gov, sig *jws.Signer
}

type mcNode struct {
	c      *mcCluster
	id     string
	member string
	cert   tls.Certificate
	pin    string
	raftLn net.Listener
	apiLn  net.Listener
	raft   string // registered raftAddress
	api    string // registered apiUrl
	dir    string

	reg atomic.Pointer[registry.Registry]
	sl  *registry.StreamLayer
	srv *http.Server
}

type mcCluster struct {
	t       *testing.T
	g       *trust.Genesis
	members map[string]*mcMember
	nodes   []*mcNode
	genView *trust.View
}

func mcNewNode(t *testing.T, id, member string) *mcNode {
	n := &mcNode{id: id, member: member, cert: mustNodeKey(t, id), raftLn: mustListen(t), apiLn: mustListen(t), dir: t.TempDir()}
	n.pin, _ = pintls.Pin(n.cert)
	n.raft, n.api = n.raftLn.Addr().String(), "https://"+n.apiLn.Addr().String()
	return n
}

// newMCCluster builds a genesis of the members (one node each; the first
// `voters` nodes vote) with real TLS pins and loopback addresses, and
// starts every node.
func newMCCluster(t *testing.T, voters int, members ...string) *mcCluster {
	t.Helper()
	c := &mcCluster{t: t, members: map[string]*mcMember{}}
	gt := trust.TimestampOf(time.Now().Add(-time.Hour))
	doc := trust.GenesisDocument{Format: trust.GenesisFormat, Network: "mtls-test", GenesisTime: gt, Policy: trusttest.DefaultPolicy()}
	var signers []*jws.Signer
	for i, id := range members {
		m := &mcMember{id: id}
		var err error
		if m.gov, err = jws.GenerateKey(id, jws.AlgES256); err != nil {
			t.Fatal(err)
		}
		if m.sig, err = jws.GenerateKey(id, jws.AlgEdDSA); err != nil {
			t.Fatal(err)
		}
		c.members[id] = m
		signers = append(signers, m.gov, m.sig)
		gm := trust.GenesisMember{ID: id, Name: "Civil registry of " + id}
		for _, k := range []struct {
			s    *jws.Signer
			role string
		}{{m.gov, trust.RoleGovernance}, {m.sig, trust.RoleSigning}} {
			jwk, err := jws.MarshalPublicJWK(k.s.Public())
			if err != nil {
				t.Fatal(err)
			}
			gm.Keys = append(gm.Keys, trust.KeySpec{Role: k.role, JWK: jwk, NotBefore: gt - 86400, NotAfter: gt + 5*365*86400})
		}
		doc.Members = append(doc.Members, gm)
		n := mcNewNode(t, id+"-N1", id)
		n.c = c
		role := trust.RoleNonvoter
		if i < voters {
			role = trust.RoleVoter
		}
		doc.Nodes = append(doc.Nodes, trust.GenesisNode{ID: n.id, Member: id, RaftAddress: n.raft, APIURL: n.api, TLSSPKISHA256: n.pin, Role: role})
		c.nodes = append(c.nodes, n)
	}
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var ends [][]byte
	for _, s := range signers {
		e, err := trust.Endorse(raw, s, protocol.NewUUID(), gt)
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, e)
	}
	if c.g, err = trust.ParseGenesis(raw, ends); err != nil {
		t.Fatal(err)
	}
	c.genView = trust.NewView(trust.NewState(c.g))
	t.Cleanup(c.stop)
	for _, n := range c.nodes {
		n.start()
	}
	return c
}

// view is the node's current trust view; before its Registry is open, the
// genesis view.
func (n *mcNode) view() *trust.View {
	if r := n.reg.Load(); r != nil {
		return r.View()
	}
	return n.c.genView
}

func (n *mcNode) start() {
	t := n.c.t
	t.Helper()
	sl, err := registry.NewStreamLayer(n.raftLn, registry.StreamConfig{Certificate: n.cert, View: n.view, GenesisHash: n.c.g.Hash(),
		HandshakeTimeout: 5 * time.Second, Logger: testLogger(t).With("node", n.id)})
	if err != nil {
		t.Fatal(err)
	}
	n.sl = sl
	cfg := registry.DefaultConfig()
	cfg.NodeID, cfg.Dir, cfg.Genesis, cfg.GenesisPin = n.id, n.dir, n.c.g, n.c.g.Hash()
	cfg.Transport = sl.NewNetworkTransport(3, 5*time.Second, nil)
	cfg.Forwarder = &registry.HTTPForwarder{NodeID: n.id, Certificate: n.cert, View: n.view, Timeout: 5 * time.Second}
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 500*time.Millisecond, time.Second, 400*time.Millisecond
	cfg.ReconcileInterval = 500 * time.Millisecond
	// CommitTimeout stays at its WAN default (100 ms): it bounds how soon
	// an idle follower learns a new commit index.
	r, err := registry.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open %s: %v", n.id, err)
	}
	n.reg.Store(r)
	api, err := registry.NewAPI(registry.APIConfig{Backend: r})
	if err != nil {
		t.Fatal(err)
	}
	n.srv = &http.Server{Handler: api, TLSConfig: pintls.ServerConfig(n.cert), ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 5 * time.Second}
	go n.srv.ServeTLS(n.apiLn, "", "")
}

func (n *mcNode) stop() {
	if n.srv != nil {
		n.srv.Close()
	}
	if r := n.reg.Swap(nil); r != nil {
		if err := r.Close(); err != nil {
			n.c.t.Errorf("close %s: %v", n.id, err)
		}
	}
}

func (c *mcCluster) stop() {
	for _, n := range c.nodes {
		n.stop()
	}
}

func (c *mcCluster) node(id string) *mcNode {
	for _, n := range c.nodes {
		if n.id == id {
			return n
		}
	}
	c.t.Fatalf("no node %s", id)
	return nil
}

// leader waits until one node leads and every running node names it.
func (c *mcCluster) leader() *mcNode {
	c.t.Helper()
	var leader *mcNode
	waitUntil(c.t, 30*time.Second, "a leader named by every node", func() error {
		leader = nil
		for _, n := range c.nodes {
			if r := n.reg.Load(); r != nil && r.Status().Role == registry.RaftLeader {
				leader = n
			}
		}
		if leader == nil {
			return errors.New("no leader")
		}
		for _, n := range c.nodes {
			if r := n.reg.Load(); r != nil && r.Status().Leader.ID != leader.id {
				return fmt.Errorf("%s names %q", n.id, r.Status().Leader.ID)
			}
		}
		return nil
	})
	return leader
}

func (c *mcCluster) client(n *mcNode) *registry.APIClient {
	c.t.Helper()
	cl, err := registry.NewAPIClient(n.api, n.pin, 10*time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// command signs a command of member m with its governance key (and pop).
func (c *mcCluster) command(typ, m string, args any, propose bool, extra ...*jws.Signer) []byte {
	c.t.Helper()
	cmd, err := trust.NewCommand(c.g.Hash(), protocol.NewUUID(), typ, trust.TimestampOf(time.Now()), m, args)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd.Propose = propose
	data, err := cmd.Sign(append([]*jws.Signer{c.members[m].gov}, extra...)...)
	if err != nil {
		c.t.Fatal(err)
	}
	return data
}

// submitVia submits data through n's API and requires the outcome.
func (c *mcCluster) submitVia(n *mcNode, data []byte, want trust.Outcome) registry.APIResult {
	c.t.Helper()
	var res registry.APIResult
	waitUntil(c.t, 20*time.Second, "submit via "+n.id, func() error {
		var err error
		res, err = c.client(n).Submit(context.Background(), data)
		if r, ok := registry.ProblemResult(err); ok {
			res, err = r, nil
		}
		if errors.Is(err, registry.ErrUnavailable) {
			return err // an election: retry the same command
		}
		if err != nil {
			c.t.Fatalf("submit via %s: %v", n.id, err)
		}
		return nil
	})
	if res.Outcome != want {
		c.t.Fatalf("submit via %s: %s %s %s, want %s", n.id, res.Outcome, res.Reason, res.Detail, want)
	}
	return res
}

// TestMTLSCluster: five registry nodes (three voters, two non-voters) on the
// pinned mTLS transport; writes through a follower's API are forwarded to
// the leader; a key revocation reaches every node's trust view (the time is
// measured); a registered node joins over HTTPS with its pinned key, a
// wrong key is refused with its reason.
func TestMTLSCluster(t *testing.T) {
	c := newMCCluster(t, 3, "TJ", "TR", "KZ", "UZ", "KG")
	leader := c.leader()
	var follower *mcNode
	for _, n := range c.nodes[:3] {
		if n != leader {
			follower = n
			break
		}
	}
	ctx := context.Background()

	t.Run("ok/write-via-follower-is-forwarded", func(t *testing.T) {
		res := c.submitVia(follower, c.command(trust.CmdSchemaPublish, "TJ", trust.SchemaPublishArgs{Version: "1.1.0", SHA256: fmt.Sprintf("%x", sha256.Sum256([]byte("schemas 1.1.0")))}, true), trust.OutcomeProposed)
		if res.Approvals != 1 || res.Required != 4 { // ⌈5·2/3⌉
			t.Fatalf("%+v", res)
		}
		// A second member approves through a non-voter, once it has the
		// proposal.
		uz := c.node("UZ-N1")
		waitUntil(t, 10*time.Second, "UZ-N1 applies the proposal", func() error {
			if i := uz.reg.Load().State().AppliedIndex(); i < res.Index {
				return fmt.Errorf("at %d, want %d", i, res.Index)
			}
			return nil
		})
		p, _, err := c.client(uz).Proposal(ctx, res.Proposal)
		if err != nil {
			t.Fatal(err)
		}
		res2 := c.submitVia(c.node("UZ-N1"), c.command(trust.CmdProposalApprove, "TR", trust.ApproveArgs{Proposal: p.ID, PayloadSHA256: p.PayloadSHA256}, false), trust.OutcomeApproved)
		if res2.Approvals != 2 || res2.Required != 4 {
			t.Fatalf("%+v", res2)
		}
	})
	t.Run("ok/status-and-headers-on-every-node", func(t *testing.T) {
		for _, n := range c.nodes {
			st, err := c.client(n).Status(ctx)
			if err != nil || st.NodeID != n.id || st.GenesisSHA256 != c.g.Hash() || st.Leader == nil || st.Leader.ID != leader.id || st.Leader.APIURL != leader.api {
				t.Fatalf("%s: %+v %v", n.id, st, err)
			}
		}
	})

	// > The figure: from the submission of a key.revoke (compromised) to
	// > the moment every node's trust view refuses the key.
	var times []time.Duration
	t.Run("ok/revocation-reaches-every-trust-view", func(t *testing.T) {
		for i, m := range []string{"TJ", "TR", "KZ", "UZ", "KG"} {
			kid := c.members[m].sig.Kid()
			via := c.nodes[(i+1)%len(c.nodes)] // leader and followers, voters and not
			data := c.command(trust.CmdKeyRevoke, m, trust.KeyRevokeArgs{Kid: kid, Reason: trust.RevokeCompromised,
				CompromisedSince: trust.TimestampOf(time.Now().Add(-time.Minute))}, false)
			start := time.Now()
			done := make(chan registry.APIResult, 1)
			go func() {
				res, _ := c.client(via).Submit(ctx, data)
				done <- res
			}()
			waitUntil(t, 10*time.Second, "revocation of "+kid+" everywhere", func() error {
				for _, n := range c.nodes {
					if n.view().ValidAt(kid, time.Now()) == nil {
						return fmt.Errorf("%s still accepts %s", n.id, kid)
					}
				}
				return nil
			})
			elapsed := time.Since(start)
			times = append(times, elapsed)
			if res := <-done; res.Outcome != trust.OutcomeAccepted {
				t.Fatalf("%+v", res)
			}
			t.Logf("revocation of %s submitted via %s: in every trust view after %s", kid, via.id, elapsed.Round(time.Millisecond))
		}
		slices.Sort(times)
		t.Logf("revocation propagation to all %d nodes: min %s, median %s, max %s", len(c.nodes),
			times[0].Round(time.Millisecond), times[len(times)/2].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
		if times[len(times)/2] > time.Second {
			t.Errorf("median revocation propagation %s, goal < 1 s", times[len(times)/2])
		}
	})

	joiner := mcNewNode(t, "TJ-N2", "TJ")
	joiner.c = c
	t.Run("ok/register-then-join-over-https", func(t *testing.T) {
		c.submitVia(follower, c.command(trust.CmdNodeRegister, "TJ", trust.NodeRegisterArgs{Node: trust.NodeSpec{
			ID: joiner.id, RaftAddress: joiner.raft, APIURL: joiner.api, TLSSPKISHA256: joiner.pin, DesiredRole: trust.RoleNonvoter}}, false), trust.OutcomeAccepted)
		c.nodes = append(c.nodes, joiner)
		joiner.start()

		// A wrong key first: refused with its reason, nothing changes.
		bad := &registry.JoinClient{NodeID: joiner.id, Certificate: mustNodeKey(t, joiner.id), View: joiner.view, Timeout: 5 * time.Second}
		_, err := bad.Join(ctx, follower.api)
		var ae *protocol.ProblemError
		if !errors.As(err, &ae) || ae.Problem.Reason != string(trust.ReasonNodePinMismatch) {
			t.Fatalf("join with another key: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
		if st := joiner.reg.Load().Status(); st.AppliedIndex != 0 || st.Suffrage != "" {
			t.Fatalf("a refused join reached the joiner: %+v", st)
		}

		jc := &registry.JoinClient{NodeID: joiner.id, Certificate: joiner.cert, View: joiner.view, Timeout: 5 * time.Second}
		j, err := jc.Join(ctx, follower.api) // the follower names the leader
		if err != nil {
			t.Fatal(err)
		}
		if j.Suffrage != trust.RoleNonvoter {
			t.Fatalf("%+v", j)
		}
		want := leader.reg.Load().State().AppliedIndex()
		waitUntil(t, 20*time.Second, "the joiner catches up over mTLS", func() error {
			st := joiner.reg.Load().Status()
			if st.AppliedIndex < want || st.Suffrage != trust.RoleNonvoter {
				return fmt.Errorf("joiner at %d (%q), leader at %d", st.AppliedIndex, st.Suffrage, want)
			}
			return nil
		})
		for _, m := range []string{"TJ", "KG"} {
			if joiner.view().ValidAt(c.members[m].sig.Kid(), time.Now()) == nil {
				t.Fatalf("the joiner does not know the revocation of %s's key", m)
			}
		}
	})
	t.Run("ok/bundle-from-any-node-replays-to-the-same-head", func(t *testing.T) {
		raw, err := c.client(joiner).Bundle(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, err := trust.ParseBundle(raw)
		if err != nil {
			t.Fatal(err)
		}
		s, _, err := trust.Replay(b, c.g.Hash())
		if err != nil {
			t.Fatal(err)
		}
		if s.ChainHead() != b.ChainHead || trust.NewView(s).ValidAt(c.members["UZ"].sig.Kid(), time.Now()) == nil {
			t.Fatal("the replayed bundle does not hold the revocations")
		}
	})
}
