package main

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A test-only registry cluster in this process, for the CLI: the genesis
// of a real ceremony, every founder's node on the pinned mTLS transport
// with the registry API on its own TLS listener. The crvsx binary talks to
// it as an operator would. (The "crvsx node" command that runs a node is a
// later issue.)

type onlineNode struct {
	id, url, pin string
	reg          atomic.Pointer[registry.Registry]
}

func startOnlineCluster(t *testing.T, members ...string) (*ceremony, []*onlineNode) {
	t.Helper()
	var raftLns, apiLns []net.Listener
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { ln.Close() })
		return ln
	}
	for range members {
		raftLns, apiLns = append(raftLns, listen()), append(apiLns, listen())
	}
	c := mustCeremonyAt(t, time.Now().Add(-time.Hour), func(i int) (string, string) {
		return raftLns[i].Addr().String(), "https://" + apiLns[i].Addr().String()
	}, members...)
	g, err := loadGenesisFiles(c.genesis, c.endorsements)
	require.NoError(t, err)
	genView := trust.NewView(trust.NewState(g))
	var nodes []*onlineNode
	for i, m := range members {
		f := c.founders[m]
		certPEM, err := os.ReadFile(f.tlsCert)
		require.NoError(t, err)
		keyPEM, err := os.ReadFile(f.tlsKey)
		require.NoError(t, err)
		cert, err := pintls.Load(certPEM, keyPEM)
		require.NoError(t, err)
		n := &onlineNode{id: m + "-N1", url: "https://" + apiLns[i].Addr().String()}
		n.pin, _ = pintls.Pin(cert)
		view := func() *trust.View {
			if r := n.reg.Load(); r != nil {
				return r.View()
			}
			return genView
		}
		sl, err := registry.NewStreamLayer(raftLns[i], registry.StreamConfig{Certificate: cert, View: view, GenesisHash: g.Hash()})
		require.NoError(t, err)
		cfg := registry.DefaultConfig()
		cfg.NodeID, cfg.Dir, cfg.Genesis, cfg.GenesisPin = n.id, t.TempDir(), g, c.pin
		cfg.Transport = sl.NewNetworkTransport(3, 5*time.Second, nil)
		cfg.Forwarder = &registry.HTTPForwarder{NodeID: n.id, Certificate: cert, View: view}
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 500*time.Millisecond, time.Second, 400*time.Millisecond
		r, err := registry.Open(context.Background(), cfg)
		require.NoError(t, err)
		n.reg.Store(r)
		api, err := registry.NewAPI(registry.APIConfig{Backend: r})
		require.NoError(t, err)
		srv := &http.Server{Handler: api, TLSConfig: pintls.ServerConfig(cert), ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 5 * time.Second}
		go srv.ServeTLS(apiLns[i], "", "")
		t.Cleanup(func() {
			srv.Close()
			r.Close()
		})
		nodes = append(nodes, n)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		leaders, named, fresh := 0, 0, 0
		for _, n := range nodes {
			st := n.reg.Load().Status()
			if st.Role == registry.RaftLeader {
				leaders++
			}
			if st.Leader.ID != "" {
				named++
			}
			if n.reg.Load().Fresh() == nil {
				fresh++
			}
		}
		if leaders == 1 && named == len(nodes) && fresh == len(nodes) {
			break
		}
		require.True(t, time.Now().Before(deadline), "no leader, or a node never in sync")
		time.Sleep(10 * time.Millisecond)
	}
	return c, nodes
}

// follower returns a node that is not the leader, of a member other than
// KZ (whose suspension the test tries).
func follower(nodes []*onlineNode) *onlineNode {
	for _, n := range nodes {
		if n.reg.Load().Status().Role != registry.RaftLeader && n.id != "KZ-N1" {
			return n
		}
	}
	return nil
}

var proposalRE = regexp.MustCompile(`proposal ([0-9a-f-]{36}) has`)

