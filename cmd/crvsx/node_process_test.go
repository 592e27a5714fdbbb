package main

// The crash and fault tests of the exchange (node/exchange DESIGN.md §7)
// with real `crvsx node` processes on loopback: a receiver killed with
// SIGKILL between its durable write and its answer, a sender killed between
// the receipt and recording it, a peer down for a while, hostile inbound
// messages, SIGTERM in the middle of traffic, a node that cannot start —
// and every event type end to end (in process, on a five-member devnet).
// The exact crash points are the failpoints of node/internal/failpoint,
// armed with CRVSX_FAILPOINT in one process's environment.
//
// Every wait polls with a deadline; nothing asserts on a fixed sleep.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node"
	"github.com/ecrn/crvsx/node/devnet"
	"github.com/ecrn/crvsx/node/devnet/samples"
	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/node/server"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The failpoints of node/exchange (DESIGN.md §7).
const (
	fpInboundAfterAccept = "inbound-after-accept"
	fpDeliverBeforeMark  = "deliver-before-mark"
)

// Bounds of the harness, generous for a loaded 2-core machine running the
// tests with -race.
const (
	readyTimeout    = 60 * time.Second // a process until /readyz answers 200
	deliverTimeout  = 60 * time.Second // a delivery until delivered
	stopTimeout     = 10 * time.Second // SIGTERM until exit 0: "a few seconds"
	exitWaitTimeout = 30 * time.Second // a process until it exits by itself (a failpoint)
)

// procNet is a devnet folder whose members run as real `crvsx node`
// processes.
type procNet struct {
	t     *testing.T
	dir   string
	logs  string
	nodes map[string]*procNode
	view  *trust.View // the genesis trust view: checks receipts and pins
}

// procNode is one member's node process, started and stopped again on the
// same configuration and data.
type procNode struct {
	net        *procNet
	country    string
	nodeID     string
	cfgPath    string
	cfg        node.Config
	token      string
	adminToken string // the admin API's
	starts     int
	fp         string // the failpoint of the running process

	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	logPath string
}

// newProcNet generates a devnet of the countries in a temporary folder.
// Nothing runs yet. On failure every process log is dumped; at the end
// every process still running is killed.
func newProcNet(t *testing.T, countries ...string) *procNet {
	t.Helper()
	base := t.TempDir()
	pn := &procNet{t: t, dir: generateDevnet(t, base, countries), logs: filepath.Join(base, "logs"), nodes: map[string]*procNode{}}
	require.NoError(t, os.MkdirAll(pn.logs, 0o700))
	for _, c := range countries {
		cfgPath := filepath.Join(pn.dir, c, "node.json")
		cfg, err := node.LoadConfig(cfgPath)
		require.NoError(t, err)
		tok, err := firstToken(filepath.Join(pn.dir, c, "tokens"))
		require.NoError(t, err)
		adminTok, err := firstToken(cfg.Admin.TokensFile)
		require.NoError(t, err)
		pn.nodes[c] = &procNode{net: pn, country: c, nodeID: cfg.NodeID, cfgPath: cfgPath, cfg: cfg, token: tok, adminToken: adminTok}
	}
	pn.view = genesisView(t, pn.dir)
	t.Cleanup(func() {
		for _, c := range countries {
			pn.nodes[c].killIfRunning()
		}
		if t.Failed() {
			pn.dumpLogs()
		}
	})
	return pn
}

// generateDevnet generates a devnet of the countries in a new folder under
// base and returns it. devnet.Generate reserves each member's five ports on
// its own and releases them, so two members can be given the same port
// (about one 3-member devnet in 30): such a devnet could never start, and
// is generated again.
func generateDevnet(t *testing.T, base string, countries []string) string {
	t.Helper()
	for try := 1; ; try++ {
		dir := filepath.Join(base, fmt.Sprintf("devnet-%d", try))
		require.NoError(t, devnet.Generate(dir, devnet.Options{Countries: countries, Fast: true}))
		seen := map[string]string{}
		dup := ""
		for _, c := range countries {
			cfg, err := node.LoadConfig(filepath.Join(dir, c, "node.json"))
			require.NoError(t, err)
			l := cfg.Listen
			for _, a := range []string{l.Peer, l.Local, l.Admin, l.Health, l.Raft} {
				if o, ok := seen[a]; ok && dup == "" {
					dup = fmt.Sprintf("%s given to %s and %s", a, o, c)
				}
				seen[a] = c
			}
		}
		if dup == "" {
			return dir
		}
		require.Less(t, try, 10, "devnet.Generate: %s", dup)
		t.Logf("devnet.Generate: %s; generating again", dup)
	}
}

// genesisView is the trust view of the devnet's genesis: the members'
// signing keys and the nodes' TLS pins.
func genesisView(t *testing.T, dir string) *trust.View {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(dir, "genesis.json"))
	require.NoError(t, err)
	endFile, err := os.ReadFile(filepath.Join(dir, "endorsements.json"))
	require.NoError(t, err)
	ends, err := trust.ParseEndorsementsFile(endFile, doc)
	require.NoError(t, err)
	gen, err := trust.ParseGenesis(doc, ends)
	require.NoError(t, err)
	return trust.NewView(trust.NewState(gen))
}

func (pn *procNet) dumpLogs() {
	files, _ := filepath.Glob(filepath.Join(pn.logs, "*.log"))
	slices.Sort(files)
	for _, f := range files {
		b, _ := os.ReadFile(f)
		const max = 24 << 10
		if len(b) > max {
			b = append([]byte("…\n"), b[len(b)-max:]...)
		}
		pn.t.Logf("==== %s ====\n%s", filepath.Base(f), b)
	}
}

