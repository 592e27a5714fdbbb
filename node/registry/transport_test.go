package registry_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

// tlsNode is a node of a test network with a real TLS key and a loopback
// listener at its registered raft address.
type tlsNode struct {
	id   string
	cert tls.Certificate
	pin  string
	ln   net.Listener // at the registered raftAddress
	api  net.Listener // at the registered apiUrl
	spec trust.NodeSpec
}

// tlsNet is a registrytest network whose members each registered one node
// with a real TLS key and a loopback raft address; view is the published
// trust view the transports read.
type tlsNet struct {
	t     testing.TB
	n     *trusttest.Network
	s     *trust.State
	view  atomic.Pointer[trust.View]
	nodes map[string]*tlsNode // by member
}

func newTLSNet(t testing.TB, members ...string) *tlsNet {
	t.Helper()
	tn := &tlsNet{t: t, n: trusttest.New(t, members...), nodes: map[string]*tlsNode{}}
	tn.s = tn.n.State()
	for _, m := range members {
		tn.nodes[m] = tn.register(m, "9")
		tn.setRole(tn.nodes[m].id, trust.RoleVoter)
	}
	tn.publish()
	return tn
}

func (tn *tlsNet) publish() { tn.view.Store(trust.NewView(tn.s)) }

// register generates a key and a listener for node "<m>-N<suffix>" and
// applies its node.register (self) command.
func (tn *tlsNet) register(m, suffix string) *tlsNode {
	tn.t.Helper()
	id := m + "-N" + suffix
	cert := mustNodeKey(tn.t, id)
	ln, api := mustListen(tn.t), mustListen(tn.t)
	pin, err := pintls.Pin(cert)
	if err != nil {
		tn.t.Fatal(err)
	}
	spec := trust.NodeSpec{ID: id, RaftAddress: ln.Addr().String(), APIURL: "https://" + api.Addr().String(), TLSSPKISHA256: pin, DesiredRole: trust.RoleNonvoter}
	tn.apply(tn.n.Sign(tn.n.Command(trust.CmdNodeRegister, m, trust.NodeRegisterArgs{Node: spec}), tn.n.Member(m).Gov))
	return &tlsNode{id: id, cert: cert, pin: pin, ln: ln, api: api, spec: spec}
}

// setRole applies node.set-role, signed by the first two members (a
// network threshold of 2 in a test network of three).
func (tn *tlsNet) setRole(id, role string) {
	tn.t.Helper()
	gov := []string{tn.n.Members[0].ID, tn.n.Members[1].ID}
	tn.apply(tn.n.Sign(tn.n.Command(trust.CmdNodeSetRole, gov[0], trust.NodeSetRoleArgs{Node: id, Role: role}), tn.n.Gov(gov...)...))
}

// apply applies data, requires acceptance and publishes the new view.
func (tn *tlsNet) apply(data []byte) {
	tn.t.Helper()
	tn.s = tn.n.MustApply(tn.s, data, trust.OutcomeAccepted)
	tn.publish()
}

// stream starts a StreamLayer on nd's listener; tests call Revalidate
// themselves unless tune turns the watcher on.
func (tn *tlsNet) stream(nd *tlsNode, cert tls.Certificate, tune ...func(*registry.StreamConfig)) *registry.StreamLayer {
	tn.t.Helper()
	cfg := registry.StreamConfig{
		Certificate: cert, View: tn.view.Load, GenesisHash: tn.n.Genesis.Hash(),
		HandshakeTimeout: 3 * time.Second, RevalidateInterval: -1, Logger: testLogger(tn.t),
	}
	for _, f := range tune {
		f(&cfg)
	}
	sl, err := registry.NewStreamLayer(nd.ln, cfg)
	if err != nil {
		tn.t.Fatal(err)
	}
	tn.t.Cleanup(func() { sl.Close() })
	return sl
}

