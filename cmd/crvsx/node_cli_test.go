package main

import (
	"context"
	"encoding/json"
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
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
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
		r = run(t, nil, "inbox", "--node", tj.LocalURL(), "--token-file", tjTokens, "--after", "1")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Empty(t, strings.TrimSpace(r.stdout), "nothing after the acknowledged record")
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

	t.Run("fail/node-bad-config", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "node.json")
		require.NoError(t, os.WriteFile(p, []byte(`{"nodeId": "tj"}`), 0o644))
		r := run(t, nil, "node", "--config", p)
		assert.Equal(t, exitUsage, r.code)
		assert.Contains(t, r.stderr, "nodeId")
	})
}