// startAll starts every member at once (their registry needs a quorum to
// be ready) and waits until each is ready. failpoints arms a failpoint in
// some members' processes.
func (pn *procNet) startAll(failpoints map[string]string) {
	pn.t.Helper()
	t0 := time.Now()
	cs := slices.Sorted(func(yield func(string) bool) {
		for c := range pn.nodes {
			if !yield(c) {
				return
			}
		}
	})
	for _, c := range cs {
		pn.nodes[c].start(failpoints[c])
	}
	for _, c := range cs {
		pn.nodes[c].waitReady()
	}
	pn.t.Logf("network %v ready in %s", cs, time.Since(t0).Round(time.Millisecond))
}

// start runs `crvsx node --config node.json` with the failpoint fp armed
// ("" for none), its output to a log file of its own.
func (p *procNode) start(fp string) {
	t := p.net.t
	t.Helper()
	require.Nil(t, p.cmd, "%s is running", p.country)
	p.fp = fp
	p.starts++
	p.logPath = filepath.Join(p.net.logs, fmt.Sprintf("%s-%d.log", p.country, p.starts))
	f, err := os.Create(p.logPath)
	require.NoError(t, err)
	defer f.Close()
	if fp != "" {
		fmt.Fprintf(f, "# %s=%s\n", "CRVSX_FAILPOINT", fp)
	}
	cmd := exec.Command(binary, "node", "--config", p.cfgPath)
	cmd.Stdout, cmd.Stderr = f, f
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "CRVSX_FAILPOINT=") })
	if fp != "" {
		env = append(env, "CRVSX_FAILPOINT="+fp)
	}
	cmd.Env = env
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	p.cmd, p.done = cmd, done
}

