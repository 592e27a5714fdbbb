package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The crash test: a child process (this test binary, re-executed with
// crashChildEnv set) accepts, enqueues, delivers and acknowledges in a loop
// with fsync on, and reports every call that returned success on a pipe, one
// line per call (a write of less than PIPE_BUF bytes to a pipe is atomic).
// The parent kills it with SIGKILL at a random moment, reopens the file and
// checks that every reported success is there exactly once, that nothing is
// partial, and that the audit chain verifies; then it starts the next child
// on the same file, which also resumes the deliveries left pending.

const (
	crashChildEnv  = "CRVSX_STORE_CRASH_CHILD"
	crashRoundEnv  = "CRVSX_STORE_CRASH_ROUND"
	crashAckedFile = "acked-accepts.txt"
	crashConsumer  = "national"
)

var crashPeers = []string{"TR-NVI-CRVS", "KZ-MOJ-CRVS", "INT-UNHCR-1"}

// crashPayload is the payload of message mid: the same on every re-send.
func crashPayload(mid string) []byte {
	p := fmt.Sprintf(`{"messageId":%q,"payload":"`, mid)
	return []byte(p + strings.Repeat("b", 2000) + `"}`)
}

func crashInbound(sender, mid string, payload []byte) InboundRecord {
	return InboundRecord{
		Sender: sender, MessageID: mid, MessageType: "event.birth",
		JWS: fakeJWS(payload), PayloadDigest: sha256.Sum256(payload),
		Receipt: fakeJWS([]byte(`{"inResponseTo":"` + mid + `"}`)),
	}
}

func hexd(d [32]byte) string { return hex.EncodeToString(d[:]) }

// crashChild runs in the child process until it is killed.
func crashChild(dir string) int {
	ctx := context.Background()
	round, _ := strconv.Atoi(os.Getenv(crashRoundEnv))
	s, err := Open(ctx, filepath.Join(dir, FileName), Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	var acked [][]string // sender mid seq payloadDigest receiptDigest
	if b, err := os.ReadFile(filepath.Join(dir, crashAckedFile)); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if f := strings.Fields(l); len(f) == 5 {
				acked = append(acked, f)
			}
		}
	}
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...) + "\n"
		outMu.Lock()
		_, _ = os.Stdout.WriteString(line) // one write(2) per line
		outMu.Unlock()
	}
	go func() { // never outlive a parent that died
		time.Sleep(60 * time.Second)
		os.Exit(3)
	}()

	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(round), uint64(g)))
			for i := 0; ; i++ {
				switch {
				case len(acked) > 0 && rng.IntN(8) == 0: // a retry of an acknowledged message, re-signed
					a := acked[rng.IntN(len(acked))]
					r, dup, err := s.Accept(ctx, crashInbound(a[0], a[1], crashPayload(a[1])))
					if err != nil || !dup || hexd(sha256.Sum256(r.Receipt)) != a[4] || strconv.FormatUint(r.Seq, 10) != a[2] {
						say("BAD retry %s %s: dup=%v err=%v", a[0], a[1], dup, err)
						continue
					}
					say("DUPOK %s", a[1])
				case len(acked) > 0 && rng.IntN(16) == 0: // the same id with another payload
					a := acked[rng.IntN(len(acked))]
					_, _, err := s.Accept(ctx, crashInbound(a[0], a[1], append(crashPayload(a[1]), ' ')))
					if !errors.Is(err, ErrConflict) {
						say("BAD conflict %s %s: err=%v", a[0], a[1], err)
						continue
					}
					if err := s.AuditReject(ctx, RejectEntry{Sender: a[0], MessageID: a[1], Code: "MESSAGE_ID_CONFLICT"}); err != nil {
						continue
					}
					say("R")
				default:
					// Every 5th message is sent by all six writers at once.
					mid := fmt.Sprintf("r%d-g%d-%d", round, g, i)
					if i%5 == 0 {
						mid = fmt.Sprintf("r%d-shared-%d", round, i)
					}
					sender := []string{"TJ", "TR", "KZ"}[i%3]
					p := crashPayload(mid)
					r, dup, err := s.Accept(ctx, crashInbound(sender, mid, p))
					if err != nil {
						say("BAD accept %s %s: %v", sender, mid, err)
						continue
					}
					say("A %s %s %d %s %s %v", sender, mid, r.Seq, hexd(r.PayloadDigest), hexd(sha256.Sum256(r.Receipt)), dup)
				}
			}
		})
	}
	for e := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(round), uint64(100+e)))
			for i := 0; ; i++ {
				id := fmt.Sprintf("r%d-e%d-%d", round, e, i)
				peers := crashPeers[:1+rng.IntN(len(crashPeers))]
				sub := Submission{ID: id, Message: []byte(`{"id":"` + id + `"}`)}
				for _, p := range peers {
					sub.Deliveries = append(sub.Deliveries, Delivery{RecipientNodeID: p, MessageID: id + "/" + p, JWS: fakeJWS(crashPayload(id))})
				}
				st, _, err := s.Enqueue(ctx, sub)
				if err != nil {
					say("BAD enqueue %s: %v", id, err)
					continue
				}
				keys := make([]string, len(st.Deliveries))
				for j, d := range st.Deliveries {
					keys[j] = strconv.FormatUint(uint64(d.Key), 10)
				}
				say("E %s %s", id, strings.Join(keys, ","))
			}
		})
	}
	for pi, peer := range crashPeers { // one delivery worker per peer
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(round), uint64(200+pi)))
			for {
				d, err := s.NextDue(ctx, peer, time.Now())
				if err != nil {
					say("BAD next %s: %v", peer, err)
					return
				}
				if d == nil {
					time.Sleep(time.Millisecond)
					continue
				}
				switch n := rng.IntN(40); {
				case n < 4:
					if s.RecordAttempt(ctx, d.Key, Attempt{Err: "connection refused", NextAttemptAt: time.Now()}) == nil {
						say("T %d", d.Key)
					}
				case n == 4:
					if s.MarkDead(ctx, d.Key, "lifetime exceeded", time.Time{}) == nil {
						say("K %s %d %s", peer, d.Key, d.SubmissionID)
					}
				default:
					rc := fakeJWS([]byte(`{"inResponseTo":"` + d.MessageID + `"}`))
					if s.MarkDelivered(ctx, d.Key, rc, time.Time{}) == nil {
						say("M %s %d %s %s", peer, d.Key, d.SubmissionID, hexd(sha256.Sum256(rc)))
					}
				}
			}
		})
	}
	wg.Go(func() {
		for {
			time.Sleep(5 * time.Millisecond)
			c, err := s.Counts(ctx)
			if err != nil || c.Inbox == 0 {
				continue
			}
			if err := s.Ack(ctx, crashConsumer, c.Inbox); err != nil {
				say("BAD ack %d: %v", c.Inbox, err)
				continue
			}
			say("C %d", c.Inbox)
		}
	})
	say("READY")
	wg.Wait()
	return 0
}

