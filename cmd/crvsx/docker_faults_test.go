//go:build crvsx_docker

package main

// Fault tests on separate containers (issue: deployment on separate
// hosts). Each starts its own compose network (startCompose), causes one
// fault with the Docker CLI — a container cut off its network, killed,
// restarted — and counts, at the recipients' inboxes, what the national
// systems submitted: every message delivered exactly once.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node"
	"github.com/ecrn/crvsx/node/devnet/samples"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/node/server"
	"github.com/ecrn/crvsx/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func (c *composeNet) container(t *testing.T, svc string) string {
	t.Helper()
	id := strings.TrimSpace(c.compose(t, "ps", "-q", svc))
	require.NotEmpty(t, id, "no container for %s", svc)
	return id
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	require.NoError(t, err, "docker %v: %s", args, out)
	return string(out)
}

// address is a node's address on the compose network (devnet.ExportCompose).
func (c *composeNet) address(t *testing.T, country string) string {
	t.Helper()
	cfg, err := node.LoadConfig(filepath.Join(c.dir, country, "node.json"))
	require.NoError(t, err)
	host, _, err := net.SplitHostPort(cfg.Listen.Peer)
	require.NoError(t, err)
	return host
}

func (c *composeNet) cutOff(t *testing.T, country string) {
	docker(t, "network", "disconnect", c.project+"_crvsx", c.container(t, strings.ToLower(country)))
}

func (c *composeNet) reconnect(t *testing.T, country string) {
	docker(t, "network", "connect", "--ip", c.address(t, country), c.project+"_crvsx", c.container(t, strings.ToLower(country)))
}

// probe GETs path on a node's health listener from inside its container,
// with the node's own binary (the image has no shell): the exit code (0
// for 2xx) and the body.
func (c *composeNet) probe(t *testing.T, country, path string) (int, string) {
	t.Helper()
	cmd := exec.Command("docker", "exec", c.container(t, strings.ToLower(country)), "/crvsx", "node", "healthcheck",
		"--url", "http://127.0.0.1:9090"+path, "--show")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	require.NoError(t, err, "%s", out)
	return 0, string(out)
}

// outboxPending counts a node's deliveries not yet delivered, from its
// metrics (crvsx_outbox_pending).
func (c *composeNet) outboxPending(t *testing.T, ctx context.Context, country string) int {
	t.Helper()
	var n int
	poll(t, 20*time.Second, country+"'s outbox gauge", func() (bool, string) {
		m := httpGet(t, "http://"+c.mf.Published[country].Health+"/metrics")
		g := regexp.MustCompile(`(?m)^crvsx_outbox_pending (\d+)`).FindStringSubmatch(m)
		if g == nil {
			return false, "no crvsx_outbox_pending"
		}
		fmt.Sscan(g[1], &n)
		return n > 0, g[0]
	})
	return n
}

func (c *composeNet) local(t *testing.T, country string) *server.LocalClient {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, country, "tokens"))
	require.NoError(t, err)
	tok, err := server.FirstToken(b)
	require.NoError(t, err)
	return &server.LocalClient{BaseURL: "http://" + c.mf.Published[country].Local, Token: tok, HTTP: &http.Client{Timeout: 15 * time.Second}}
}

func (c *composeNet) registryAPI(t *testing.T, country string) *registry.APIClient {
	t.Helper()
	api, err := registry.NewAPIClient("http://"+c.mf.Published[country].Admin, "", 10*time.Second)
	require.NoError(t, err)
	tok, err := firstToken(filepath.Join(c.dir, country, "admin-tokens"))
	require.NoError(t, err)
	api.SetToken(tok)
	return api
}

func (c *composeNet) ready(country string) (bool, string) {
	resp, err := http.Get("http://" + c.mf.Published[country].Health + "/readyz")
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == 200, resp.Status + " " + string(b)
}

func (c *composeNet) waitReady(t *testing.T, country string, d time.Duration) {
	t.Helper()
	poll(t, d, country+" ready", func() (bool, string) { return c.ready(country) })
}

// traffic is what national systems submitted and what their nodes took:
// message ids by recipient country.
type traffic struct {
	mu        sync.Mutex
	sent      map[string][]string // recipient → messageIds of accepted submissions
	subs      []string            // the accepted submissions' ids
	retried   int                 // submissions retried after a retryable error
	surfacing []string            // errors that were not retryable
}

func newTraffic() *traffic { return &traffic{sent: map[string][]string{}} }