func (p *procNode) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitReady polls /readyz on the health listener until it answers 200.
// A process that could not bind one of its ports is started again: the
// devnet's ports are free when generated, but a client socket may take one
// as its ephemeral port until the node binds it.
func (p *procNode) waitReady() {
	t := p.net.t
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(readyTimeout)
	last := ""
	for {
		if p.exited() {
			out, _ := os.ReadFile(p.logPath)
			if bytes.Contains(out, []byte("address already in use")) && p.starts < 10 && time.Now().Before(deadline) {
				t.Logf("%s: a port was taken (%s); starting again", p.country, filepath.Base(p.logPath))
				p.cmd, p.done = nil, nil
				time.Sleep(250 * time.Millisecond)
				p.start(p.fp)
				continue
			}
			t.Fatalf("%s exited while starting: %v", p.country, p.cmd.ProcessState)
		}
		resp, err := hc.Get("http://" + p.cfg.Listen.Health + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%s %s", resp.Status, bytes.TrimSpace(b))
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s: %s", p.country, readyTimeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitExit waits until the process has exited by itself and returns how.
func (p *procNode) waitExit(timeout time.Duration) *os.ProcessState {
	t := p.net.t
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s still running after %s", p.country, timeout)
	}
	st := p.cmd.ProcessState
	p.cmd, p.done = nil, nil
	return st
}

// stop sends SIGTERM and requires a clean exit (status 0) within
// stopTimeout; it returns how long the node took.
func (p *procNode) stop() time.Duration {
	t := p.net.t
	t.Helper()
	require.NotNil(t, p.cmd, "%s is not running", p.country)
	t0 := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		t.Fatalf("%s did not exit within %s of SIGTERM", p.country, stopTimeout)
	}
	took := time.Since(t0)
	st := p.cmd.ProcessState
	p.cmd, p.done = nil, nil
	require.True(t, st.Exited() && st.ExitCode() == 0, "%s after SIGTERM: %v, want exit status 0", p.country, st)
	t.Logf("%s stopped cleanly by SIGTERM in %s", p.country, took.Round(time.Millisecond))
	return took
}

// killIfRunning ends a process of this test with SIGKILL (cleanup).
func (p *procNode) killIfRunning() {
	if p.cmd == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.cmd, p.done = nil, nil
}

func killedBySIGKILL(st *os.ProcessState) bool {
	ws, ok := st.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// local is a client of the member's local API.
func (p *procNode) local() *server.LocalClient {
	return &server.LocalClient{BaseURL: "http://" + p.cfg.Listen.Local, Token: p.token, HTTP: &http.Client{Timeout: 15 * time.Second}}
}

// audit is the admin API's verification of the node's audit chain.
type auditHead struct {
	Head     string `json:"head"`
	Entries  uint64 `json:"entries"`
	Verified bool   `json:"verified"`
}

func (p *procNode) audit(ctx context.Context) auditHead {
	t := p.net.t
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.cfg.Listen.Admin+"/v1/admin/audit", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+p.adminToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s audit: %s", p.country, b)
	var h auditHead
	require.NoError(t, json.Unmarshal(b, &h))
	return h
}

// metric reads one sample of the node's /metrics ("name{labels}"); 0 when
// absent.
func (p *procNode) metric(series string) float64 {
	t := p.net.t
	t.Helper()
	resp, err := http.Get("http://" + p.cfg.Listen.Health + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			require.NoError(t, err, line)
			return f
		}
	}
	return 0
}

// poll calls cond every 100 ms until it holds or timeout passes; status
// says why it does not hold yet.
func poll(t *testing.T, timeout time.Duration, what string, cond func() (ok bool, status string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, status := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s; last: %s", what, timeout, status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// withoutMessageID returns a message with its messageId removed, so that
// the node assigns one.
func withoutMessageID(t *testing.T, msg []byte) []byte {
	t.Helper()
	return withoutMembers(t, msg, "messageId")
}

// withoutMembers returns msg without the named top-level members.
func withoutMembers(t *testing.T, msg []byte, names ...string) []byte {
	t.Helper()
	require.NotNil(t, msg)
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m))
	for _, n := range names {
		delete(m, n)
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// setMembers returns msg with top-level members replaced.
func setMembers(t *testing.T, msg []byte, members map[string]any) []byte {
	t.Helper()
	require.NotNil(t, msg)
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m))
	maps.Copy(m, members)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// sample returns a devnet sample without its messageId.
func sample(t *testing.T, name string) []byte {
	t.Helper()
	return withoutMessageID(t, samples.Get(name))
}

// inboxAll reads a whole inbox from the start, waiting while the node's
// registry replica is not in sync (the inbox fails closed then).
func inboxAll(t *testing.T, ctx context.Context, c *server.LocalClient) []server.InboxRecord {
	t.Helper()
	var out []server.InboxRecord
	poll(t, deliverTimeout, "read the inbox", func() (bool, string) {
		out = nil
		after := uint64(0)
		for {
			p, err := c.Inbox(ctx, after, 1000)
			if err != nil {
				return false, err.Error()
			}
			out = append(out, p.Records...)
			if len(p.Records) == 0 || p.Next <= after {
				return true, ""
			}
			after = p.Next
		}
	})
	return out
}

// delivery returns the delivery of a submission to recipient.
func delivery(v *server.SubmissionView, recipient string) (server.DeliveryView, bool) {
	for _, d := range v.Deliveries {
		if d.Recipient == recipient {
			return d, true
		}
	}
	return server.DeliveryView{}, false
}

// waitDelivered waits until the submission's delivery to recipient is
// delivered, failing at once if it goes to dead-letter.
func waitDelivered(t *testing.T, ctx context.Context, c *server.LocalClient, subID, recipient string) server.DeliveryView {
	t.Helper()
	var dv server.DeliveryView
	poll(t, deliverTimeout, "delivery of "+subID+" to "+recipient, func() (bool, string) {
		v, err := c.Submission(ctx, subID)
		if err != nil {
			return false, err.Error()
		}
		d, ok := delivery(v, recipient)
		if !ok {
			t.Fatalf("submission %s has no delivery to %s: %+v", subID, recipient, v)
		}
		if d.Status == "dead" {
			t.Fatalf("delivery %s to %s dead-lettered: %s", d.MessageID, recipient, d.DeadReason)
		}
		dv = d
		return d.Status == "delivered", fmt.Sprintf("%s after %d attempts, last error %q", d.Status, d.Attempts, d.LastError)
	})
	return dv
}

// checkReceipt checks a delivery's receipt as its sender does (SPEC §8.3).
func checkReceipt(t *testing.T, keys *trust.View, dv server.DeliveryView) {
	t.Helper()
	digest, err := hex.DecodeString(dv.SHA256)
	require.NoError(t, err)
	require.Len(t, digest, 32)
	_, err = exchange.CheckReceipt([]byte(dv.Receipt), exchange.SentMessage{Recipient: dv.Recipient, MessageID: dv.MessageID, Digest: [32]byte(digest)},
		keys, keys, time.Now())
	require.NoError(t, err, "receipt of %s", dv.MessageID)
}

// records returns the inbox records of one (sender, messageId).
func records(recs []server.InboxRecord, sender, messageID string) []server.InboxRecord {
	var out []server.InboxRecord
	for _, r := range recs {
		if r.Sender == sender && r.MessageID == messageID {
			out = append(out, r)
		}
	}
	return out
}

// TestReceiverKilledAfterDurableWrite: TJ dies by SIGKILL right after its
// durable write of TR's message, before answering (DESIGN §1: "a crash
// between 6 and 7 loses nothing"). Restarted without the failpoint, TJ
// answers TR's retry with the receipt it stored before the crash; it holds
// the message once.
func TestReceiverKilledAfterDurableWrite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pn := newProcNet(t, "TJ", "TR", "KZ")
	pn.startAll(map[string]string{"TJ": fpInboundAfterAccept})
	tj, tr := pn.nodes["TJ"], pn.nodes["TR"]

	subID := protocoltest.NewUUID()
	v, err := tr.local().Submit(ctx, sample(t, "birth-tajik-child-in-istanbul.json"), []string{"TJ"}, subID)
	require.NoError(t, err)
	require.Len(t, v.Deliveries, 1)
	msgID := v.Deliveries[0].MessageID
	t0 := time.Now()

	st := tj.waitExit(exitWaitTimeout)
	require.True(t, killedBySIGKILL(st), "TJ must die by its failpoint's SIGKILL, got %v", st)
	t.Logf("TJ killed at %s %.0f ms after the submission", fpInboundAfterAccept, float64(time.Since(t0).Milliseconds()))

	// TR has no answer: its delivery stays pending and fails while TJ is down.
	poll(t, deliverTimeout, "TR records a failed attempt", func() (bool, string) {
		v, err := tr.local().Submission(ctx, subID)
		if err != nil {
			return false, err.Error()
		}
		d, _ := delivery(v, "TJ")
		return d.Status == "pending" && d.Attempts > 0 && d.LastError != "", fmt.Sprintf("%+v", d)
	})

	tj.start("")
	tj.waitReady()
	dv := waitDelivered(t, ctx, tr.local(), subID, "TJ")
	t.Logf("delivered %.1f s after the crash, %d failed attempts before", time.Since(t0).Seconds(), dv.Attempts)
	assert.GreaterOrEqual(t, dv.Attempts, 1, "the first attempt died with TJ")
	checkReceipt(t, pn.view, dv)

	recs := inboxAll(t, ctx, tj.local())
	require.Len(t, recs, 1, "TJ holds the message exactly once")
	require.Len(t, records(recs, "TR", msgID), 1)
	assert.Equal(t, recs[0].Receipt, dv.Receipt, "TR holds the receipt TJ stored before the crash, not a second one")
	assert.GreaterOrEqual(t, tj.metric(`crvsx_inbound_messages_total{outcome="duplicate"}`), 1.0,
		"the restarted TJ answered TR's retry as a duplicate")
	assert.Zero(t, tj.metric(`crvsx_inbound_messages_total{outcome="accepted"}`), "nothing was accepted anew after the restart")

	// One accept on TJ, one enqueue and one delivery on TR; both chains verify.
	ha, hr := tj.audit(ctx), tr.audit(ctx)
	assert.True(t, ha.Verified && hr.Verified)
	assert.Equal(t, uint64(1), ha.Entries, "TJ: inbound.accepted once")
	assert.Equal(t, uint64(2), hr.Entries, "TR: outbound.enqueued, outbound.delivered")
}

// TestSenderKilledBeforeRecordingReceipt: TR dies by SIGKILL after TJ
// answered with a valid receipt and before TR recorded it. Restarted, TR
// sends again; TJ answers with its stored receipt; the delivery ends
// delivered once and TJ holds the message once.
func TestSenderKilledBeforeRecordingReceipt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pn := newProcNet(t, "TJ", "TR", "KZ")
	pn.startAll(map[string]string{"TR": fpDeliverBeforeMark})
	tj, tr := pn.nodes["TJ"], pn.nodes["TR"]

	// A submission id of our own: if TR dies before the 202 reaches us, the
	// same request after the restart is answered from the store.
	subID := protocoltest.NewUUID()
	msg := sample(t, "birth-tajik-child-in-istanbul.json")
	_, submitErr := tr.local().Submit(ctx, msg, []string{"TJ"}, subID)
	t0 := time.Now()

	st := tr.waitExit(exitWaitTimeout)
	require.True(t, killedBySIGKILL(st), "TR must die by its failpoint's SIGKILL, got %v", st)
	t.Logf("TR killed at %s (submit answered: %v)", fpDeliverBeforeMark, submitErr == nil)

	// TJ has the message already.
	var msgID string
	poll(t, deliverTimeout, "TJ has the message", func() (bool, string) {
		p, err := tj.local().Inbox(ctx, 0, 10)
		if err != nil {
			return false, err.Error()
		}
		if len(p.Records) == 1 {
			msgID = p.Records[0].MessageID
		}
		return len(p.Records) == 1, fmt.Sprintf("%d records", len(p.Records))
	})

	tr.start("")
	tr.waitReady()
	if submitErr != nil {
		v, err := tr.local().Submit(ctx, msg, []string{"TJ"}, subID)
		require.NoError(t, err)
		require.True(t, v.Duplicate, "the submission was durable before TR delivered it")
	}
	dv := waitDelivered(t, ctx, tr.local(), subID, "TJ")
	t.Logf("delivered %.1f s after the crash", time.Since(t0).Seconds())
	assert.Equal(t, msgID, dv.MessageID)
	checkReceipt(t, pn.view, dv)

	recs := inboxAll(t, ctx, tj.local())
	require.Len(t, recs, 1, "TJ holds the message exactly once")
	assert.Equal(t, recs[0].Receipt, dv.Receipt, "TR recorded the receipt TJ stored")
	assert.Equal(t, 1.0, tj.metric(`crvsx_inbound_messages_total{outcome="accepted"}`))
	assert.GreaterOrEqual(t, tj.metric(`crvsx_inbound_messages_total{outcome="duplicate"}`), 1.0, "TR's resend was absorbed")

	ha, hr := tj.audit(ctx), tr.audit(ctx)
	assert.True(t, ha.Verified, "TJ's audit chain verifies")
	assert.True(t, hr.Verified, "TR's audit chain verifies")
	assert.Equal(t, uint64(1), ha.Entries, "TJ: inbound.accepted once")
	assert.Equal(t, uint64(2), hr.Entries, "TR: outbound.enqueued, outbound.delivered once")
}

