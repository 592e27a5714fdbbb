package devnet_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node"
	"github.com/ecrn/crvsx/node/devnet"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLaterMemberJoins: a member generated with Options.Later is not in
// the genesis; AdmissionEntries admit it and register its node, which,
// started with its generated configuration, joins the registry as a
// non-voter through registry.join.
func TestLaterMemberJoins(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	n, err := devnet.Open(dir, devnet.Options{Fast: true, Later: []string{"UZ"}}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"TJ", "TR", "KZ"}, n.Countries(), "a later member is not started with the network")
	genesis, err := os.ReadFile(filepath.Join(dir, "genesis.json"))
	require.NoError(t, err)
	assert.NotContains(t, string(genesis), `"UZ"`, "a later member is not in the genesis")
	require.NoError(t, n.Start(ctx))
	defer n.Stop()

	_, err = devnet.AdmissionEntries(dir, "TR")
	require.ErrorContains(t, err, "not a member this network admits later")
	entries, err := devnet.AdmissionEntries(dir, "UZ")
	require.NoError(t, err)
	require.Len(t, entries, 2)
	reg := n.Members["TR"].Node().Registry()
	for i, e := range entries {
		res, err := reg.Submit(ctx, e)
		require.NoError(t, err)
		require.Equal(t, trust.OutcomeAccepted, res.Outcome, "entry %d: %+v", i, res)
	}

	cfg, err := node.LoadConfig(filepath.Join(dir, "UZ", "node.json"))
	require.NoError(t, err)
	require.Len(t, cfg.Registry.Join, 3, "the later node asks the founders to join")
	uz, err := node.New(ctx, cfg, nil)
	require.NoError(t, err)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- uz.Run(rctx) }()
	defer func() { stop(); <-done }()
	for {
		st := uz.Registry().Status()
		if uz.Registry().Fresh() == nil && st.Suffrage == trust.RoleNonvoter {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("UZ's node never joined as a non-voter: %+v", st)
		case <-time.After(100 * time.Millisecond):
		}
	}
	assert.True(t, uz.Registry().View().MemberActive("UZ"))
}