// submit submits sample from sender until it is accepted, with one
// submission id so that a retry after an unknown outcome never makes a
// second message. A connection error or a 503 is retried (a node
// restarting); anything else is recorded as an error the national system
// would see.
func (tr *traffic) submit(ctx context.Context, c *server.LocalClient, msg []byte) {
	id := protocol.NewUUID()
	for attempt := 0; attempt < 120; attempt++ {
		sub, err := c.Submit(ctx, msg, nil, id)
		if err == nil {
			tr.mu.Lock()
			for _, d := range sub.Deliveries {
				tr.sent[d.Recipient] = append(tr.sent[d.Recipient], d.MessageID)
			}
			tr.subs = append(tr.subs, sub.ID)
			tr.mu.Unlock()
			return
		}
		var pe *protocol.ProblemError
		retryable := !errors.As(err, &pe) || pe.Problem.Status == http.StatusServiceUnavailable
		tr.mu.Lock()
		if retryable {
			tr.retried++
		} else {
			tr.surfacing = append(tr.surfacing, err.Error())
		}
		tr.mu.Unlock()
		if !retryable || ctx.Err() != nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	tr.mu.Lock()
	tr.surfacing = append(tr.surfacing, "never accepted after 120 attempts")
	tr.mu.Unlock()
}

// load submits n messages of sample from sender, one every gap, until
// stop ends. stop ends the load between submissions, never one in flight:
// a submission cut off mid-request has an unknown outcome (the node may
// have taken it), and a national system settles that by retrying the same
// submission id — which submit does, to the end.
func (tr *traffic) load(stop context.Context, wg *sync.WaitGroup, c *server.LocalClient, msg []byte, n int, gap time.Duration) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n && stop.Err() == nil; i++ {
			tr.submit(context.WithoutCancel(stop), c, msg)
			time.Sleep(gap)
		}
	}()
}

func (tr *traffic) subsSoFar() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.subs...)
}

func (tr *traffic) count(recipient string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.sent[recipient])
}

// inboxCounts reads a node's whole inbox: how many records each messageId
// has.
func inboxCounts(t *testing.T, ctx context.Context, c *server.LocalClient) map[string]int {
	t.Helper()
	counts := map[string]int{}
	var after uint64
	for {
		p, err := c.Inbox(ctx, after, 500)
		require.NoError(t, err)
		for _, r := range p.Records {
			counts[r.MessageID]++
		}
		if len(p.Records) == 0 || p.Next <= after {
			return counts
		}
		after = p.Next
	}
}

