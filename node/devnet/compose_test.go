package devnet_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecrn/crvsx/node"
	"github.com/ecrn/crvsx/node/devnet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExportCompose checks the files of a compose network without Docker
// (cmd/crvsx's crvsx_docker tests run them): every node on its own address
// of the subnet, the later member outside the genesis and joining, the
// host's ports recorded.
func TestExportCompose(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	mf, err := devnet.ExportCompose(dir, devnet.ComposeOptions{Subnet: "10.77.3.0/24", Image: "crvsx:x", UID: 1000, GID: 1001})
	require.NoError(t, err)
	assert.Equal(t, []string{"TJ", "TR", "KZ"}, mf.Countries)
	assert.Equal(t, []string{"UZ"}, mf.Later)
	y, err := os.ReadFile(filepath.Join(dir, "docker-compose.yml"))
	require.NoError(t, err)
	for i, c := range []string{"TJ", "TR", "KZ", "UZ"} {
		ip := fmt.Sprintf("10.77.3.%d", 10+i)
		cfg, err := node.LoadConfig(filepath.Join(dir, c, "node.json"))
		require.NoError(t, err, c)
		assert.Equal(t, ip+":8443", cfg.Listen.Peer, c)
		assert.Equal(t, ip+":7000", cfg.Listen.Raft, c)
		assert.True(t, cfg.Listen.AllowRemotePlaintext, "local and admin are published on the host's loopback only")
		assert.Contains(t, string(y), "ipv4_address: "+ip)
		p := mf.Published[c]
		for _, a := range []string{p.Local, p.Admin, p.Health, p.Peer} {
			assert.True(t, strings.HasPrefix(a, "127.0.0.1:"), "%s publishes %s beyond loopback", c, a)
			assert.Contains(t, string(y), `"`+a+`:`)
		}
		if c == "UZ" {
			assert.Equal(t, []string{"https://10.77.3.10:8443", "https://10.77.3.11:8443", "https://10.77.3.12:8443"}, cfg.Registry.Join)
		} else {
			assert.Empty(t, cfg.Registry.Join)
		}
	}
	assert.Contains(t, string(y), "subnet: 10.77.3.0/24")
	assert.Contains(t, string(y), `user: "${CRVSX_UID:-1000}:${CRVSX_GID:-1001}"`)
	env, err := os.ReadFile(filepath.Join(dir, ".env"))
	require.NoError(t, err)
	assert.Equal(t, "CRVSX_IMAGE=crvsx:x\nCRVSX_UID=1000\nCRVSX_GID=1001\n", string(env))
	genesis, err := os.ReadFile(filepath.Join(dir, "genesis.json"))
	require.NoError(t, err)
	assert.Contains(t, string(genesis), "https://10.77.3.10:8443")
	assert.NotContains(t, string(genesis), "10.77.3.13", "the later member's node is registered later")

	_, err = devnet.ExportCompose(dir, devnet.ComposeOptions{})
	assert.ErrorContains(t, err, "has a network already")
	for _, bad := range []string{"10.77.3.0/16", "10.77.3.5/24", "fd00::/64", "nonsense"} {
		_, err = devnet.ExportCompose(filepath.Join(t.TempDir(), "n"), devnet.ComposeOptions{Subnet: bad})
		assert.ErrorContains(t, err, "subnet", bad)
	}
}