// crashModel is what the children reported as done.
type crashModel struct {
	accepted  map[string]accRec // "sender mid"
	fresh     map[string]int    // reports with duplicate=false per message
	subs      map[string][]uint64
	delivered map[uint64]string // key → receipt digest
	dead      map[uint64]bool
	subOf     map[uint64]string // key → submission, for deliveries finished in a submission whose enqueue was not reported
	acked     uint64
	rejected  int
	lines     int
}

type accRec struct {
	seq             uint64
	payload, rcptID string
}

func (m *crashModel) apply(t *testing.T, line string) {
	f := strings.Fields(line)
	m.lines++
	switch f[0] {
	case "READY", "DUPOK", "T":
	case "BAD":
		t.Errorf("child: %s", line)
	case "A":
		k := f[1] + " " + f[2]
		seq, _ := strconv.ParseUint(f[3], 10, 64)
		r := accRec{seq: seq, payload: f[4], rcptID: f[5]}
		if prev, ok := m.accepted[k]; ok && prev != r {
			t.Errorf("message %s answered with two different records or receipts: %+v and %+v", k, prev, r)
		}
		m.accepted[k] = r
		if f[6] == "false" {
			m.fresh[k]++
		}
	case "E":
		for _, ks := range strings.Split(f[2], ",") {
			k, _ := strconv.ParseUint(ks, 10, 64)
			m.subs[f[1]] = append(m.subs[f[1]], k)
		}
	case "M":
		k, _ := strconv.ParseUint(f[2], 10, 64)
		if prev, ok := m.delivered[k]; ok && prev != f[4] {
			t.Errorf("delivery %d marked delivered twice with different receipts", k)
		}
		m.delivered[k] = f[4]
		m.subOf[k] = f[3]
	case "K":
		k, _ := strconv.ParseUint(f[2], 10, 64)
		m.dead[k] = true
		m.subOf[k] = f[3]
	case "C":
		n, _ := strconv.ParseUint(f[1], 10, 64)
		m.acked = max(m.acked, n)
	case "R":
		m.rejected++
	default:
		t.Errorf("child: unknown line %q", line)
	}
}