// TestPeerDownThenBack: KZ is stopped; TR's five messages to it queue and
// their attempts fail; KZ restarts and receives all five, in order.
func TestPeerDownThenBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pn := newProcNet(t, "TJ", "TR", "KZ")
	pn.startAll(nil)
	tr, kz := pn.nodes["TR"], pn.nodes["KZ"]

	kz.stop()
	type queued struct{ sub, msgID string }
	var qs []queued
	for range 5 {
		v, err := tr.local().Submit(ctx, sample(t, "birth-kazakh-child-in-istanbul.json"), []string{"KZ"}, "")
		require.NoError(t, err)
		d, ok := delivery(v, "KZ")
		require.True(t, ok)
		qs = append(qs, queued{v.ID, d.MessageID})
	}
	t0 := time.Now()
	// The head of the queue is tried and fails; none is delivered.
	poll(t, deliverTimeout, "failed attempts while KZ is down", func() (bool, string) {
		v, err := tr.local().Submission(ctx, qs[0].sub)
		if err != nil {
			return false, err.Error()
		}
		d, _ := delivery(v, "KZ")
		return d.Attempts >= 2 && d.LastError != "", fmt.Sprintf("%d attempts, last error %q", d.Attempts, d.LastError)
	})
	for _, q := range qs {
		v, err := tr.local().Submission(ctx, q.sub)
		require.NoError(t, err)
		d, _ := delivery(v, "KZ")
		require.Equal(t, "pending", d.Status, "nothing is delivered while KZ is down")
	}
	v, err := tr.local().Submission(ctx, qs[0].sub)
	require.NoError(t, err)
	head, _ := delivery(v, "KZ")
	t.Logf("while KZ was down (%.1f s): %d attempts, last error %q", time.Since(t0).Seconds(), head.Attempts, head.LastError)

	kz.start("")
	kz.waitReady()
	t1 := time.Now()
	for _, q := range qs {
		dv := waitDelivered(t, ctx, tr.local(), q.sub, "KZ")
		checkReceipt(t, pn.view, dv)
	}
	t.Logf("all 5 delivered %.1f s after KZ was ready", time.Since(t1).Seconds())

	recs := inboxAll(t, ctx, kz.local())
	var got, want []string
	for _, r := range recs {
		got = append(got, r.MessageID)
	}
	for _, q := range qs {
		want = append(want, q.msgID)
	}
	assert.Equal(t, want, got, "KZ's inbox holds the five messages once each, in submission order")
	assert.True(t, kz.audit(ctx).Verified)
}