// exactlyOnce waits until the recipient's inbox holds every message sent
// to it, then asserts: none lost, none twice, nothing else. It returns how
// long the wait took.
func exactlyOnce(t *testing.T, ctx context.Context, c *composeNet, tr *traffic, recipient string, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	want := tr.sent[recipient]
	var counts map[string]int
	poll(t, d, "every message in "+recipient+"'s inbox", func() (bool, string) {
		counts = inboxCounts(t, ctx, c.local(t, recipient))
		missing := 0
		for _, id := range want {
			if counts[id] == 0 {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d of %d missing", missing, len(want))
	})
	dups, extra := 0, 0
	wanted := map[string]bool{}
	for _, id := range want {
		wanted[id] = true
		if counts[id] > 1 {
			dups += counts[id] - 1
		}
	}
	for id := range counts {
		if !wanted[id] {
			extra++
		}
	}
	assert.Zero(t, dups, "duplicates in %s's inbox", recipient)
	assert.Zero(t, extra, "records in %s's inbox that no national system sent", recipient)
	t.Logf("%s: sent %d, delivered %d, duplicates %d, unexpected %d, lost 0; converged in %s",
		recipient, len(want), len(want), dups, extra, time.Since(start).Round(time.Millisecond))
	return time.Since(start)
}

// converged waits until every founder's replica has the same state hash
// at the same applied index.
func converged(t *testing.T, ctx context.Context, c *composeNet, d time.Duration) {
	t.Helper()
	poll(t, d, "the registry replicas converge", func() (bool, string) {
		var seen []string
		for _, country := range c.mf.Countries {
			st, err := c.registryAPI(t, country).Status(ctx)
			if err != nil {
				return false, country + ": " + err.Error()
			}
			seen = append(seen, fmt.Sprintf("%d/%s", st.AppliedIndex, st.StateHash))
		}
		for _, s := range seen[1:] {
			if s != seen[0] {
				return false, strings.Join(seen, " ")
			}
		}
		return true, ""
	})
}

const (
	birthToTJ = "birth-tajik-child-in-istanbul.json"   // TR → TJ
	birthToKZ = "birth-kazakh-child-in-istanbul.json"  // TR → KZ
	deathToTR = "death-turkish-citizen-in-almaty.json" // KZ → TR
)

// TestDockerFaultCountryCutOff: TJ's container is disconnected from the
// network while Türkiye sends it births. They queue at TR; TJ's replica
// goes stale (readyz, metric); reconnected, everything arrives exactly once
// and the replicas converge.
func TestDockerFaultCountryCutOff(t *testing.T) {
	ctx := context.Background()
	c := startComposeWith(t, dockerImage(t), "--max-staleness", "8s")
	tr := newTraffic()
	c.cutOff(t, "TJ")
	for range 10 {
		tr.submit(ctx, c.local(t, "TR"), sample(t, birthToTJ))
	}
	require.Empty(t, tr.surfacing)
	require.Equal(t, 10, tr.count("TJ"))
	// Cut off, TJ's published ports are gone with its network: its own
	// binary probes it from inside the container.
	poll(t, 60*time.Second, "TJ reports its replica stale", func() (bool, string) {
		code, body := c.probe(t, "TJ", "/readyz")
		return code == 1 && strings.Contains(body, "stale"), body
	})
	_, metrics := c.probe(t, "TJ", "/metrics")
	assert.Regexp(t, `(?m)^crvsx_registry_staleness_seconds ([89]|[1-9][0-9]+)(\.|$)`, metrics, "the staleness gauge is past the bound")
	pending := c.outboxPending(t, ctx, "TR")
	assert.Equal(t, 10, pending, "the births wait in TR's outbox")
	c.reconnect(t, "TJ")
	c.waitReady(t, "TJ", 90*time.Second)
	exactlyOnce(t, ctx, c, tr, "TJ", 3*time.Minute)
	converged(t, ctx, c, 60*time.Second)
}

// TestDockerFaultKillUnderLoad: a node is killed (SIGKILL) while births
// flow and started again, three times — the receiver, the sender, the
// receiver — and every message arrives exactly once.
func TestDockerFaultKillUnderLoad(t *testing.T) {
	ctx := context.Background()
	c := startComposeWith(t, dockerImage(t))
	tr := newTraffic()
	for round, victim := range []string{"TJ", "TR", "TJ"} {
		var wg sync.WaitGroup
		tr.load(ctx, &wg, c.local(t, "TR"), sample(t, birthToTJ), 25, 100*time.Millisecond)
		time.Sleep(time.Second)
		id := c.container(t, strings.ToLower(victim))
		docker(t, "kill", "-s", "KILL", id)
		time.Sleep(2 * time.Second)
		docker(t, "start", id)
		c.waitReady(t, victim, 90*time.Second)
		wg.Wait()
		t.Logf("round %d: killed %s; %d accepted so far, %d retried submissions", round+1, victim, tr.count("TJ"), tr.retried)
	}
	assert.Empty(t, tr.surfacing, "errors the national system saw")
	require.Equal(t, 75, tr.count("TJ"))
	exactlyOnce(t, ctx, c, tr, "TJ", 3*time.Minute)
}

// TestDockerFaultRollingRestart: every node restarted in turn (SIGTERM,
// then start) while births and deaths flow both ways: nothing lost, and the
// only errors the national systems see are retried ones.
func TestDockerFaultRollingRestart(t *testing.T) {
	ctx := context.Background()
	c := startComposeWith(t, dockerImage(t))
	tr := newTraffic()
	var wg sync.WaitGroup
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	tr.load(stop, &wg, c.local(t, "TR"), sample(t, birthToTJ), 400, 150*time.Millisecond)
	tr.load(stop, &wg, c.local(t, "KZ"), sample(t, deathToTR), 400, 150*time.Millisecond)
	time.Sleep(2 * time.Second)
	for _, country := range c.mf.Countries {
		c.compose(t, "restart", "-t", "20", strings.ToLower(country))
		c.waitReady(t, country, 90*time.Second)
		time.Sleep(time.Second)
	}
	cancel()
	wg.Wait()
	assert.Empty(t, tr.surfacing, "errors the national systems saw (retried ones excepted: %d)", tr.retried)
	t.Logf("rolling restart: %d retried submissions, none surfaced", tr.retried)
	exactlyOnce(t, ctx, c, tr, "TJ", 3*time.Minute)
	exactlyOnce(t, ctx, c, tr, "TR", 3*time.Minute)
}

// TestDockerFaultLeaderKilledDuringRotation: TJ rotates its governance key
// through a follower while the registry leader's container is killed. The
// signed command is resubmitted as it is until the registry answers (the
// id applies at most once); after recovery the rotation is visible on
// every replica and no acknowledged command is lost.
func TestDockerFaultLeaderKilledDuringRotation(t *testing.T) {
	ctx := context.Background()
	c := startComposeWith(t, dockerImage(t))
	st, err := c.registryAPI(t, "TJ").Status(ctx)
	require.NoError(t, err)
	leader := st.Leader.ID[:2]
	via := "TJ"
	for _, country := range c.mf.Countries {
		if country != leader {
			via = country
			break
		}
	}
	admin := []string{"--node", "http://" + c.mf.Published[via].Admin, "--token-file", filepath.Join(c.dir, via, "admin-tokens")}
	oldGov := mustSigner(t, c.mf.Governance["TJ"])
	newGov, _ := mustKeys(t, t.TempDir(), "TJ", "ES256")
	entry := filepath.Join(t.TempDir(), "rotate.jws")
	r := run(t, nil, append([]string{"registry", "keys", "rotate", "--key", c.mf.Governance["TJ"], "--old", oldGov.Kid(), "--new-key", newGov, "--out", entry}, admin...)...)
	require.Equal(t, 0, r.code, r.stderr)

	leaderID := c.container(t, strings.ToLower(leader))
	done := make(chan result, 1)
	go func() {
		done <- run(t, nil, append([]string{"registry", "submit", "--entry", entry, "--timeout", "20s"}, admin...)...)
	}()
	// The kill races the submission: either the registry acknowledged the
	// rotation before the leader died (then it must survive), or the
	// outcome is unknown and the same signed command is resubmitted.
	killed := time.Now()
	docker(t, "kill", "-s", "KILL", leaderID)
	first := <-done
	t.Logf("the submission during the kill: exit %d %s%s", first.code, strings.TrimSpace(first.stdout), strings.TrimSpace(first.stderr))
	acknowledged := first.code == 0
	poll(t, 60*time.Second, "a new leader", func() (bool, string) {
		st, err := c.registryAPI(t, via).Status(ctx)
		if err != nil {
			return false, err.Error()
		}
		return st.Leader.ID != "" && st.Leader.ID[:2] != leader, st.Leader.ID
	})
	t.Logf("new leader after %s", time.Since(killed).Round(time.Millisecond))
	if !acknowledged {
		poll(t, 60*time.Second, "the rotation accepted on a retry of the same command", func() (bool, string) {
			r := run(t, nil, append([]string{"registry", "submit", "--entry", entry}, admin...)...)
			return r.code == 0 || strings.Contains(r.stderr, "already"), r.stdout + r.stderr
		})
	}
	docker(t, "start", leaderID)
	c.waitReady(t, leader, 90*time.Second)
	newKid := mustSigner(t, newGov).Kid()
	for _, country := range c.mf.Countries {
		poll(t, 60*time.Second, country+" sees the rotation", func() (bool, string) {
			r := run(t, nil, "registry", "keys", "list", "--member", "TJ", "--node", "http://"+c.mf.Published[country].Admin,
				"--token-file", filepath.Join(c.dir, country, "admin-tokens"))
			return r.code == 0 && strings.Contains(r.stdout, newKid) && regexp.MustCompile(regexp.QuoteMeta(oldGov.Kid())+`\s+governance\s+\S+\s+retired`).MatchString(r.stdout), r.stdout + r.stderr
		})
	}
	converged(t, ctx, c, 60*time.Second)
}

// TestDockerFaultRevokedWhilePartitioned: Türkiye's signing key is revoked
// as compromised while another founder's node is cut off. Cut off, that
// node fails closed once stale; healed, it has the revocation and refuses
// a message signed with the revoked key.
func TestDockerFaultRevokedWhilePartitioned(t *testing.T) {
	ctx := context.Background()
	c := startComposeWith(t, dockerImage(t), "--max-staleness", "8s")
	trSig := mustSigner(t, filepath.Join(c.dir, "TR", "keys", "signing.private.jwk"))
	// The partitioned node is a follower (cutting the leader off is the
	// election's business, tested with the rotation): TJ or KZ.
	st, err := c.registryAPI(t, "TR").Status(ctx)
	require.NoError(t, err)
	victim := "KZ"
	if st.Leader.ID[:2] == "KZ" {
		victim = "TJ"
	}
	c.cutOff(t, victim)
	since := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	r := run(t, nil, "registry", "keys", "revoke", "--key", c.mf.Governance["TR"], trSig.Kid(), "--reason", "compromised",
		"--compromised-since", since.Format(time.RFC3339), "--node", "http://"+c.mf.Published["TR"].Admin,
		"--token-file", filepath.Join(c.dir, "TR", "admin-tokens"))
	require.Equal(t, 0, r.code, r.stderr)
	poll(t, 60*time.Second, victim+" fails closed once stale", func() (bool, string) {
		code, body := c.probe(t, victim, "/readyz")
		return code == 1 && strings.Contains(body, "stale"), body
	})
	c.reconnect(t, victim)
	c.waitReady(t, victim, 90*time.Second)
	converged(t, ctx, c, 60*time.Second)

	// A message signed with TR's revoked key, posted to KZ's peer API over
	// TR's own mutual-TLS key.
	name := birthToKZ
	if victim == "TJ" {
		name = birthToTJ
	}
	var m map[string]any
	require.NoError(t, json.Unmarshal(samples.Get(name), &m))
	m["messageId"], m["createdAt"] = protocol.NewUUID(), time.Now().UTC().Format(time.RFC3339)
	msg, err := json.Marshal(m)
	require.NoError(t, err)
	tok, err := trSig.Sign(protocol.TypEvent, msg)
	require.NoError(t, err)
	status, body := postPeer(t, c, "TR", victim, tok)
	assert.Equal(t, http.StatusForbidden, status, body)
	assert.Contains(t, body, string(protocol.CodeKeyNotValid))
	assert.Empty(t, inboxCounts(t, ctx, c.local(t, victim)), "%s stored a message signed with a revoked key", victim)
}

// postPeer posts a message to country's peer API (published on loopback)
// as the node of from, with its TLS key, pinning the receiver's key.
func postPeer(t *testing.T, c *composeNet, from, to string, body []byte) (int, string) {
	t.Helper()
	certPEM, err := os.ReadFile(filepath.Join(c.dir, from, "keys", "tls.crt"))
	require.NoError(t, err)
	keyPEM, err := os.ReadFile(filepath.Join(c.dir, from, "keys", "tls.key"))
	require.NoError(t, err)
	cert, err := pintls.Load(certPEM, keyPEM)
	require.NoError(t, err)
	toCert, err := os.ReadFile(filepath.Join(c.dir, to, "keys", "tls.crt"))
	require.NoError(t, err)
	toKey, err := os.ReadFile(filepath.Join(c.dir, to, "keys", "tls.key"))
	require.NoError(t, err)
	tc, err := pintls.Load(toCert, toKey)
	require.NoError(t, err)
	pin, err := pintls.Pin(tc)
	require.NoError(t, err)
	hc := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: pintls.ClientConfig(&cert, pintls.ExpectPin(pin))}}
	resp, err := hc.Post("https://"+c.mf.Published[to].Peer+"/v1/messages", protocol.MediaTypeJOSE, strings.NewReader(string(body)))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// TestDockerFaultDiskFull: a receiver's data volume is a small tmpfs that
// births fill. Full, it answers 507 STORAGE_FULL (its senders keep the
// messages and retry), stays up, says so on /readyz and in its metrics;
// when the volume grows again it recovers by itself, and every message
// arrives exactly once.
func TestDockerFaultDiskFull(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatalf("this test mounts a small tmpfs as the node's data volume: it runs as root (uid %d)", os.Getuid())
	}
	ctx := context.Background()
	const victim = "KZ" // receives TR's births of Kazakh children
	var data string
	c := startComposeOverride(t, dockerImage(t), func(c *composeNet) string {
		// The volume: a 6 MiB tmpfs on this host at KZ's data folder, which
		// the container sees through its bind mount (the same file system:
		// growing it here grows it there).
		data = filepath.Join(c.dir, victim, "data")
		require.NoError(t, os.MkdirAll(data, 0o700))
		out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=6m,mode=0700,uid=%d,gid=%d", os.Getuid(), os.Getgid()), "tmpfs", data).CombinedOutput()
		require.NoError(t, err, "%s", out)
		t.Cleanup(func() { _ = exec.Command("umount", "-l", data).Run() })
		return ""
	})
	tr := newTraffic()
	full := false
	for i := 0; i < 1500 && !full; i++ {
		tr.submit(ctx, c.local(t, "TR"), sample(t, birthToKZ))
		if i%25 == 24 {
			ok, body := c.ready(victim)
			full = !ok && strings.Contains(body, "storage full")
		}
	}
	require.True(t, full, "the 6 MiB volume never filled after %d messages", tr.count(victim))
	require.Empty(t, tr.surfacing, "TR's national system saw errors")
	t.Logf("the volume filled after %d births", tr.count(victim))
	// Full, the node refuses what it cannot store — a commit that needs
	// the file to grow — and takes what still fits: TR keeps retrying.
	// Keep the pressure on and watch what it says.
	var wg sync.WaitGroup
	stop, cancel := context.WithCancel(ctx)
	tr.load(stop, &wg, c.local(t, "TR"), sample(t, birthToKZ), 200, 50*time.Millisecond)
	poll(t, 60*time.Second, victim+"'s crvsx_storage_full gauge at 1", func() (bool, string) {
		m := httpGet(t, "http://"+c.mf.Published[victim].Health+"/metrics")
		return strings.Contains(m, "\ncrvsx_storage_full 1"), "not yet"
	})
	assert.Equal(t, "ok\n", httpGet(t, "http://"+c.mf.Published[victim].Health+"/livez"), "a full volume does not kill the node")
	refused := 0
	for _, id := range tr.subsSoFar() {
		sub, err := c.local(t, "TR").Submission(ctx, id)
		require.NoError(t, err)
		for _, d := range sub.Deliveries {
			if strings.Contains(d.LastError, "STORAGE_FULL") || strings.Contains(d.LastError, "507") {
				refused++
			}
		}
	}
	assert.Positive(t, refused, "no delivery of TR was refused for a full volume")
	t.Logf("%d of TR's deliveries were last refused with 507 STORAGE_FULL", refused)
	cancel()
	wg.Wait()

	// Space returns: the tmpfs grows, as an operator would grow a volume.
	out, err := exec.Command("mount", "-o", "remount,size=128m", data).CombinedOutput()
	require.NoError(t, err, "%s", out)
	grown := time.Now()
	c.waitReady(t, victim, 60*time.Second)
	t.Logf("%s ready again %s after the volume grew", victim, time.Since(grown).Round(time.Millisecond))
	exactlyOnce(t, ctx, c, tr, victim, 3*time.Minute)
}

