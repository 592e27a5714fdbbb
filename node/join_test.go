package node_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNewNodeJoinsTheRegistry: a node that is not in the genesis — a second
// node of Tajikistan, registered by TJ's governance key — starts with
// registry.join naming TJ's founding node, joins the registry cluster as a
// non-voter over pinned mTLS, catches up, and then serves: its /readyz is
// fresh and it knows every member.
func TestNewNodeJoinsTheRegistry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	net0 := startNet(t, nil)
	tj := net0.Members["TJ"]

	// The new node's identity, files and ports.
	const id = "TJ-DUSHANBE-CRVS"
	dir := t.TempDir()
	cert, err := pintls.Generate(id, "ES256")
	require.NoError(t, err)
	certPEM, keyPEM, err := pintls.Encode(cert)
	require.NoError(t, err)
	pin, err := pintls.Pin(cert)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.crt"), certPEM, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.key"), keyPEM, 0o600))
	// Five free loopback ports, reserved together and released before the
	// node binds them.
	ports := make([]string, 5)
	var held []net.Listener
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ports[i] = l.Addr().String()
		held = append(held, l)
	}
	for _, l := range held {
		l.Close()
	}

	// TJ registers it (a member's own command: its governance key alone).
	now := trust.TimestampOf(time.Now())
	cmd, err := trust.NewCommand(net0.Manifest.GenesisSHA256, "6f1c2b7e-3d4a-4b5c-8d6e-7f8091a2b3c4", trust.CmdNodeRegister, now, "TJ",
		trust.NodeRegisterArgs{Node: trust.NodeSpec{ID: id, RaftAddress: ports[4], APIURL: "https://" + ports[0], TLSSPKISHA256: pin, DesiredRole: trust.RoleNonvoter}})
	require.NoError(t, err)
	signed, err := cmd.Sign(tj.Gov)
	require.NoError(t, err)
	res, err := tj.Node().Registry().Submit(ctx, signed)
	require.NoError(t, err)
	require.NoError(t, res.Err())

	// Its configuration: TJ's, with its own identity, data and ports.
	cfg := tj.Config
	cfg.NodeID, cfg.DataDir = id, filepath.Join(dir, "data")
	cfg.Keys.TLSCert, cfg.Keys.TLSKey = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	cfg.Registry.Join = []string{tj.PeerURL()}
	cfg.Listen.Peer, cfg.Listen.Local, cfg.Listen.Admin, cfg.Listen.Health, cfg.Listen.Raft = ports[0], ports[1], ports[2], ports[3], ports[4]
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	var back node.Config
	require.NoError(t, json.Unmarshal(b, &back), "the configuration round-trips")
	require.NoError(t, back.Validate())

	n, err := startWhenPortsFree(ctx, t, cfg)
	require.NoError(t, err)
	done := make(chan error, 1)
	rctx, stop := context.WithCancel(ctx)
	go func() { done <- n.Run(rctx) }()
	defer func() { stop(); <-done }()

	want := tj.Node().Registry().State().AppliedIndex()
	require.Eventually(t, func() bool {
		st := n.Registry().Status()
		return st.Suffrage == trust.RoleNonvoter && st.AppliedIndex >= want
	}, 60*time.Second, 50*time.Millisecond, "the new node joins and catches up")
	_, ok := n.Registry().State().Member("KZ")
	assert.True(t, ok, "it knows the other members")
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + cfg.Listen.Health + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "its registry replica is fresh")

	// Messages for Tajikistan still go to its first-registered node.
	tr := client(net0.Members["TR"])
	sub, err := tr.Submit(ctx, template(t, "birth-tajik-child-in-istanbul.json"), nil, "")
	require.NoError(t, err)
	require.Len(t, sub.Deliveries, 1)
	assert.Equal(t, tj.NodeID, sub.Deliveries[0].RecipientNodeID)
	waitDelivered(t, tr, sub.ID)
}

// startWhenPortsFree starts a node, retrying briefly in case another
// process took one of the released ports for a moment.
func startWhenPortsFree(ctx context.Context, t *testing.T, cfg node.Config) (*node.Node, error) {
	t.Helper()
	var lastErr error
	for range 50 {
		n, err := node.New(ctx, cfg, nil)
		if err == nil {
			return n, nil
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	return nil, lastErr
}