// pinnedPeerClient is an HTTPS client of a node's peer API with the client key
// cert (nil: none). There is no CA: the server's key is checked against the
// pin the genesis registers for serverNodeID, at every handshake, as
// node/peer does.
func pinnedPeerClient(t *testing.T, view *trust.View, serverNodeID string, cert *tls.Certificate) *http.Client {
	t.Helper()
	nd, ok := view.Node(serverNodeID)
	require.True(t, ok, serverNodeID)
	pin := strings.ToLower(nd.TLSSPKISHA256)
	conf := &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{"http/1.1"},
		// No CA in this network: VerifyConnection checks the registry pin.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || protocol.SPKIPin(cs.PeerCertificates[0].RawSubjectPublicKeyInfo) != pin {
				return errors.New("the server's TLS key is not the one pinned for " + serverNodeID)
			}
			return nil
		},
	}
	if cert != nil {
		conf.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: conf, DisableKeepAlives: true,
		ExpectContinueTimeout: 10 * time.Second}}
}

func loadTLSKey(t *testing.T, dir, country string) tls.Certificate {
	t.Helper()
	certPEM, err := os.ReadFile(filepath.Join(dir, country, "keys", "tls.crt"))
	require.NoError(t, err)
	keyPEM, err := os.ReadFile(filepath.Join(dir, country, "keys", "tls.key"))
	require.NoError(t, err)
	cert, err := pintls.Load(certPEM, keyPEM)
	require.NoError(t, err)
	return cert
}

func loadSigner(t *testing.T, dir, country string) *jws.Signer {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, country, "keys", "signing.private.jwk"))
	require.NoError(t, err)
	s, err := jws.ParsePrivateJWK(b)
	require.NoError(t, err)
	return s
}

type answer struct {
	status int
	ctype  string
	body   []byte
}

// postMessage posts body to POST /v1/messages with "Expect:
// 100-continue", so that a body the node refuses unread (size, media type,
// transport identity) is never sent: otherwise the client may still be
// writing when the node closes the connection, and see the reset instead of
// the answer. chunked hides the length (Transfer-Encoding: chunked). A
// transport error is retried twice — the node's answer is what is tested —
// and tries counts every request sent.
func postMessage(t *testing.T, c *http.Client, url, ctype string, body []byte, chunked bool, tries *int) answer {
	t.Helper()
	var lastErr error
	for range 3 {
		if tries != nil {
			*tries++
		}
		var r io.Reader = bytes.NewReader(body)
		if chunked {
			r = io.MultiReader(r)
		}
		req, err := http.NewRequest(http.MethodPost, url+"/v1/messages", r)
		require.NoError(t, err)
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Expect", "100-continue")
		resp, err := c.Do(req)
		if err != nil {
			lastErr = err
			t.Logf("POST /v1/messages: %v (retrying)", err)
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			lastErr = err
			t.Logf("POST /v1/messages: reading the answer: %v (retrying)", err)
			continue
		}
		return answer{resp.StatusCode, resp.Header.Get("Content-Type"), b}
	}
	t.Fatalf("POST /v1/messages: no answer: %v", lastErr)
	return answer{}
}

// requireProblem checks an answer is the RFC 9457 problem document of code.
func requireProblem(t *testing.T, name string, a answer, code protocol.Code) {
	t.Helper()
	mt, _, _ := mime.ParseMediaType(a.ctype)
	require.Equal(t, protocol.ProblemContentType, mt, "%s: Content-Type (body %s)", name, a.body)
	var p protocol.Problem
	require.NoError(t, json.Unmarshal(a.body, &p), "%s: %s", name, a.body)
	assert.Equal(t, code, p.Code, "%s: code (%s)", name, p.Detail)
	assert.Equal(t, code.Status(), a.status, "%s: HTTP status", name)
	assert.Equal(t, a.status, p.Status, "%s: status member", name)
	assert.Equal(t, code.TypeURI(), p.Type, "%s: type", name)
	assert.NotEmpty(t, p.Title, "%s: title", name)
}

