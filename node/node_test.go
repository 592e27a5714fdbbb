package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node"
	"github.com/ecrn/crvsx/node/devnet"
	"github.com/ecrn/crvsx/node/devnet/samples"
	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/node/server"
	"github.com/ecrn/crvsx/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startNet starts a devnet of TJ, TR, KZ in process; edit may change the
// generated configurations before the nodes start.
func startNet(t *testing.T, edit func(c string, cfg *node.Config)) *devnet.Network {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := devnet.Open(t.TempDir(), devnet.Options{Fast: true}, nil)
	require.NoError(t, err)
	if edit != nil {
		for c, m := range n.Members {
			edit(c, &m.Config)
		}
	}
	require.NoError(t, n.Start(ctx))
	t.Cleanup(n.Stop)
	return n
}

func client(m *devnet.Member) *server.LocalClient {
	return &server.LocalClient{BaseURL: m.LocalURL(), Token: m.Token}
}

// template returns a sample without its messageId (the node assigns one).
func template(t *testing.T, name string) []byte {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(samples.Get(name)))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m))
	delete(m, "messageId")
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func waitDelivered(t *testing.T, c *server.LocalClient, id string) *server.SubmissionView {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := c.Submission(context.Background(), id)
		require.NoError(t, err)
		done := true
		for _, d := range v.Deliveries {
			require.NotEqual(t, "dead", d.Status, d.DeadReason)
			done = done && d.Status == "delivered"
		}
		if done {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered: %+v", v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLocalAPI(t *testing.T) {
	ctx := context.Background()
	var hookMu sync.Mutex
	var hooks []*http.Request
	var bodies [][]byte
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		hooks, bodies = append(hooks, r), append(bodies, b)
		hookMu.Unlock()
	}))
	defer hook.Close()
	secret := "webhook-secret-of-the-tajik-national-system"
	net := startNet(t, func(c string, cfg *node.Config) {
		if c == "TJ" {
			p := filepath.Join(filepath.Dir(cfg.Local.TokensFile), "webhook.secret")
			require.NoError(t, os.WriteFile(p, []byte(secret+"\n"), 0o600))
			cfg.Webhook = node.Webhook{URL: hook.URL, SecretFile: p}
		}
	})
	tr, tj := client(net.Members["TR"]), client(net.Members["TJ"])

	sub, err := tr.Submit(ctx, template(t, "birth-tajik-child-in-istanbul.json"), nil, "")
	require.NoError(t, err)
	require.Len(t, sub.Deliveries, 1)
	assert.Equal(t, "TJ", sub.Deliveries[0].Recipient)
	v := waitDelivered(t, tr, sub.ID)
	receipt := []byte(v.Deliveries[0].Receipt)
	assert.Equal(t, 2, bytes.Count(receipt, []byte(".")), "the stored receipt is a compact JWS")

	t.Run("pull/inbox-then-ack", func(t *testing.T) {
		p, err := tj.Inbox(ctx, 0, 10)
		require.NoError(t, err)
		require.Len(t, p.Records, 1)
		r := p.Records[0]
		assert.Equal(t, "TR", r.Sender)
		assert.Equal(t, protocol.MTLiveBirth, r.MessageType)
		assert.Equal(t, v.Deliveries[0].MessageID, r.MessageID)
		assert.Equal(t, string(receipt), r.Receipt, "the receipt the sender holds is the one stored")
		var msg map[string]any
		require.NoError(t, json.Unmarshal(r.Message, &msg))
		assert.Equal(t, "TJ-MOJ-CRVS", msg["recipient"].(map[string]any)["nodeId"])

		again, err := tj.Inbox(ctx, 0, 10)
		require.NoError(t, err)
		assert.Len(t, again.Records, 1, "at-least-once: unacknowledged records come again")
		require.NoError(t, tj.Ack(ctx, p.Next))
		after, err := tj.Inbox(ctx, p.Next, 10)
		require.NoError(t, err)
		assert.Empty(t, after.Records)
		assert.Equal(t, p.Next, after.Acked)
		err = tj.Ack(ctx, p.Next+100)
		var pe *protocol.ProblemError
		require.ErrorAs(t, err, &pe, "an ack beyond the inbox is refused")
	})

	t.Run("push/webhook-signed-with-hmac", func(t *testing.T) {
		deadline := time.Now().Add(15 * time.Second)
		for {
			hookMu.Lock()
			n := len(hooks)
			hookMu.Unlock()
			if n > 0 {
				break
			}
			require.True(t, time.Now().Before(deadline), "no webhook push")
			time.Sleep(50 * time.Millisecond)
		}
		hookMu.Lock()
		defer hookMu.Unlock()
		assert.Equal(t, exchange.Sign([]byte(secret), bodies[0]), hooks[0].Header.Get("Crvs-Signature"))
		assert.Equal(t, "1", hooks[0].Header.Get("Crvs-Delivery"))
		var ev exchange.WebhookEvent
		require.NoError(t, json.Unmarshal(bodies[0], &ev))
		assert.Equal(t, v.Deliveries[0].MessageID, ev.MessageID)
	})

	t.Run("fail/unauthorized", func(t *testing.T) {
		bad := &server.LocalClient{BaseURL: net.Members["TJ"].LocalURL(), Token: strings.Repeat("x", 40)}
		_, err := bad.Inbox(ctx, 0, 10)
		var pe *protocol.ProblemError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, protocol.CodeUnauthorized, pe.Problem.Code)
		assert.Equal(t, 401, pe.Problem.Status)
	})

	t.Run("fail/unknown-submission", func(t *testing.T) {
		_, err := tr.Submission(ctx, "3f1c0c8e-9a55-4c2e-9d3b-6a7d2c1f0e11")
		var pe *protocol.ProblemError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, protocol.CodeNotFound, pe.Problem.Code)
	})

	t.Run("fail/invalid-message-nothing-queued", func(t *testing.T) {
		var m map[string]any
		require.NoError(t, json.Unmarshal(template(t, "birth-tajik-child-in-istanbul.json"), &m))
		m["payload"].(map[string]any)["child"].(map[string]any)["sex"] = 7
		b, _ := json.Marshal(m)
		_, err := tr.Submit(ctx, b, nil, "")
		var pe *protocol.ProblemError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, protocol.CodeSchemaInvalid, pe.Problem.Code)
		require.NotEmpty(t, pe.Problem.Issues)
		assert.Equal(t, "/payload/child/sex", pe.Problem.Issues[0].Pointer)
	})

	t.Run("health/readyz-livez-metrics", func(t *testing.T) {
		h := net.Members["TJ"].HealthURL()
		for _, path := range []string{"/livez", "/readyz"} {
			resp, err := http.Get(h + path)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, 200, resp.StatusCode, path)
		}
		resp, err := http.Get(h + "/metrics")
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Contains(t, string(b), `crvsx_inbound_messages_total{outcome="accepted"} 1`)
	})
}