func mustListen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func mustNodeKey(t testing.TB, id string) tls.Certificate {
	t.Helper()
	cert, err := pintls.Generate(id, "ES256")
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

// acceptor feeds the connections a StreamLayer accepts into a channel,
// so that tests can both expect one and assert that none arrives.
type acceptor chan net.Conn

func accepting(t *testing.T, sl *registry.StreamLayer) acceptor {
	ch := make(acceptor, 16)
	go func() {
		for {
			c, err := sl.Accept()
			if err != nil {
				return
			}
			ch <- c
		}
	}()
	return ch
}

// echoOnce takes the next accepted connection and echoes five bytes back.
func (a acceptor) echoOnce() <-chan error {
	done := make(chan error, 1)
	go func() {
		var c net.Conn
		select {
		case c = <-a:
		case <-time.After(3 * time.Second):
			done <- errors.New("no connection accepted")
			return
		}
		defer c.Close()
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil {
			done <- err
			return
		}
		_, err := c.Write(buf)
		done <- err
	}()
	return done
}

// noAccept asserts that no connection is accepted for a while: a refused
// handshake never reaches raft.
func (a acceptor) noAccept(t *testing.T) {
	t.Helper()
	select {
	case c := <-a:
		c.Close()
		t.Fatal("a refused peer reached Accept")
	case <-time.After(300 * time.Millisecond):
	}
}

func ping(t *testing.T, c net.Conn) {
	t.Helper()
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("echo: %q %v", buf, err)
	}
}

func TestTransportPinnedPeers(t *testing.T) {
	tn := newTLSNet(t, "TJ", "TR", "KZ")
	tj, tr := tn.nodes["TJ"], tn.nodes["TR"]
	a := tn.stream(tj, tj.cert)
	b := accepting(t, tn.stream(tr, tr.cert))

	t.Run("ok/pinned-peers-connect", func(t *testing.T) {
		done := b.echoOnce()
		c, err := a.Dial(raft.ServerAddress(tr.spec.RaftAddress), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		ping(t, c)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ok/addr-is-advertised", func(t *testing.T) {
		if a.Addr().String() != tj.spec.RaftAddress {
			t.Fatalf("Addr %s, want %s", a.Addr(), tj.spec.RaftAddress)
		}
	})
}

// TestTransportRefusesOtherKey: a node presenting a key other than its pin
// is refused by the side it dials and by the side that dials it.
func TestTransportRefusesOtherKey(t *testing.T) {
	tn := newTLSNet(t, "TJ", "TR", "KZ")
	tj, tr := tn.nodes["TJ"], tn.nodes["TR"]
	legit := tn.stream(tr, tr.cert)
	legitIn := accepting(t, legit)
	rogueKey := mustNodeKey(t, tj.id)
	rogue := tn.stream(tj, rogueKey) // TJ's address, another key
	rogueIn := accepting(t, rogue)

	t.Run("fail/inbound-peer-with-other-key", func(t *testing.T) {
		_, err := rogue.Dial(raft.ServerAddress(tr.spec.RaftAddress), time.Second)
		if !errors.Is(err, pintls.ErrPinMismatch) {
			t.Fatalf("the rogue dialer: %v", err)
		}
		legitIn.noAccept(t)
	})
	t.Run("fail/outbound-to-peer-with-other-key", func(t *testing.T) {
		_, err := legit.Dial(raft.ServerAddress(tj.spec.RaftAddress), time.Second)
		if !errors.Is(err, pintls.ErrPinMismatch) || trust.ReasonOf(err) != trust.ReasonNodePinMismatch {
			t.Fatalf("dial a peer with another key: %v", err)
		}
		rogueIn.noAccept(t)
	})
	t.Run("fail/pinned-key-at-another-address", func(t *testing.T) {
		// KZ's genuine key answering at TJ's registered address.
		kz := tn.nodes["KZ"]
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		accepting(t, tn.stream(&tlsNode{ln: ln}, kz.cert))
		_, err = legit.Dial(raft.ServerAddress(ln.Addr().String()), time.Second)
		if trust.ReasonOf(err) != trust.ReasonNodePinMismatch {
			t.Fatalf("dial: %v", err)
		}
	})
	t.Run("fail/no-client-certificate", func(t *testing.T) {
		c, err := tls.Dial("tcp", tr.spec.RaftAddress, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13,
			NextProtos: []string{"crvsx-raft/1+" + tn.n.Genesis.Hash()}})
		if err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			_, err = c.Read(make([]byte, 1)) // TLS 1.3: the server's refusal arrives after the client's Finished
			c.Close()
		}
		if err == nil {
			t.Fatal("a client without certificate was served")
		}
		legitIn.noAccept(t)
	})
	t.Run("fail/other-network", func(t *testing.T) {
		other := newTLSNet(t, "TJ", "TR")
		// The same TLS key pinned in another network does not speak to us.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		o := other.stream(&tlsNode{ln: ln}, other.nodes["TJ"].cert)
		_, err = o.Dial(raft.ServerAddress(tr.spec.RaftAddress), time.Second)
		if err == nil {
			t.Fatal("a node of another network got a connection")
		}
		legitIn.noAccept(t)
	})
}