// TestHostileInboundThenValid: malformed and hostile messages to TJ's peer
// API, over mutual TLS with TR's node key, are each answered with the
// problem document of their code, audited, and store nothing; the next
// valid message is accepted, a resend is answered with the same receipt,
// and other content under its id is a conflict.
func TestHostileInboundThenValid(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pn := newProcNet(t, "TJ", "TR", "KZ")
	pn.startAll(nil)
	tj := pn.nodes["TJ"]
	url := "https://" + tj.cfg.Listen.Peer
	trCert := loadTLSKey(t, pn.dir, "TR")
	asTR := pinnedPeerClient(t, pn.view, tj.nodeID, &trCert)
	trSig, kzSig := loadSigner(t, pn.dir, "TR"), loadSigner(t, pn.dir, "KZ")
	before := tj.audit(ctx)

	sign := func(s *jws.Signer, msg []byte) []byte {
		tok, err := s.Sign(protocol.TypEvent, msg)
		require.NoError(t, err)
		return tok
	}
	valid := sign(trSig, protocoltest.BirthMessage("TR", "TJ"))
	seg := strings.Split(string(valid), ".")
	require.Len(t, seg, 3)
	b64 := base64.RawURLEncoding.EncodeToString
	noneHeader := b64([]byte(`{"alg":"none","kid":"` + trSig.Kid() + `","typ":"` + protocol.TypEvent + `"}`))
	sig, err := base64.RawURLEncoding.DecodeString(seg[2])
	require.NoError(t, err)
	sig[7] ^= 0x10
	noID := withoutMessageID(t, protocoltest.BirthMessage("TR", "TJ"))
	// A valid message for KZ (a Kazakh child), fresh: only its recipient is wrong here.
	forKZ := setMembers(t, samples.Get("birth-kazakh-child-in-istanbul.json"), map[string]any{
		"messageId": protocoltest.NewUUID(), "createdAt": time.Now().UTC().Format(time.RFC3339)})
	big := bytes.Repeat([]byte("A"), protocol.MaxMessageBytes+1)

	type hostile struct {
		name    string
		ctype   string
		body    []byte
		chunked bool
		code    protocol.Code
		audited bool // refused by the receiver (steps 2–3), which audits it
	}
	cases := []hostile{
		{"garbage", protocol.MediaTypeJOSE, []byte("this is not a JWS \x00\xff"), false, protocol.CodeNotCompact, true},
		{"flattened JSON JWS", protocol.MediaTypeJOSE, []byte(`{"payload":"` + seg[1] + `","protected":"` + seg[0] + `","signature":"` + seg[2] + `"}`), false, protocol.CodeNotCompact, true},
		{"alg none with a real signature", protocol.MediaTypeJOSE, []byte(noneHeader + "." + seg[1] + "." + seg[2]), false, protocol.CodeAlgNone, true},
		{"unsecured (empty signature)", protocol.MediaTypeJOSE, []byte(noneHeader + "." + seg[1] + "."), false, protocol.CodeEmptySignature, true},
		{"tampered signature", protocol.MediaTypeJOSE, []byte(seg[0] + "." + seg[1] + "." + b64(sig)), false, protocol.CodeSignatureInvalid, true},
		{"signed by TR claiming sender KZ", protocol.MediaTypeJOSE, sign(trSig, protocoltest.BirthMessage("KZ", "TJ")), false, protocol.CodeSenderMismatch, true},
		{"KZ's message over TR's connection", protocol.MediaTypeJOSE, sign(kzSig, protocoltest.BirthMessage("KZ", "TJ")), false, protocol.CodeSenderMismatch, true},
		{"addressed to KZ", protocol.MediaTypeJOSE, sign(trSig, forKZ), false, protocol.CodeRecipientMismatch, true},
		{"schema-invalid (no messageId)", protocol.MediaTypeJOSE, sign(trSig, noID), false, protocol.CodeSchemaInvalid, true},
		{"created an hour from now", protocol.MediaTypeJOSE, sign(trSig, protocoltest.BirthMessageAt("TR", "TJ", protocoltest.NewUUID(), time.Now().Add(time.Hour))), false, protocol.CodeFromFuture, true},
		{"oversize with Content-Length", protocol.MediaTypeJOSE, big, false, protocol.CodeTooLarge, false},
		{"oversize chunked", protocol.MediaTypeJOSE, big, true, protocol.CodeTooLarge, false},
		{"wrong media type", "application/json", valid, false, protocol.CodeUnsupported, false},
	}
	audited, tries := 0, 0
	for _, c := range cases {
		requireProblem(t, c.name, postMessage(t, asTR, url, c.ctype, c.body, c.chunked, &tries), c.code)
		if c.audited {
			audited++
		}
	}
	// Transport identity: no client key, or one no node has registered.
	stranger, err := pintls.Generate("XX-CRVS", jws.AlgES256)
	require.NoError(t, err)
	requireProblem(t, "no client certificate", postMessage(t, pinnedPeerClient(t, pn.view, tj.nodeID, nil), url, protocol.MediaTypeJOSE, valid, false, nil), protocol.CodeNodePinMismatch)
	requireProblem(t, "unregistered client key", postMessage(t, pinnedPeerClient(t, pn.view, tj.nodeID, &stranger), url, protocol.MediaTypeJOSE, valid, false, nil), protocol.CodeNodePinMismatch)

	// Nothing stored but the audit entries of the refusals.
	p, err := tj.local().Inbox(ctx, 0, 10)
	require.NoError(t, err)
	require.Empty(t, p.Records, "no refused message is stored")
	after := tj.audit(ctx)
	assert.True(t, after.Verified)
	assert.GreaterOrEqual(t, after.Entries, before.Entries+uint64(audited), "each refusal by the receiver is audited")
	t.Logf("audit entries of %d refusals: %d (the receiver audits %d; size, media type and pin refusals happen before it)",
		len(cases)+2, after.Entries-before.Entries, audited)
	rejected := sumRejected(t, tj)
	assert.GreaterOrEqual(t, rejected, float64(len(cases)), "every refusal of POST /v1/messages is counted in the metrics")
	assert.LessOrEqual(t, rejected, float64(tries))

	// The next valid message is accepted, with a receipt TR can check.
	a := postMessage(t, asTR, url, protocol.MediaTypeJOSE, valid, false, nil)
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	mt, _, _ := mime.ParseMediaType(a.ctype)
	require.Equal(t, protocol.MediaTypeJOSE, mt)
	var payload struct {
		MessageID string `json:"messageId"`
	}
	pb, err := base64.RawURLEncoding.DecodeString(seg[1])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(pb, &payload))
	_, err = exchange.CheckReceipt(a.body, exchange.SentMessage{Recipient: "TJ", MessageID: payload.MessageID, Digest: sha256.Sum256(valid)},
		pn.view, pn.view, time.Now())
	require.NoError(t, err, "the receipt passes the sender's checks")

	// The same message again: the same receipt, byte for byte.
	again := postMessage(t, asTR, url, protocol.MediaTypeJOSE, valid, false, nil)
	require.Equal(t, http.StatusOK, again.status)
	assert.Equal(t, a.body, again.body, "a resend is answered with the stored receipt")
	// Other content under the same messageId: a conflict, nothing stored.
	other := sign(trSig, protocoltest.BirthMessageAt("TR", "TJ", payload.MessageID, time.Now().Add(-time.Minute)))
	requireProblem(t, "same messageId, other content", postMessage(t, asTR, url, protocol.MediaTypeJOSE, other, false, nil), protocol.CodeConflict)

	recs := inboxAll(t, ctx, tj.local())
	require.Len(t, recs, 1)
	assert.Equal(t, payload.MessageID, recs[0].MessageID)
	assert.Equal(t, string(a.body), recs[0].Receipt)
	assert.True(t, tj.audit(ctx).Verified)
}

