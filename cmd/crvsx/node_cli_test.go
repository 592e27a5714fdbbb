package main

import (
	"context"
	"encoding/json"
	stdnet "net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/devnet"
	"github.com/ecrn/crvsx/node/devnet/samples"
	"github.com/ecrn/crvsx/node/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSendInboxBackup drives a running network with the real commands an
// operator and a national system use: send, inbox --ack, node backup.
func TestSendInboxBackup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	net, err := devnet.Open(dir, devnet.Options{Fast: true}, nil)
	require.NoError(t, err)
	require.NoError(t, net.Start(ctx))
	defer net.Stop()
	tr, tj := net.Members["TR"], net.Members["TJ"]

	var m map[string]any
	require.NoError(t, json.Unmarshal(samples.Get("birth-tajik-child-in-istanbul.json"), &m))
	delete(m, "messageId")
	b, _ := json.Marshal(m)
	msgFile := filepath.Join(dir, "birth.json")
	require.NoError(t, os.WriteFile(msgFile, b, 0o644))
	trTokens := net.Manifest.Tokens["TR"]
	tjTokens := net.Manifest.Tokens["TJ"]

	r := run(t, nil, "send", "--node", tr.LocalURL(), "--token-file", trTokens, "--wait", "30s", msgFile)
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	var sub struct {
		ID         string
		Deliveries []struct{ Recipient, Status, MessageID string }
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sub))
	require.Len(t, sub.Deliveries, 1)
	assert.Equal(t, "TJ", sub.Deliveries[0].Recipient)
	assert.Equal(t, "delivered", sub.Deliveries[0].Status)

	t.Run("ok/inbox-then-ack", func(t *testing.T) {
		r := run(t, nil, "inbox", "--node", tj.LocalURL(), "--token-file", tjTokens, "--ack")
		require.Equal(t, 0, r.code, r.stderr)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		require.Len(t, lines, 1)
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec))
		assert.Equal(t, sub.Deliveries[0].MessageID, rec["messageId"])
		assert.Equal(t, "TR", rec["sender"])
		// The next read starts after the acknowledged cursor: a national
		// system running "inbox --ack" again gets nothing it has imported.
		r = run(t, nil, "inbox", "--node", tj.LocalURL(), "--token-file", tjTokens, "--ack")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Empty(t, strings.TrimSpace(r.stdout), "the second inbox --ack returns nothing new")
		assert.Contains(t, r.stderr, "0 records after 1")
		r = run(t, nil, "inbox", "--node", tj.LocalURL(), "--token-file", tjTokens, "--after", "0")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), 1, "--after 0 reads the acknowledged record again")
	})

	t.Run("ok/healthcheck-probes-livez-and-readyz", func(t *testing.T) {
		cfgFile := net.Manifest.Configs["TJ"]
		r := run(t, nil, "node", "healthcheck", "--config", cfgFile)
		require.Equal(t, 0, r.code, r.stdout+r.stderr)
		assert.Contains(t, r.stdout, "/livez answered 200")
		r = run(t, nil, "node", "healthcheck", "--config", cfgFile, "--path", "/readyz")
		require.Equal(t, 0, r.code, r.stdout+r.stderr)
		// Docker's rule: 1 for unhealthy, whatever the cause (never 3).
		r = run(t, nil, "node", "healthcheck", "--url", "http://"+tj.Config.Listen.Health+"/nope")
		assert.Equal(t, 1, r.code, r.stdout+r.stderr)
		ln, err := stdnet.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		closed := "http://" + ln.Addr().String() + "/livez"
		require.NoError(t, ln.Close())
		r = run(t, nil, "node", "healthcheck", "--url", closed)
		assert.Equal(t, 1, r.code, r.stdout+r.stderr)
	})

	t.Run("fail/send-invalid-message", func(t *testing.T) {
		m["payload"].(map[string]any)["child"].(map[string]any)["sex"] = 7
		b, _ := json.Marshal(m)
		r := run(t, b, "send", "--node", tr.LocalURL(), "--token-file", trTokens, "-")
		assert.Equal(t, exitInvalid, r.code)
		assert.Contains(t, r.stderr, "SCHEMA_VALIDATION_FAILED")
		assert.Contains(t, r.stderr, "/payload/child/sex")
	})

	t.Run("fail/send-without-token-file", func(t *testing.T) {
		r := run(t, nil, "send", "--node", tr.LocalURL(), msgFile)
		assert.Equal(t, exitUsage, r.code)
		assert.Contains(t, r.stderr, "--token-file")
	})

	t.Run("ok/node-backup-while-running", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "tj.db")
		r := run(t, nil, "node", "backup", "--config", net.Manifest.Configs["TJ"], "--out", out)
		require.Equal(t, 0, r.code, r.stderr)
		st, err := store.Open(ctx, out, store.Options{ReadOnly: true})
		require.NoError(t, err)
		defer st.Close()
		c, err := st.Counts(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 1, c.Inbox)
		require.NoError(t, st.Check(ctx))
		fi, err := os.Stat(out)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	})

	// After the backup, which counts TJ's inbox.
	t.Run("ok/inbox-ack-returns-only-what-is-new", func(t *testing.T) {
		r := run(t, nil, "send", "--node", tr.LocalURL(), "--token-file", trTokens, "--wait", "30s", tr.Sample)
		require.Equal(t, 0, r.code, r.stdout+r.stderr)
		r = run(t, nil, "inbox", "--node", tj.LocalURL(), "--token-file", tjTokens, "--ack")
		require.Equal(t, 0, r.code, r.stderr)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		require.Len(t, lines, 1, "only the new record")
		assert.Contains(t, lines[0], `"seq":2`)
		r = run(t, nil, "inbox", "--node", tj.LocalURL(), "--token-file", tjTokens, "--ack")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Empty(t, strings.TrimSpace(r.stdout))
	})

	t.Run("fail/send-same-message-twice-hints-a-new-messageId", func(t *testing.T) {
		withID := filepath.Join(t.TempDir(), "birth.json")
		require.NoError(t, os.WriteFile(withID, samples.Get("birth-tajik-child-in-istanbul.json"), 0o644))
		r := run(t, nil, "send", "--node", tr.LocalURL(), "--token-file", trTokens, withID)
		require.Equal(t, 0, r.code, r.stderr)
		r = run(t, nil, "send", "--node", tr.LocalURL(), "--token-file", trTokens, withID)
		assert.Equal(t, exitInvalid, r.code)
		assert.Contains(t, r.stderr, "MESSAGE_ID_CONFLICT")
		assert.Contains(t, r.stderr, "new messageId")
	})

	// The exit-code rule: 1 refused, 2 usage or local error, 3 no answer
	// from a crvsx node.
	badToken := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(badToken, []byte("national-system not-the-token\n"), 0o600))
	t.Run("exit/1-unauthorized", func(t *testing.T) {
		for _, args := range [][]string{
			{"send", "--node", tr.LocalURL(), "--token-file", badToken, tr.Sample},
			{"inbox", "--node", tj.LocalURL(), "--token-file", badToken},
			{"registry", "status", "--node", tj.AdminURL(), "--token-file", badToken},
			{"registry", "status", "--node", tj.AdminURL()},
			{"node", "backup", "--admin", tj.Config.Listen.Admin, "--token-file", badToken, "--out", filepath.Join(t.TempDir(), "x.db")},
		} {
			r := run(t, nil, args...)
			assert.Equal(t, exitInvalid, r.code, "%v: %s", args, r.stderr)
			assert.Contains(t, r.stderr, "UNAUTHORIZED", "%v", args)
			assert.Contains(t, r.stderr, "--token-file", "%v: the hint", args)
		}
	})
	t.Run("exit/3-unreachable", func(t *testing.T) {
		ln, err := stdnet.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		closed := "http://" + ln.Addr().String()
		require.NoError(t, ln.Close())
		for _, args := range [][]string{
			{"send", "--node", closed, "--token-file", trTokens, tr.Sample},
			{"inbox", "--node", closed, "--token-file", trTokens},
			{"registry", "status", "--node", closed, "--token-file", tr.Config.Admin.TokensFile},
			{"node", "backup", "--admin", strings.TrimPrefix(closed, "http://"), "--token-file", tr.Config.Admin.TokensFile, "--out", filepath.Join(t.TempDir(), "x.db")},
		} {
			r := run(t, nil, args...)
			assert.Equal(t, exitUnreachable, r.code, "%v: %s", args, r.stderr)
			assert.Contains(t, r.stderr, "connection refused", "%v", args)
		}
	})
	t.Run("exit/3-timeout", func(t *testing.T) {
		ln, err := stdnet.Listen("tcp", "127.0.0.1:0") // accepts, never answers
		require.NoError(t, err)
		defer ln.Close()
		r := run(t, nil, "inbox", "--node", "http://"+ln.Addr().String(), "--token-file", tjTokens, "--timeout", "300ms")
		assert.Equal(t, exitUnreachable, r.code, r.stderr)
		assert.Contains(t, r.stderr, "no answer in time")
	})
	t.Run("exit/3-not-a-crvsx-answer", func(t *testing.T) {
		other := httptest.NewServer(http.NotFoundHandler()) // a web server that is not a node
		defer other.Close()
		r := run(t, nil, "inbox", "--node", other.URL, "--token-file", tjTokens)
		assert.Equal(t, exitUnreachable, r.code, r.stderr)
		assert.Contains(t, r.stderr, "without a problem document")
		assert.Contains(t, r.stderr, "not a crvsx API")
	})
	t.Run("exit/2-usage", func(t *testing.T) {
		r := run(t, nil, "send", "--node", strings.TrimPrefix(tr.LocalURL(), "http://"), "--token-file", trTokens, tr.Sample)
		assert.Equal(t, exitUsage, r.code)
		assert.Contains(t, r.stderr, "want http://host:port or https://")
		assert.NotContains(t, r.stderr, "first path segment")
		r = run(t, nil, "inbox", "--node", tr.LocalURL(), "--token-file", trTokens, "--no-such-flag")
		assert.Equal(t, exitUsage, r.code)
	})
	t.Run("fail/send-empty-stdin", func(t *testing.T) {
		r := run(t, nil, "send", "--node", tr.LocalURL(), "--token-file", trTokens, "-")
		assert.Equal(t, exitUsage, r.code)
		assert.Contains(t, r.stderr, "stdin is empty")
		assert.NotContains(t, r.stderr, "MarshalJSON")
		r = run(t, []byte("{not json"), "send", "--node", tr.LocalURL(), "--token-file", trTokens, "-")
		assert.Equal(t, exitInvalid, r.code)
		assert.Contains(t, r.stderr, "not a JSON document")
		assert.NotContains(t, r.stderr, "MarshalJSON")
	})
	t.Run("ok/registry-on-the-admin-listener", func(t *testing.T) {
		r := run(t, nil, "registry", "status", "--node", tj.AdminURL(), "--token-file", tj.Config.Admin.TokensFile)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, tj.NodeID)
		r = run(t, nil, "registry", "members", "--node", tj.AdminURL(), "--token-file", tj.Config.Admin.TokensFile, "--json")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, `"KZ"`)
	})

	t.Run("fail/node-bad-config", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "node.json")
		require.NoError(t, os.WriteFile(p, []byte(`{"nodeId": "tj"}`), 0o644))
		r := run(t, nil, "node", "--config", p)
		assert.Equal(t, exitUsage, r.code)
		assert.Contains(t, r.stderr, "nodeId")
	})
}