// TestRegistryOnline runs the operator's commands against a three-node
// cluster through a follower (writes are forwarded to the leader).
func TestRegistryOnline(t *testing.T) {
	c, nodes := startOnlineCluster(t, "TJ", "TR", "KZ")
	tj, tr, kz := c.founders["TJ"], c.founders["TR"], c.founders["KZ"]
	f := follower(nodes)
	node := []string{"--node", f.url, "--node-pin", f.pin}
	reg := func(t *testing.T, args ...string) result {
		t.Helper()
		return run(t, nil, append(append([]string{"registry"}, args...), node...)...)
	}

	t.Run("ok/status", func(t *testing.T) {
		r := reg(t, "status")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, f.id)
		assert.Contains(t, r.stdout, c.pin)
		assert.Contains(t, r.stdout, "fresh")
	})
	t.Run("fail/node-with-another-key", func(t *testing.T) {
		r := run(t, nil, "registry", "status", "--node", f.url, "--node-pin", nodes[0].pin+"x")
		assert.Equal(t, exitUsage, r.code)
		other := nodes[0]
		if other == f {
			other = nodes[1]
		}
		r = run(t, nil, "registry", "status", "--node", f.url, "--node-pin", other.pin)
		assert.Equal(t, exitUnreachable, r.code, "a TLS key that is not the pinned one: the node could not be reached")
		assert.Contains(t, r.stderr, "not the pinned")
		assert.Contains(t, r.stderr, "check --node-pin")
	})
	t.Run("ok/members", func(t *testing.T) {
		r := reg(t, "members")
		require.Equal(t, 0, r.code, r.stderr)
		for _, m := range []string{"TJ", "TR", "KZ"} {
			assert.Contains(t, r.stdout, m+"  active")
		}
	})

	var proposal string
	t.Run("ok/propose-says-how-many-approvals-are-missing", func(t *testing.T) {
		r := reg(t, "propose", "--key", tj.govPriv, "--type", "schema.publish", "--args", `{"version":"1.1.0","sha256":"`+strings.Repeat("ab", 32)+`"}`)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "has 1 of 2 approvals; 1 more needed")
		m := proposalRE.FindStringSubmatch(r.stdout)
		require.NotNil(t, m, r.stdout)
		proposal = m[1]
		r = reg(t, "proposals")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, proposal)
	})
	t.Run("ok/approve-executes-at-threshold", func(t *testing.T) {
		r := reg(t, "approve", "--key", tr.govPriv, proposal)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "accepted: the approval completed proposal "+proposal)
	})
	t.Run("fail/approve-a-proposal-no-longer-open", func(t *testing.T) {
		r := reg(t, "approve", "--key", kz.govPriv, proposal)
		assert.Equal(t, exitInvalid, r.code)
		assert.Contains(t, r.stderr, "no longer open")
	})
	t.Run("fail/unknown-member", func(t *testing.T) {
		r := reg(t, "propose", "--key", tj.govPriv, "--type", "member.suspend", "--args", `{"member":"FR","reason":"x"}`)
		assert.Equal(t, exitInvalid, r.code)
		assert.Contains(t, r.stderr, `unknown member "FR"`)
	})
	t.Run("fail/mistyped-command-type", func(t *testing.T) {
		for _, cmd := range []string{"propose", "submit"} {
			r := reg(t, cmd, "--key", tj.govPriv, "--type", "member.suspnd", "--args", `{"member":"KZ","reason":"x"}`)
			assert.Equal(t, exitUsage, r.code, cmd)
			assert.Contains(t, r.stderr, "unknown command type", cmd)
			assert.Contains(t, r.stderr, "did you mean member.suspend?", cmd)
			assert.NotContains(t, r.stderr, "not a network command", cmd)
		}
		r := reg(t, "propose", "--key", tj.govPriv, "--type", "key.rotate")
		assert.Equal(t, exitUsage, r.code)
		assert.Contains(t, r.stderr, "self command")
	})
	t.Run("fail/threshold-not-met", func(t *testing.T) {
		r := reg(t, "submit", "--key", tj.govPriv, "--type", "member.suspend", "--args", `{"member":"KZ","reason":"audit"}`)
		assert.Equal(t, exitInvalid, r.code)
		assert.Contains(t, r.stderr, "rejected: BELOW_THRESHOLD")
		assert.Contains(t, r.stderr, "propose it")
	})
	t.Run("fail/signing-key-cannot-sign-commands", func(t *testing.T) {
		r := reg(t, "keys", "retire", "--key", tj.sigPriv, tj.sig.Kid())
		assert.Equal(t, exitInvalid, r.code)
		assert.Contains(t, r.stderr, "is a signing key")
	})

	dir := t.TempDir()
	t.Run("ok/keys-add-rotate-retire-revoke", func(t *testing.T) {
		newSig, _ := mustKeys(t, filepath.Join(dir, "a"), "TJ", "ES256")
		r := reg(t, "keys", "add", "--key", tj.govPriv, "--new-key", newSig, "--role", "signing")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "accepted: key.add")

		rotated, _ := mustKeys(t, filepath.Join(dir, "b"), "TJ", "EdDSA")
		r = reg(t, "keys", "rotate", "--key", tj.govPriv, "--old", tj.sig.Kid(), "--new-key", rotated)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "accepted: key.rotate")

		r = reg(t, "keys", "retire", "--key", tj.govPriv, mustSigner(t, newSig).Kid())
		require.Equal(t, 0, r.code, r.stderr)

		r = reg(t, "keys", "revoke", "--key", tr.govPriv, tr.sig.Kid(), "--reason", "compromised",
			"--compromised-since", time.Now().Add(-10*time.Minute).UTC().Format(time.RFC3339))
		require.Equal(t, 0, r.code, r.stderr)

		r = reg(t, "keys", "list", "--member", "TJ")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Regexp(t, regexp.QuoteMeta(tj.sig.Kid())+`\s+signing\s+EdDSA\s+retired`, r.stdout)
		assert.Contains(t, r.stdout, mustSigner(t, rotated).Kid())
		r = reg(t, "keys", "list", "--member", "TR", "--status", "revoked")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "compromised since")
	})
	t.Run("fail/rotate-without-proof-of-possession", func(t *testing.T) {
		r := reg(t, "keys", "rotate", "--key", tj.govPriv, "--old", tj.gov.Kid())
		assert.Equal(t, exitUsage, r.code)
		assert.Contains(t, r.stderr, "proof of possession")
	})
	t.Run("ok/collect-signatures-then-submit", func(t *testing.T) {
		entry := filepath.Join(dir, "suspend.jws")
		r := reg(t, "submit", "--key", tj.govPriv, "--type", "member.suspend", "--args", `{"member":"KZ","reason":"audit"}`, "--out", entry)
		require.Equal(t, 0, r.code, r.stderr)
		r = run(t, nil, "registry", "cosign", "--entry", entry, "--key", tr.govPriv, "--out", entry)
		require.Equal(t, 0, r.code, r.stderr)
		r = run(t, nil, append([]string{"registry", "submit", "--entry", entry}, node...)...)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "accepted: member.suspend")
		// KZ's node is no longer trusted: if it led, there is an election.
		deadline := time.Now().Add(20 * time.Second)
		for {
			r = run(t, nil, append([]string{"registry", "submit", "--entry", entry}, node...)...)
			if r.code != exitInvalid || !strings.Contains(r.stderr, "UNAVAILABLE") || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		assert.Equal(t, 0, r.code, "a retry of the same signed command gets its original result: %s", r.stderr)
		assert.Contains(t, r.stdout, "accepted: member.suspend")
	})
	t.Run("ok/bundle-then-verify-offline", func(t *testing.T) {
		bundle := filepath.Join(dir, "bundle.json")
		r := reg(t, "bundle", "--out", bundle, "--genesis-sha256", c.pin)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stderr, "replayed")
		// TR's key was revoked as compromised 10 minutes ago: a message
		// it signed now is refused, one from an hour ago verifies.
		r = run(t, nil, "verify", "--bundle", bundle, "--genesis-sha256", c.pin, signAt(t, dir, tr, time.Now().Add(-time.Minute)))
		assert.Equal(t, exitInvalid, r.code, r.stderr)
		assert.Contains(t, r.stderr, "KEY_NOT_VALID")
		r = run(t, nil, "verify", "--bundle", bundle, "--genesis-sha256", c.pin, signAt(t, dir, tr, time.Now().Add(-50*time.Minute)))
		assert.Equal(t, 0, r.code, r.stderr)
	})
}