// sumRejected is the node's count of refused inbound messages, all codes.
func sumRejected(t *testing.T, p *procNode) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.cfg.Listen.Health + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	sum := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "crvsx_inbound_rejected_total{") {
			f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			require.NoError(t, err, line)
			sum += f
		}
	}
	return sum
}

// TestSIGTERMMidTrafficLosesNothing: while TR's national system submits
// messages for TJ one after another, TJ and then TR are stopped with
// SIGTERM; each exits 0 within a few seconds. After both restart, every
// submission TR acknowledged (202) is delivered, and TJ holds each once, in
// submission order.
func TestSIGTERMMidTrafficLosesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pn := newProcNet(t, "TJ", "TR", "KZ")
	pn.startAll(nil)
	tj, tr := pn.nodes["TJ"], pn.nodes["TR"]
	msg := sample(t, "birth-tajik-child-in-istanbul.json")

	type sub struct{ id, msgID string }
	var (
		mu      sync.Mutex
		acked   []sub    // answered 202, in order
		unknown []string // no answer: may or may not be stored
	)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	stop := make(chan struct{})
	done := make(chan struct{})
	c := tr.local()
	c.HTTP = &http.Client{Timeout: 10 * time.Second}
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			id := protocoltest.NewUUID()
			v, err := c.Submit(ctx, msg, []string{"TJ"}, id)
			mu.Lock()
			if err == nil && len(v.Deliveries) == 1 {
				acked = append(acked, sub{id, v.Deliveries[0].MessageID})
			} else {
				unknown = append(unknown, id)
			}
			mu.Unlock()
			if err != nil {
				// TR is stopping or stopped: do not spin.
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
	}()
	waitCount := func(n int) {
		poll(t, deliverTimeout, fmt.Sprintf("%d submissions acknowledged", n), func() (bool, string) {
			k := count()
			return k >= n, fmt.Sprintf("%d", k)
		})
	}

	// TJ is stopped while TR delivers to it.
	waitCount(5)
	poll(t, deliverTimeout, "TJ receives", func() (bool, string) {
		n := tj.metric(`crvsx_inbound_messages_total{outcome="accepted"}`)
		return n >= 2, fmt.Sprintf("%v accepted", n)
	})
	tj.stop()
	// TR is stopped while its national system submits.
	n := count()
	waitCount(n + 5)
	tr.stop()
	close(stop)
	<-done
	mu.Lock()
	t.Logf("acknowledged %d submissions, %d without an answer", len(acked), len(unknown))
	mu.Unlock()

	tj.start("")
	tr.start("")
	tj.waitReady()
	tr.waitReady()
	t0 := time.Now()
	for _, s := range acked {
		waitDelivered(t, ctx, tr.local(), s.id, "TJ")
	}
	t.Logf("all %d acknowledged submissions delivered %.1f s after the restart", len(acked), time.Since(t0).Seconds())
	afterRestart := tj.metric(`crvsx_inbound_messages_total{outcome="accepted"}`)
	assert.Positive(t, afterRestart, "TJ was stopped in the middle of the stream: the rest arrived after its restart")
	t.Logf("TJ accepted %d before its SIGTERM and %.0f after its restart", len(acked)-int(afterRestart), afterRestart)
	// A request without an answer is either stored (and then delivered) or
	// absent.
	extra := map[string]bool{}
	for _, id := range unknown {
		v, err := tr.local().Submission(ctx, id)
		var pe *protocol.ProblemError
		if errors.As(err, &pe) && pe.Problem.Code == protocol.CodeNotFound {
			continue
		}
		require.NoError(t, err)
		d := waitDelivered(t, ctx, tr.local(), v.ID, "TJ")
		extra[d.MessageID] = true
	}

	recs := inboxAll(t, ctx, tj.local())
	var got []string
	seen := map[string]int{}
	for _, r := range recs {
		require.Equal(t, "TR", r.Sender)
		seen[r.MessageID]++
		if !extra[r.MessageID] {
			got = append(got, r.MessageID)
		}
	}
	var want []string
	for _, s := range acked {
		want = append(want, s.msgID)
	}
	for id, k := range seen {
		assert.Equal(t, 1, k, "message %s stored %d times", id, k)
	}
	assert.Equal(t, want, got, "TJ holds every acknowledged message once, in submission order")
	assert.True(t, tj.audit(ctx).Verified)
	assert.True(t, tr.audit(ctx).Verified)
}

