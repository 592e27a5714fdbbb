package registry_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/trust"
)

// joinNet is a tlsNet whose TR node serves the API as the leader, and a
// KZ node "KZ-N2" registered to join.
func joinNet(t *testing.T) (*tlsNet, *fakeBackend, *tlsNode) {
	t.Helper()
	tn := newTLSNet(t, "TJ", "TR", "KZ")
	b := newFakeBackend(tn)
	apiServer(t, tn.nodes["TR"], newAPI(t, b))
	joiner := tn.register("KZ", "2")
	return tn, b, joiner
}

func joinClient(tn *tlsNet, id string, cert tls.Certificate) *registry.JoinClient {
	return &registry.JoinClient{NodeID: id, Certificate: cert, View: tn.view.Load, Timeout: 5 * time.Second}
}

// TestJoinOverTLS is DESIGN.md §13 end to end on loopback: challenge,
// answer signed with the TLS key and bound to the session, VerifyJoin,
// AddNonvoter — and every refusal with its reason and no change.
func TestJoinOverTLS(t *testing.T) {
	tn, b, joiner := joinNet(t)
	leaderURL := tn.nodes["TR"].spec.APIURL
	ctx := context.Background()

	t.Run("ok/registered-node-joins-as-nonvoter", func(t *testing.T) {
		j, err := joinClient(tn, joiner.id, joiner.cert).Join(ctx, leaderURL)
		if err != nil {
			t.Fatal(err)
		}
		if j.Node != joiner.id || j.RaftAddress != joiner.spec.RaftAddress || j.Suffrage != trust.RoleNonvoter {
			t.Fatalf("%+v", j)
		}
		if len(b.added) != 1 || b.added[0] != joiner.id+"@"+joiner.spec.RaftAddress {
			t.Fatalf("AddNonvoter calls %v", b.added)
		}
	})
	t.Run("ok/ed25519-node-key", func(t *testing.T) {
		cert, err := pintls.Generate("TJ-N3", "EdDSA")
		if err != nil {
			t.Fatal(err)
		}
		pin, _ := pintls.Pin(cert)
		spec := trust.NodeSpec{ID: "TJ-N3", RaftAddress: "127.0.0.1:1", APIURL: "https://127.0.0.1:2", TLSSPKISHA256: pin, DesiredRole: trust.RoleNonvoter}
		b.apply(tn.n.Sign(tn.n.Command(trust.CmdNodeRegister, "TJ", trust.NodeRegisterArgs{Node: spec}), tn.n.Member("TJ").Gov))
		if _, err := joinClient(tn, "TJ-N3", cert).Join(ctx, leaderURL); err != nil {
			t.Fatal(err)
		}
	})

	refused := func(t *testing.T, err error, status int, code protocol.Code, reason trust.Reason) {
		t.Helper()
		var ae *protocol.ProblemError
		if !errors.As(err, &ae) || ae.Status != status || ae.Problem.Code != code || ae.Problem.Reason != string(reason) {
			t.Fatalf("got %v, want %d %s %s", err, status, code, reason)
		}
	}
	noChange := func(t *testing.T, f func()) {
		t.Helper()
		b.set(func(b *fakeBackend) { b.added = nil })
		before := b.State().Hash()
		f()
		if len(b.added) != 0 || b.State().Hash() != before {
			t.Fatalf("a refused join changed something: %v", b.added)
		}
	}

	t.Run("fail/join-tls-key-not-matching-pin", func(t *testing.T) {
		noChange(t, func() {
			_, err := joinClient(tn, joiner.id, mustNodeKey(t, joiner.id)).Join(ctx, leaderURL)
			refused(t, err, 403, protocol.CodeNodePinMismatch, trust.ReasonNodePinMismatch)
		})
	})
	t.Run("fail/join-key-of-another-node", func(t *testing.T) {
		noChange(t, func() {
			_, err := joinClient(tn, joiner.id, tn.nodes["TJ"].cert).Join(ctx, leaderURL)
			refused(t, err, 403, protocol.CodeNodePinMismatch, trust.ReasonNodePinMismatch)
		})
	})
	t.Run("fail/unregistered-node", func(t *testing.T) {
		noChange(t, func() {
			_, err := joinClient(tn, "KZ-N7", joiner.cert).Join(ctx, leaderURL)
			refused(t, err, 422, protocol.CodeRegistryRejected, trust.ReasonNodeUnknown)
		})
	})
	t.Run("fail/stale-leader-fails-closed", func(t *testing.T) {
		b.set(func(b *fakeBackend) { b.stale = true })
		defer b.set(func(b *fakeBackend) { b.stale = false })
		noChange(t, func() {
			_, err := joinClient(tn, joiner.id, joiner.cert).Join(ctx, leaderURL)
			refused(t, err, 503, protocol.CodeRegistryStale, "")
		})
	})
	t.Run("fail/add-nonvoter-refused-by-the-shell", func(t *testing.T) {
		b.set(func(b *fakeBackend) { b.addErr = registry.ErrNodeNotRegistered })
		defer b.set(func(b *fakeBackend) { b.addErr = nil })
		_, err := joinClient(tn, joiner.id, joiner.cert).Join(ctx, leaderURL)
		refused(t, err, 422, protocol.CodeRegistryRejected, trust.ReasonNodeUnknown)
	})

	// The raw exchange, to break it on purpose.
	session := func(t *testing.T, cert tls.Certificate) (*http.Client, *tls.Conn) {
		t.Helper()
		conn, err := tls.Dial("tcp", tn.nodes["TR"].api.Addr().String(), &tls.Config{
			MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		used := false
		hc := &http.Client{Transport: &http.Transport{DialTLSContext: func(context.Context, string, string) (net.Conn, error) {
			if used {
				return nil, errors.New("one session only")
			}
			used = true
			return conn, nil
		}}}
		t.Cleanup(func() { conn.Close() })
		return hc, conn
	}
	post := func(t *testing.T, hc *http.Client, path string, v any) (int, protocol.Problem, []byte) {
		t.Helper()
		body, _ := json.Marshal(v)
		resp, err := hc.Post(leaderURL+path, registry.MediaJSON, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		var p protocol.Problem
		json.Unmarshal(buf.Bytes(), &p)
		return resp.StatusCode, p, buf.Bytes()
	}
	challenge := func(t *testing.T, hc *http.Client) registry.JoinChallenge {
		t.Helper()
		st, _, body := post(t, hc, registry.PathJoinChallenge, registry.JoinChallengeRequest{Node: joiner.id})
		var ch registry.JoinChallenge
		if st != 200 || json.Unmarshal(body, &ch) != nil || ch.GenesisSHA256 != tn.n.Genesis.Hash() {
			t.Fatalf("challenge: %d %s", st, body)
		}
		return ch
	}
	sign := func(t *testing.T, ch registry.JoinChallenge, exporter []byte) string {
		raw, _ := base64.RawURLEncoding.DecodeString(ch.Challenge)
		d := sha256.Sum256(trust.JoinTranscript(tn.n.Genesis.Hash(), joiner.id, raw, exporter))
		sig, err := ecdsa.SignASN1(rand.Reader, joiner.cert.PrivateKey.(*ecdsa.PrivateKey), d[:])
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(sig)
	}
	exporterOf := func(t *testing.T, c *tls.Conn) []byte {
		cs := c.ConnectionState()
		e, err := cs.ExportKeyingMaterial(trust.JoinExporterLabel, nil, trust.JoinExporterBytes)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}

	t.Run("fail/answer-on-another-tls-session", func(t *testing.T) {
		noChange(t, func() {
			hc1, _ := session(t, joiner.cert)
			ch := challenge(t, hc1)
			hc2, c2 := session(t, joiner.cert)
			st, p, body := post(t, hc2, registry.PathJoin, registry.JoinRequest{Node: joiner.id, Challenge: ch.Challenge, Signature: sign(t, ch, exporterOf(t, c2))})
			if st != 422 || p.Reason != string(trust.ReasonJoinChallenge) {
				t.Fatalf("%d %s", st, body)
			}
		})
	})
	t.Run("fail/signature-over-another-session", func(t *testing.T) {
		noChange(t, func() {
			hc, _ := session(t, joiner.cert)
			ch := challenge(t, hc)
			st, p, body := post(t, hc, registry.PathJoin, registry.JoinRequest{Node: joiner.id, Challenge: ch.Challenge, Signature: sign(t, ch, make([]byte, 32))})
			if st != 422 || p.Reason != string(trust.ReasonJoinSignature) {
				t.Fatalf("%d %s", st, body)
			}
		})
	})
	t.Run("fail/challenge-used-twice", func(t *testing.T) {
		hc, c := session(t, joiner.cert)
		ch := challenge(t, hc)
		req := registry.JoinRequest{Node: joiner.id, Challenge: ch.Challenge, Signature: sign(t, ch, exporterOf(t, c))}
		if st, _, body := post(t, hc, registry.PathJoin, req); st != 200 {
			t.Fatalf("%d %s", st, body)
		}
		noChange(t, func() {
			st, p, body := post(t, hc, registry.PathJoin, req)
			if st != 422 || p.Reason != string(trust.ReasonJoinChallenge) {
				t.Fatalf("%d %s", st, body)
			}
		})
	})
	t.Run("fail/no-client-key", func(t *testing.T) {
		conn, err := tls.Dial("tcp", tn.nodes["TR"].api.Addr().String(), &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		hc := &http.Client{Transport: &http.Transport{DialTLSContext: func(context.Context, string, string) (net.Conn, error) { return conn, nil }}}
		st, p, body := post(t, hc, registry.PathJoinChallenge, registry.JoinChallengeRequest{Node: joiner.id})
		if st != 403 || p.Code != protocol.CodeNodePinMismatch {
			t.Fatalf("%d %s", st, body)
		}
	})
	t.Run("fail/server-not-pinned-for-its-url", func(t *testing.T) {
		// The joining node's view says TJ-N9 is at TR's API URL: TR's key
		// is not TJ-N9's, so the client refuses the server.
		view := trust.NewView(b.State())
		c := &registry.JoinClient{NodeID: joiner.id, Certificate: joiner.cert, View: func() *trust.View { return view }, Timeout: time.Second}
		spec := tn.nodes["TJ"].spec
		spec.APIURL = "https://" + strings.Replace(tn.nodes["TR"].api.Addr().String(), "127.0.0.1", "localhost", 1)
		s2, _ := tn.n.Apply(b.State(), tn.n.Sign(tn.n.Command(trust.CmdNodeRegister, "TJ", trust.NodeRegisterArgs{Node: spec}), tn.n.Member("TJ").Gov))
		view = trust.NewView(s2)
		_, err := c.Join(ctx, spec.APIURL)
		if !errors.Is(err, pintls.ErrPinMismatch) {
			t.Fatalf("joined through a server presenting the wrong key: %v", err)
		}
	})
}

// TestJoinRefusesAnotherGenesis: a node whose pinned genesis differs from
// the server's refuses to join, even if the server's TLS key is the one
// its view pins at that URL.
func TestJoinRefusesAnotherGenesis(t *testing.T) {
	tn, b, joiner := joinNet(t)
	server := tn.nodes["TR"]
	// Another network where the same node keys are registered at the same
	// URLs: the TLS checks pass on both sides, the genesis differs.
	other := newTLSNet(t, "TJ", "TR", "KZ")
	for _, x := range []struct {
		m    string
		spec trust.NodeSpec
	}{{"TR", server.spec}, {"KZ", joiner.spec}} {
		spec := x.spec
		spec.ID = other.nodes[x.m].id
		if x.m == "KZ" {
			spec.ID = joiner.id
		}
		spec.RaftAddress = mustListen(t).Addr().String()
		if x.m == "TR" {
			spec.TLSSPKISHA256 = server.pin
		}
		other.apply(other.n.Sign(other.n.Command(trust.CmdNodeRegister, x.m, trust.NodeRegisterArgs{Node: spec}), other.n.Member(x.m).Gov))
	}
	b.set(func(b *fakeBackend) { b.added = nil })
	_, err := joinClient(other, joiner.id, joiner.cert).Join(context.Background(), server.spec.APIURL)
	if !errors.Is(err, trust.ErrGenesisPin) {
		t.Fatalf("joined a network with another genesis: %v", err)
	}
	if len(b.added) != 0 {
		t.Fatal("the server added a node of another network")
	}
}

// TestJoinFollowsTheLeader: a follower answers "not the leader" with the
// leader's API URL and the client follows it.
func TestJoinFollowsTheLeader(t *testing.T) {
	tn, leaderB, joiner := joinNet(t)
	follower := newFakeBackend(tn)
	follower.role = registry.RaftFollower
	follower.leader = registry.Leader{ID: "TR-N9", Address: tn.nodes["TR"].spec.RaftAddress}
	apiServer(t, tn.nodes["TJ"], newAPI(t, follower))
	j, err := joinClient(tn, joiner.id, joiner.cert).Join(context.Background(), tn.nodes["TJ"].spec.APIURL)
	if err != nil {
		t.Fatal(err)
	}
	if j.Node != joiner.id || len(leaderB.added) != 1 || len(follower.added) != 0 {
		t.Fatalf("leader added %v, follower %v", leaderB.added, follower.added)
	}
}