// TestTransportFollowsTheView: a key changed or a node removed in the trust
// view is refused on the next connection, and Revalidate closes the open
// ones.
func TestTransportFollowsTheView(t *testing.T) {
	tn := newTLSNet(t, "TJ", "TR", "KZ")
	tj, tr, kz := tn.nodes["TJ"], tn.nodes["TR"], tn.nodes["KZ"]
	a := tn.stream(tj, tj.cert)
	b := tn.stream(tr, tr.cert)
	bIn := accepting(t, b)
	c := tn.stream(kz, kz.cert)
	cIn := accepting(t, c)

	done := bIn.echoOnce()
	open, err := a.Dial(raft.ServerAddress(tr.spec.RaftAddress), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ping(t, open)
	<-done

	// Open a long-lived connection TJ → KZ, then change TJ's key.
	live, err := a.Dial(raft.ServerAddress(kz.spec.RaftAddress), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	inbound := <-cIn

	newKey := mustNodeKey(t, tj.id)
	newPin, _ := pintls.Pin(newKey)
	spec := tj.spec
	spec.TLSSPKISHA256 = newPin
	tn.apply(tn.n.Sign(tn.n.Command(trust.CmdNodeRegister, "TJ", trust.NodeRegisterArgs{Node: spec}), tn.n.Member("TJ").Gov))

	t.Run("fail/old-key-after-change", func(t *testing.T) {
		if _, err := a.Dial(raft.ServerAddress(tr.spec.RaftAddress), time.Second); err == nil {
			t.Fatal("the replaced key still connects")
		}
		bIn.noAccept(t)
	})
	t.Run("ok/revalidate-closes-open-connections", func(t *testing.T) {
		if n := c.Revalidate(); n != 1 {
			t.Fatalf("Revalidate closed %d connections, want 1", n)
		}
		inbound.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := inbound.Read(make([]byte, 1)); err == nil {
			t.Fatal("the connection of a replaced key is still open")
		}
		if n := b.Revalidate(); n != 0 {
			t.Fatalf("TR has no connection from TJ left open, closed %d", n)
		}
	})
	t.Run("ok/new-key-connects", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a2 := tn.stream(&tlsNode{ln: ln}, newKey)
		done := bIn.echoOnce()
		cn, err := a2.Dial(raft.ServerAddress(tr.spec.RaftAddress), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		ping(t, cn)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("fail/removed-node", func(t *testing.T) {
		tn.apply(tn.n.Sign(tn.n.Command(trust.CmdNodeRemove, "KZ", trust.NodeRemoveArgs{Node: kz.id}), tn.n.Member("KZ").Gov))
		if _, err := b.Dial(raft.ServerAddress(kz.spec.RaftAddress), time.Second); trust.ReasonOf(err) != trust.ReasonNodePinMismatch {
			t.Fatalf("dial a removed node: %v", err)
		}
		if _, err := c.Dial(raft.ServerAddress(tr.spec.RaftAddress), time.Second); err == nil {
			t.Fatal("a removed node still connects")
		}
	})
	t.Run("fail/suspended-member", func(t *testing.T) {
		tn.n.Advance(time.Minute)
		tn.apply(tn.n.Sign(tn.n.Command(trust.CmdMemberSuspend, "TJ", trust.SuspendArgs{Member: "TR", Reason: "audit"}), tn.n.Gov("TJ", "KZ")...))
		_, err := b.Dial(raft.ServerAddress(tr.spec.RaftAddress), time.Second)
		if err == nil {
			t.Fatal("a node of a suspended member still connects")
		}
	})
}

// TestTransportClosesConnectionsOfRevokedPeers: the layer watches the
// published view and closes a live connection once its peer's member is
// suspended, without anyone calling Revalidate.
func TestTransportClosesConnectionsOfRevokedPeers(t *testing.T) {
	tn := newTLSNet(t, "TJ", "TR", "KZ")
	tj, tr := tn.nodes["TJ"], tn.nodes["TR"]
	watch := func(c *registry.StreamConfig) { c.RevalidateInterval = 20 * time.Millisecond }
	a := tn.stream(tj, tj.cert, watch)
	bIn := accepting(t, tn.stream(tr, tr.cert, watch))
	out, err := a.Dial(raft.ServerAddress(tr.spec.RaftAddress), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	in := <-bIn
	tn.n.Advance(time.Minute)
	tn.apply(tn.n.Sign(tn.n.Command(trust.CmdMemberSuspend, "TR", trust.SuspendArgs{Member: "TJ", Reason: "audit"}), tn.n.Gov("TR", "KZ")...))
	for name, c := range map[string]net.Conn{"inbound at TR": in, "outbound at TJ": out} {
		// Closed within a few revalidation intervals; the bound only
		// decides when to call it a failure on a loaded machine.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s: the connection with a suspended member's node stayed open: %v", name, err)
		}
	}
}

// TestTransportVotersOnlyInbound: only nodes the registry names voters
// open raft connections; a registered non-voter is refused inbound, and is
// dialled by voters as usual.
func TestTransportVotersOnlyInbound(t *testing.T) {
	tn := newTLSNet(t, "TJ", "TR", "KZ")
	tr := tn.nodes["TR"]
	nv := tn.register("KZ", "5") // a non-voter
	trLayer := tn.stream(tr, tr.cert)
	trIn := accepting(t, trLayer)
	nvLayer := tn.stream(nv, nv.cert)
	nvIn := accepting(t, nvLayer)

	t.Run("fail/inbound-from-nonvoter", func(t *testing.T) {
		if _, err := nvLayer.Dial(raft.ServerAddress(tr.spec.RaftAddress), time.Second); !errors.Is(err, pintls.ErrPinMismatch) {
			t.Fatalf("a non-voter opened a raft connection: %v", err)
		}
		trIn.noAccept(t)
	})
	t.Run("ok/voter-dials-nonvoter", func(t *testing.T) {
		trLayer2 := tn.stream(&tlsNode{ln: mustListen(t)}, tr.cert)
		done := nvIn.echoOnce()
		c, err := trLayer2.Dial(raft.ServerAddress(nv.spec.RaftAddress), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		ping(t, c)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ok/demoted-voter-inbound-closed", func(t *testing.T) {
		tj := tn.nodes["TJ"]
		c, err := tn.stream(tj, tj.cert).Dial(raft.ServerAddress(tr.spec.RaftAddress), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		in := <-trIn
		tn.setRole(tj.id, trust.RoleNonvoter)
		if n := trLayer.Revalidate(); n != 1 {
			t.Fatalf("Revalidate closed %d connections, want the demoted node's inbound one", n)
		}
		in.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := in.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the demoted node's connection is open: %v", err)
		}
	})
}

// TestNetworkTransportRPC runs a raft RPC over the pinned transport.
func TestNetworkTransportRPC(t *testing.T) {
	tn := newTLSNet(t, "TJ", "TR", "KZ")
	tj, tr := tn.nodes["TJ"], tn.nodes["TR"]
	ta := tn.stream(tj, tj.cert).NewNetworkTransport(2, 2*time.Second, nil)
	tb := tn.stream(tr, tr.cert).NewNetworkTransport(2, 2*time.Second, nil)
	defer ta.Close()
	defer tb.Close()
	go func() {
		rpc := <-tb.Consumer()
		rpc.Respond(&raft.RequestVoteResponse{Term: 7, Granted: true}, nil)
	}()
	var resp raft.RequestVoteResponse
	req := &raft.RequestVoteRequest{RPCHeader: raft.RPCHeader{ID: []byte(tj.id), Addr: []byte(tj.spec.RaftAddress)}, Term: 7}
	if err := ta.RequestVote(raft.ServerID(tr.id), raft.ServerAddress(tr.spec.RaftAddress), req, &resp); err != nil {
		t.Fatal(err)
	}
	if !resp.Granted || resp.Term != 7 {
		t.Fatalf("response %+v", resp)
	}
}