// TestNodeInstallSecrets: the chart's init step copies a Secret volume's
// files (behind Kubernetes' ..data links) with mode 0400, again on a
// restart, and the node accepts them.
func TestNodeInstallSecrets(t *testing.T) {
	src := filepath.Join(t.TempDir(), "keys")
	data := filepath.Join(src, "..2026_12_04")
	require.NoError(t, os.MkdirAll(data, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(data, "signing.private.jwk"), []byte("secret"), 0o440))
	require.NoError(t, os.Symlink("..2026_12_04", filepath.Join(src, "..data")))
	require.NoError(t, os.Symlink("..data/signing.private.jwk", filepath.Join(src, "signing.private.jwk")))
	to := filepath.Join(t.TempDir(), "secrets")
	for range 2 {
		r := run(t, nil, "node", "install-secrets", "--to", to, src)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "installed 1 files")
	}
	st, err := os.Stat(filepath.Join(to, "keys", "signing.private.jwk"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o400), st.Mode().Perm())
	b, err := os.ReadFile(filepath.Join(to, "keys", "signing.private.jwk"))
	require.NoError(t, err)
	assert.Equal(t, "secret", string(b))
	ents, err := os.ReadDir(filepath.Join(to, "keys"))
	require.NoError(t, err)
	assert.Len(t, ents, 1, "the ..data entries are not copied")
	r := run(t, nil, "node", "install-secrets", src)
	assert.Equal(t, exitUsage, r.code)
}
