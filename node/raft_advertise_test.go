package node

import (
	"testing"

	"github.com/ecrn/crvsx/protocol/trust/trusttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRaftAdvertise: a node whose Raft listener binds every interface (a
// container, a pod) gives the other replicas the address the registry
// holds for it, never 0.0.0.0.
func TestRaftAdvertise(t *testing.T) {
	g := trusttest.New(t, "TJ", "TR", "KZ").Genesis // TJ-N1 at TJ-N1.raft.test:7001
	for _, tc := range []struct {
		name, node, raft, advertise, want, err string
	}{
		{"configured-address-wins", "TJ-N1", "0.0.0.0:7000", "tj.example:7000", "tj.example:7000", ""},
		{"one-interface-is-its-own-address", "TJ-N1", "10.0.0.5:7000", "", "", ""},
		{"every-interface-founder-uses-the-genesis", "TJ-N1", "0.0.0.0:7000", "", "TJ-N1.raft.test:7001", ""},
		{"every-interface-ipv6", "TR-N1", "[::]:7000", "", "TR-N1.raft.test:7001", ""},
		{"every-interface-joining-node-must-say", "UZ-N1", ":7000", "", "", "set listen.raftAdvertise"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.NodeID, cfg.Listen.Raft, cfg.Listen.RaftAdvertise = tc.node, tc.raft, tc.advertise
			got, err := raftAdvertise(cfg, g)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
