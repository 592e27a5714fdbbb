package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validConfig() Config {
	c := DefaultConfig()
	c.NodeID, c.Member = "TJ-MOJ-CRVS", "TJ"
	c.Keys = Keys{SigningKey: "k.jwk", TLSCert: "tls.crt", TLSKey: "tls.key"}
	c.Registry = Registry{Genesis: "genesis.json", Endorsements: "endorsements.txt", GenesisSHA256: strings.Repeat("ab", 32)}
	c.Local.TokensFile = "tokens"
	c.Admin.TokensFile = "admin-tokens"
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(c *Config)
		field string
	}{
		{"ok/defaults-with-identity", func(c *Config) {}, ""},
		{"fail/node-id-lower-case", func(c *Config) { c.NodeID = "tj-moj" }, "nodeId"},
		{"ok/records-embedded", func(c *Config) { c.Records.Backend = "embedded" }, ""},
		{"ok/records-http", func(c *Config) {
			c.Records = Records{Backend: "http", URL: "https://crvs.example.tj/records/match", TokenFile: "records.token"}
		}, ""},
		{"ok/records-http-loopback-plain", func(c *Config) {
			c.Records = Records{Backend: "http", URL: "http://127.0.0.1:9000/match", TokenFile: "records.token"}
		}, ""},
		{"fail/records-unknown-backend", func(c *Config) { c.Records.Backend = "ldap" }, "records.backend"},
		{"fail/records-http-without-token", func(c *Config) { c.Records = Records{Backend: "http", URL: "https://x.example/m"} }, "records.tokenFile"},
		{"fail/records-http-plain-remote", func(c *Config) {
			c.Records = Records{Backend: "http", URL: "http://x.example/m", TokenFile: "t"}
		}, "records.url"},
		{"fail/records-embedded-with-url", func(c *Config) { c.Records.URL = "https://x.example/m" }, "records"},
		{"fail/node-of-other-member", func(c *Config) { c.NodeID = "TR-NVI-CRVS" }, "nodeId"},
		{"fail/member-not-iso", func(c *Config) { c.Member = "TJK" }, "member"},
		{"fail/listen-not-host-port", func(c *Config) { c.Listen.Peer = "8443" }, "listen.peer"},
		{"fail/listen-duplicate", func(c *Config) { c.Listen.Local = c.Listen.Peer }, "listen."},
		{"fail/missing-signing-key", func(c *Config) { c.Keys.SigningKey = "" }, "keys.signingKey"},
		{"fail/pin-not-hex", func(c *Config) { c.Registry.GenesisSHA256 = "ABC" }, "registry.genesisSha256"},
		{"fail/message-limit-above-protocol", func(c *Config) { c.Exchange.MaxMessageBytes = 1 << 30 }, "exchange.maxMessageBytes"},
		{"fail/skew-over-an-hour", func(c *Config) { c.Exchange.ClockSkew = Duration(2 * time.Hour) }, "exchange.clockSkew"},
		{"fail/backoff-cap-below-base", func(c *Config) { c.Exchange.BackoffCap = Duration(time.Millisecond) }, "exchange.backoffBase"},
		{"fail/webhook-without-secret", func(c *Config) { c.Webhook.URL = "https://nsr.example/hook" }, "webhook"},
		{"fail/log-level", func(c *Config) { c.LogLevel = "verbose" }, "logLevel"},
		{"fail/local-api-on-the-network-in-plain-http", func(c *Config) { c.Listen.Local = "0.0.0.0:8080" }, "listen.local"},
		{"ok/local-api-remote-behind-a-tls-proxy", func(c *Config) { c.Listen.Local, c.Listen.AllowRemotePlaintext = "10.1.2.3:8080", true }, ""},
		{"ok/raft-on-every-interface-advertising-its-address", func(c *Config) { c.Listen.Raft, c.Listen.RaftAdvertise = "0.0.0.0:7000", "tj.example:7000" }, ""},
		{"fail/raft-advertise-every-interface", func(c *Config) { c.Listen.RaftAdvertise = "0.0.0.0:7000" }, "listen.raftAdvertise"},
		{"fail/raft-advertise-not-host-port", func(c *Config) { c.Listen.RaftAdvertise = "tj.example" }, "listen.raftAdvertise"},
		{"fail/missing-admin-tokens", func(c *Config) { c.Admin.TokensFile = "" }, "admin.tokensFile"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tc.field)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := validConfig()
	c.NodeID = "x"
	c.Keys.TLSKey = ""
	err := c.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nodeId")
	assert.Contains(t, err.Error(), "keys.tlsKey")
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.json")
	body := `{
  "nodeId": "TJ-MOJ-CRVS", "member": "TJ", "dataDir": "data",
  "keys": {"signingKey": "keys/sign.jwk", "tlsCert": "keys/tls.crt", "tlsKey": "keys/tls.key"},
  "registry": {"genesis": "genesis.json", "endorsements": "endorsements.txt", "genesisSha256": "` + strings.Repeat("0f", 32) + `"},
  "exchange": {"clockSkew": "2m"},
  "local": {"tokensFile": "tokens"},
  "admin": {"tokensFile": "admin-tokens"}
}`
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	c, err := LoadConfig(path)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "keys/sign.jwk"), c.Keys.SigningKey, "relative paths resolve against the file")
	assert.Equal(t, filepath.Join(dir, "data"), c.DataDir)
	assert.Equal(t, 2*time.Minute, time.Duration(c.Exchange.ClockSkew))
	assert.Equal(t, 7*24*time.Hour, time.Duration(c.Exchange.MaxAge), "defaults kept")

	t.Run("fail/unknown-field", func(t *testing.T) {
		p := filepath.Join(dir, "typo.json")
		require.NoError(t, os.WriteFile(p, []byte(strings.Replace(body, `"dataDir"`, `"dataDirectory"`, 1)), 0o600))
		_, err := LoadConfig(p)
		require.ErrorIs(t, err, ErrConfig)
		assert.Contains(t, err.Error(), "dataDirectory")
	})
	t.Run("fail/bad-duration", func(t *testing.T) {
		p := filepath.Join(dir, "dur.json")
		require.NoError(t, os.WriteFile(p, []byte(strings.Replace(body, `"2m"`, `120`, 1)), 0o600))
		_, err := LoadConfig(p)
		require.ErrorIs(t, err, ErrConfig)
	})
}