func TestPeerAPIRefusesUnpinnedClients(t *testing.T) {
	net := startNet(t, nil)
	// A client without a registered key: the handshake or the handler refuses it.
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: insecureClientTLS()}, Timeout: 5 * time.Second}
	resp, err := c.Post(net.Members["TJ"].PeerURL()+"/v1/messages", protocol.MediaTypeJOSE, strings.NewReader("a.b.c"))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	var p protocol.Problem
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
	assert.Equal(t, protocol.CodeNodePinMismatch, p.Code)
}

func TestBackupWhileRunning(t *testing.T) {
	ctx := context.Background()
	net := startNet(t, nil)
	tr := client(net.Members["TR"])
	sub, err := tr.Submit(ctx, template(t, "birth-tajik-child-in-istanbul.json"), nil, "")
	require.NoError(t, err)
	waitDelivered(t, tr, sub.ID)
	m := net.Members["TJ"]
	nsReq, _ := http.NewRequest("GET", "http://"+m.Config.Listen.Admin+"/v1/admin/backup", nil)
	nsReq.Header.Set("Authorization", "Bearer "+m.Token)
	nsResp, err := http.DefaultClient.Do(nsReq)
	require.NoError(t, err)
	nsResp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, nsResp.StatusCode, "the national system's token cannot take a backup")

	req, _ := http.NewRequest("GET", "http://"+m.Config.Listen.Admin+"/v1/admin/backup", nil)
	req.Header.Set("Authorization", "Bearer "+m.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	path := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(path)
	require.NoError(t, err)
	_, err = io.Copy(f, resp.Body)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	st, err := storeOpenReadOnly(ctx, path)
	require.NoError(t, err)
	defer st.Close()
	c, err := st.Counts(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, c.Inbox, "the backup holds the received message")
	_, _, err = st.VerifyAudit(ctx)
	require.NoError(t, err)
}