// TestEveryEventTypeDeliveredAndReceipted: one realistic example of each
// event message type (schemas/testdata/valid) is submitted by the member
// that registered it to the member it names, on an in-process devnet of
// five members; each is delivered with a receipt that passes the sender's
// check and is in the recipient's inbox once.
func TestEveryEventTypeDeliveredAndReceipted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	examples := []struct{ typ, file string }{
		{protocol.MTLiveBirth, "live-birth-tajik-child-in-istanbul.json"},                  // TR → TJ
		{protocol.MTDeath, "death-kazakh-citizen-in-tashkent.json"},                        // UZ → KZ
		{protocol.MTFetalDeath, "fetal-death-kyrgyz-mother-in-almaty.json"},                // KZ → KG
		{protocol.MTMarriage, "marriage-uzbek-turkish-couple-in-tashkent.json"},            // UZ → TR
		{protocol.MTDivorce, "divorce-of-marriage-registered-in-uzbekistan.json"},          // KZ → UZ
		{protocol.MTAnnulment, "annulment-bigamous-marriage-in-dushanbe.json"},             // TJ → KG
		{protocol.MTJudicialSeparation, "judicial-separation-in-istanbul.json"},            // TR → KZ
		{protocol.MTAdoption, "adoption-sealed-full-adoption-in-almaty.json"},              // KZ → KG
		{protocol.MTLegitimation, "legitimation-by-subsequent-marriage-in-samarkand.json"}, // UZ → TJ
		{protocol.MTRecognition, "recognition-of-paternity-in-bishkek.json"},               // KG → KZ
		{protocol.MTCancellation, "record-cancellation-duplicate-birth-registration.json"}, // TJ → KG
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "devnet.log"))
	require.NoError(t, err)
	defer logf.Close()
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			if len(b) > 48<<10 {
				b = b[len(b)-48<<10:]
			}
			t.Logf("==== devnet log ====\n%s", b)
		}
	})
	countries := []string{"TJ", "TR", "KZ", "UZ", "KG"}
	n, err := devnet.Open(generateDevnet(t, t.TempDir(), countries), devnet.Options{Countries: countries, Fast: true},
		slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	require.NoError(t, err)
	t0 := time.Now()
	for try := 1; ; try++ {
		// A port of the devnet taken meanwhile as a client's ephemeral
		// port is not what this test is about: try again.
		err := n.Start(ctx)
		if err == nil {
			break
		}
		require.True(t, try < 10 && strings.Contains(err.Error(), "address already in use"), "start: %v", err)
		t.Logf("start: %v; trying again", err)
		time.Sleep(250 * time.Millisecond)
	}
	defer n.Stop()
	t.Logf("five in-process nodes ready in %s", time.Since(t0).Round(time.Millisecond))
	client := func(c string) *server.LocalClient {
		m := n.Members[c]
		return &server.LocalClient{BaseURL: m.LocalURL(), Token: m.Token}
	}

	type sent struct {
		typ, from, to, sub string
	}
	var ss []sent
	t1 := time.Now()
	for _, ex := range examples {
		raw, err := os.ReadFile(filepath.Join("..", "..", "schemas", "testdata", "valid", ex.file))
		require.NoError(t, err)
		var env struct {
			MessageType string            `json:"messageType"`
			Sender      protocol.Endpoint `json:"sender"`
			Recipient   protocol.Endpoint `json:"recipient"`
		}
		require.NoError(t, json.Unmarshal(raw, &env))
		require.Equal(t, ex.typ, env.MessageType, ex.file)
		from, to := env.Sender.Country, env.Recipient.Country
		require.Contains(t, n.Members, from, ex.file)
		require.Contains(t, n.Members, to, ex.file)
		// The examples name their own sender nodes; a node sends for itself
		// only (SENDER_NOT_THIS_NODE), so the sender is left to the node.
		v, err := client(from).Submit(ctx, withoutMembers(t, raw, "messageId", "sender"), []string{to}, "")
		require.NoError(t, err, "%s: %s → %s", ex.file, from, to)
		ss = append(ss, sent{ex.typ, from, to, v.ID})
	}
	for _, s := range ss {
		dv := waitDelivered(t, ctx, client(s.from), s.sub, s.to)
		view := n.Members[s.from].Node().Registry().View()
		checkReceipt(t, view, dv)
		recs := inboxAll(t, ctx, client(s.to))
		got := records(recs, s.from, dv.MessageID)
		require.Len(t, got, 1, "%s %s → %s: in the inbox once", s.typ, s.from, s.to)
		assert.Equal(t, s.typ, got[0].MessageType)
		assert.Equal(t, dv.Receipt, got[0].Receipt, "%s: the sender holds the receipt the recipient stored", s.typ)
	}
	t.Logf("%d event types delivered and receipted in %.1f s", len(ss), time.Since(t1).Seconds())
}

// TestNodeStartFailureIsAnError: a node that cannot start (here: its peer
// port is taken) exits with the error, having closed what it opened — not
// with a panic in its clean-up — and starts once the port is free.
func TestNodeStartFailureIsAnError(t *testing.T) {
	pn := newProcNet(t, "TJ", "TR")
	tj := pn.nodes["TJ"]
	ln, err := net.Listen("tcp", tj.cfg.Listen.Peer)
	require.NoError(t, err)
	r := run(t, nil, "node", "--config", tj.cfgPath)
	ln.Close()
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "listen.peer")
	assert.NotContains(t, r.stderr, "panic")
	// The store was closed (its flock released): the node starts now.
	tj.start("")
	poll(t, readyTimeout, "TJ serves", func() (bool, string) {
		if tj.exited() {
			t.Fatalf("TJ exited: %v", tj.cmd.ProcessState)
		}
		resp, err := http.Get("http://" + tj.cfg.Listen.Health + "/livez")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	tj.stop()
}