func TestCrashKill(t *testing.T) {
	rounds := 12
	if testing.Short() {
		rounds = 3 // still a real crash test, only fewer rounds
	}
	if v := os.Getenv("CRVSX_STORE_CRASH_ROUNDS"); v != "" {
		rounds, _ = strconv.Atoi(v)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d rounds", seed, rounds)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	ctx := context.Background()
	m := &crashModel{
		accepted: map[string]accRec{}, fresh: map[string]int{}, subs: map[string][]uint64{},
		delivered: map[uint64]string{}, dead: map[uint64]bool{}, subOf: map[uint64]string{},
	}
	for round := 1; round <= rounds; round++ {
		// Kill soon after start in some rounds (while opening, first
		// commits), later in others.
		delay := time.Duration(rng.IntN(300)+5) * time.Millisecond
		waitReady := true
		switch round % 4 {
		case 0:
			delay = time.Duration(rng.IntN(10)) * time.Millisecond
		case 2: // while the child starts and opens the file
			delay = time.Duration(rng.IntN(30)) * time.Millisecond
			waitReady = false
		}
		lines, stderr := runCrashChild(t, dir, round, delay, waitReady)
		for _, l := range lines {
			m.apply(t, l)
		}
		t.Logf("round %d: killed %v after %s, %d lines; totals: %d messages, %d submissions, %d delivered, %d dead, ack %d",
			round, delay, map[bool]string{true: "ready", false: "start"}[waitReady], len(lines), len(m.accepted), len(m.subs), len(m.delivered), len(m.dead), m.acked)
		if t.Failed() {
			t.Logf("child stderr:\n%s", stderr)
			return
		}
		verifyCrashModel(t, ctx, dir, m)
		if t.Failed() {
			return
		}
		writeAckedFile(t, dir, m)
	}
	require.Positive(t, len(m.accepted))
	require.Positive(t, len(m.delivered))

	// The last restart: the sender finishes every pending delivery, in
	// order per peer, each once.
	s := mustOpenPath(t, filepath.Join(dir, FileName), Options{})
	peers, err := s.PendingPeers(ctx)
	require.NoError(t, err)
	for _, p := range peers {
		last := DeliveryKey(0)
		for {
			d, err := s.NextDue(ctx, p, time.Now().Add(time.Hour))
			require.NoError(t, err)
			if d == nil {
				break
			}
			require.Greater(t, d.Key, last, "FIFO per peer")
			last = d.Key
			require.NoError(t, s.MarkDelivered(ctx, d.Key, []byte("receipt"), time.Time{}))
		}
	}
	c, err := s.Counts(ctx)
	require.NoError(t, err)
	assert.Zero(t, c.Queued)
	mustCheck(t, s)
	t.Logf("final: %+v", c)
}

// runCrashChild starts a child on dir, kills it with SIGKILL delay after it
// is ready (or after it started, when !waitReady), and returns the complete
// lines it reported.
func runCrashChild(t *testing.T, dir string, round int, delay time.Duration, waitReady bool) ([]string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	ready := make(chan struct{})
	linesCh := make(chan []string, 1)
	go func() {
		var lines []string
		r := bufio.NewReader(out)
		once := sync.OnceFunc(func() { close(ready) })
		defer once()
		for {
			l, err := r.ReadString('\n')
			if err != nil { // EOF; a trailing segment without '\n' is not a report
				linesCh <- lines
				return
			}
			l = strings.TrimSuffix(l, "\n")
			if l == "READY" {
				once()
			}
			lines = append(lines, l)
		}
	}()
	if waitReady {
		select {
		case <-ready:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("child not ready: %s", stderr.String())
		}
	}
	time.Sleep(delay)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	lines := <-linesCh
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	ws, ok := ee.Sys().(syscall.WaitStatus)
	require.True(t, ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL, "child ended by %v, not SIGKILL: %s", err, stderr.String())
	_, _ = io.Copy(io.Discard, out)
	return lines, stderr.String()
}

// verifyCrashModel reopens the file and checks every reported success.
func verifyCrashModel(t *testing.T, ctx context.Context, dir string, m *crashModel) {
	t.Helper()
	s, err := Open(ctx, filepath.Join(dir, FileName), Options{Logger: testLogger(t)})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()

	// No partial record, indexes and counters agree, the chain verifies.
	require.NoError(t, s.Check(ctx))
	_, nAudit, err := s.VerifyAudit(ctx)
	require.NoError(t, err)

	// Every acknowledged accept is there, once, with the receipt answered.
	for k, want := range m.accepted {
		f := strings.Fields(k)
		r, err := s.LookupInbound(ctx, f[0], f[1])
		if !assert.NoError(t, err, "acknowledged message %s lost", k) {
			continue
		}
		assert.Equal(t, want.seq, r.Seq, k)
		assert.Equal(t, want.payload, hexd(r.PayloadDigest), k)
		assert.Equal(t, want.rcptID, hexd(sha256.Sum256(r.Receipt)), "message %s: receipt differs from the one answered", k)
		assert.LessOrEqual(t, m.fresh[k], 1, "message %s stored as new more than once", k)
	}
	seen := map[string]bool{}
	for after := uint64(0); ; {
		recs, next, err := s.InboxAfter(ctx, crashConsumer, after, 1000)
		require.NoError(t, err)
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			k := r.Sender + " " + r.MessageID
			assert.False(t, seen[k], "message %s stored twice", k)
			seen[k] = true
		}
		after = next
	}
	acked, err := s.AckedUpTo(ctx, crashConsumer)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, acked, m.acked, "acknowledged cursor went back")

	// Every acknowledged enqueue and delivery outcome is there.
	statusOf := map[uint64]DeliveryStatus{}
	load := func(id string) []uint64 {
		st, err := s.Submission(ctx, id)
		if !assert.NoError(t, err, "acknowledged submission %s lost", id) {
			return nil
		}
		var got []uint64
		for _, d := range st.Deliveries {
			got = append(got, uint64(d.Key))
			statusOf[uint64(d.Key)] = d
		}
		return got
	}
	for id, keys := range m.subs {
		assert.Equal(t, keys, load(id), id)
	}
	for k, id := range m.subOf { // enqueued, then finished, but the enqueue's report was cut by the kill
		if _, ok := statusOf[k]; !ok {
			load(id)
		}
	}
	for k, rc := range m.delivered {
		d, ok := statusOf[k]
		if assert.True(t, ok, "delivered %d lost", k) {
			assert.Equal(t, StateDelivered, d.State, "delivery %d", k)
			assert.Equal(t, rc, hexd(sha256.Sum256(d.Receipt)), "delivery %d keeps its first receipt", k)
		}
	}
	for k := range m.dead {
		if d, ok := statusOf[k]; assert.True(t, ok, "dead %d lost", k) {
			assert.Equal(t, StateDead, d.State, "delivery %d", k)
		}
	}
	// FIFO per peer: in key order, no delivery is finished after a pending one.
	byPeer := map[string][]DeliveryStatus{}
	for _, d := range statusOf {
		byPeer[d.RecipientNodeID] = append(byPeer[d.RecipientNodeID], d)
	}
	for p, ds := range byPeer {
		slices.SortFunc(ds, func(a, b DeliveryStatus) int { return int(a.Key) - int(b.Key) })
		pending := false
		for _, d := range ds {
			if d.State == StatePending {
				pending = true
			} else if pending {
				t.Errorf("peer %s: delivery %d is %s after an earlier pending one", p, d.Key, d.State)
			}
		}
	}
	// Each message accepted once, each delivery finished once, in the audit.
	perRef := map[string]int{}
	for after := uint64(0); after < nAudit; {
		es, err := s.AuditAfter(ctx, after, 1000)
		require.NoError(t, err)
		for _, e := range es {
			if e.Kind == AuditAccepted || e.Kind == AuditDelivered {
				perRef[e.Kind+" "+e.Ref]++
			}
			after = e.Seq
		}
	}
	for ref, n := range perRef {
		assert.Equal(t, 1, n, "audit %s recorded %d times", ref, n)
	}
	c, err := s.Counts(ctx)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, c.Rejected, uint64(m.rejected))
}

func writeAckedFile(t *testing.T, dir string, m *crashModel) {
	var b strings.Builder
	for k, r := range m.accepted {
		fmt.Fprintf(&b, "%s %d %s %s\n", k, r.seq, r.payload, r.rcptID)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, crashAckedFile), []byte(b.String()), 0o600))
}