// TestRegistryAPIOnTheAdminListener: operators on the node's host read the
// registry through the admin listener with their own token (the peer
// listener needs the node's pin); without the token it is 401.
func TestRegistryAPIOnTheAdminListener(t *testing.T) {
	n := startNet(t, nil)
	tj := n.Members["TJ"]
	c, err := registry.NewAPIClient("http://"+tj.Config.Listen.Admin, "", 10*time.Second)
	require.NoError(t, err)
	_, err = c.Status(context.Background())
	var pe *protocol.ProblemError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, http.StatusUnauthorized, pe.Status)
	c.SetToken(tj.AdminToken)
	st, err := c.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, tj.NodeID, st.NodeID)
	c.SetToken(tj.Token) // the national system's token is not an operator's
	_, err = c.Members(context.Background())
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, http.StatusUnauthorized, pe.Status)
}

// TestStrangersCannotWriteErrorLines is the finding "an unauthenticated
// POST of a join request to a non-leader is logged at ERROR": a stranger
// (no TLS client key) posts join requests to a follower, many times; the
// follower answers NOT_LEADER (421, the client's routing) and logs at most
// a rate-limited WARN — never ERROR.
func TestStrangersCannotWriteErrorLines(t *testing.T) {
	counter := &levelCounter{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := devnet.Open(t.TempDir(), devnet.Options{Fast: true}, slog.New(counter))
	require.NoError(t, err)
	require.NoError(t, n.Start(ctx))
	t.Cleanup(n.Stop)
	var follower *devnet.Member
	for _, m := range n.Members {
		if st := m.Node().Registry().Status(); st.Leader.ID != "" && st.Leader.ID != m.NodeID {
			follower = m
		}
	}
	require.NotNil(t, follower, "no follower")
	require.Eventually(t, func() bool { return follower.Node().Registry().Fresh() == nil }, 30*time.Second, 10*time.Millisecond,
		"a stale replica answers joins 503 by design (DESIGN §14)")
	nd, _ := follower.Node().Registry().View().Node(follower.NodeID)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: pintls.ClientConfig(nil, pintls.ExpectPin(nd.TLSSPKISHA256))}}
	errorsBefore, warnsBefore := counter.counts()
	for range 200 {
		resp, err := hc.Post(follower.PeerURL()+registry.PathJoinChallenge, "application/json", strings.NewReader(`{"node":"XX-STRANGER"}`))
		require.NoError(t, err)
		pe := protocol.DecodeProblem("", resp.StatusCode, resp.Header.Get("Content-Type"), readAll(t, resp))
		require.Equal(t, 421, resp.StatusCode, "%s", pe)
		require.Equal(t, protocol.CodeNotLeader, pe.Problem.Code)
	}
	errorsAfter, warnsAfter := counter.counts()
	assert.Equal(t, errorsBefore, errorsAfter, "ERROR lines caused by a stranger")
	assert.LessOrEqual(t, warnsAfter-warnsBefore, 40, "200 refusals must not write 200 WARN lines")
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

// levelCounter counts log records by level.
type levelCounter struct {
	mu            sync.Mutex
	errors, warns int
}

func (c *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *levelCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case r.Level >= slog.LevelError:
		c.errors++
	case r.Level >= slog.LevelWarn:
		c.warns++
	}
	return nil
}
func (c *levelCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *levelCounter) WithGroup(string) slog.Handler      { return c }
func (c *levelCounter) counts() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errors, c.warns
}

// TestMetricsAnOperatorNeeds: build info, the backlogs per peer and of the
// national system, the registry's term and leadership, and how long each
// active key has left (the hardening issue's observability gaps).
func TestMetricsAnOperatorNeeds(t *testing.T) {
	n := startNet(t, nil)
	tj := n.Members["TJ"]
	var body string
	require.Eventually(t, func() bool {
		resp, err := http.Get(tj.HealthURL() + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		return strings.Contains(body, "crvsx_registry_key_expiry_seconds{")
	}, 20*time.Second, 100*time.Millisecond)
	for _, want := range []string{
		`crvsx_build_info{goversion="go1.`,
		`crvsx_inbox_unacknowledged{consumer="national-system"} `,
		`crvsx_registry_term `,
		`crvsx_registry_leader `,
		`crvsx_registry_key_expiry_seconds{kid="TJ:`,
		`crvsx_registry_staleness_seconds `,
	} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, `crvsx_registry_key_expiry_seconds{kid="TJ:`+"\"} -", "no active key is expired")
}