// TestDockerFaultSkewedClock: Türkiye's node runs ten minutes ahead (a
// test image, CRVSX_FAKE_TIME_OFFSET). Its births are refused for their
// time and stay queued; its own /readyz and log say its clock is off.
func TestDockerFaultSkewedClock(t *testing.T) {
	ctx := context.Background()
	image := dockerImageTags(t, "crvsx_failpoint")
	c := startComposeOverride(t, image, func(*composeNet) string {
		return "version: \"2.4\"\nservices:\n  tr:\n    environment:\n      CRVSX_FAKE_TIME_OFFSET: 10m\n"
	})
	local := c.local(t, "TR")
	submitted, err := local.Submit(ctx, sample(t, birthToTJ), nil, "")
	require.NoError(t, err, "TR's national system submits as usual")
	poll(t, 60*time.Second, "TR says its clock is off", func() (bool, string) {
		ok, body := c.ready("TR")
		return !ok && strings.Contains(body, "clock off by +10m"), body
	})
	m := httpGet(t, "http://"+c.mf.Published["TR"].Health+"/metrics")
	assert.Regexp(t, `(?m)^crvsx_clock_offset_seconds 59\d|^crvsx_clock_offset_seconds 60\d`, m)
	logs := c.compose(t, "logs", "--no-color", "tr")
	assert.Contains(t, logs, "clock appears to be ahead of peers by ~10m")
	sub, err := local.Submission(ctx, submitted.ID)
	require.NoError(t, err)
	require.Len(t, sub.Deliveries, 1)
	assert.NotEqual(t, "delivered", sub.Deliveries[0].Status)
	assert.Contains(t, sub.Deliveries[0].LastError, "MESSAGE_FROM_FUTURE")
	assert.Empty(t, inboxCounts(t, ctx, c.local(t, "TJ")), "TJ took a message from the future")
	ok, _ := c.ready("TJ")
	assert.True(t, ok, "the receiver's clock is right: it stays ready")
}
