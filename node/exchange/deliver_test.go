package exchange_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/protocoltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --- a fake clock -----------------------------------------------------------

type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

// set moves the clock to t and fires every timer due by then.
func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
}

// --- an in-memory outbox ------------------------------------------------------

type fakeDelivery struct {
	store.Delivery
	state     string // pending, delivered, dead
	history   []store.Attempt
	receipt   []byte
	doneAt    time.Time
	deadWhy   string
	submitted int // order of enqueue
}

type fakeOutbox struct {
	mu     sync.Mutex
	byKey  map[store.DeliveryKey]*fakeDelivery
	next   store.DeliveryKey
	failOn map[string]int // method → calls left that fail
}

func newFakeOutbox() *fakeOutbox {
	return &fakeOutbox{byKey: map[store.DeliveryKey]*fakeDelivery{}, failOn: map[string]int{}}
}

var errStoreDown = errors.New("store: unavailable (test)")

func (o *fakeOutbox) fail(method string) error {
	if o.failOn[method] > 0 {
		o.failOn[method]--
		return errStoreDown
	}
	return nil
}

// add enqueues a delivery and returns its key.
func (o *fakeOutbox) add(d store.Delivery) store.DeliveryKey {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.next++
	d.Key = o.next
	if d.NextAttemptAt.IsZero() {
		d.NextAttemptAt = d.CreatedAt
	}
	o.byKey[d.Key] = &fakeDelivery{Delivery: d, state: "pending", submitted: int(o.next)}
	return d.Key
}

func (o *fakeOutbox) get(key store.DeliveryKey) fakeDelivery {
	o.mu.Lock()
	defer o.mu.Unlock()
	d := *o.byKey[key]
	d.history = slices.Clone(d.history)
	return d
}

func (o *fakeOutbox) QueueHead(_ context.Context, peer string) (*store.Delivery, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.fail("QueueHead"); err != nil {
		return nil, err
	}
	var head *fakeDelivery
	for _, d := range o.byKey {
		if d.RecipientNodeID == peer && d.state == "pending" && (head == nil || d.Key < head.Key) {
			head = d
		}
	}
	if head == nil {
		return nil, nil
	}
	c := head.Delivery
	c.JWS = slices.Clone(c.JWS)
	return &c, nil
}

func (o *fakeOutbox) RecordAttempt(_ context.Context, key store.DeliveryKey, a store.Attempt) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.fail("RecordAttempt"); err != nil {
		return err
	}
	d := o.byKey[key]
	if d.state != "pending" {
		return fmt.Errorf("delivery %d is %s", key, d.state)
	}
	d.Attempts++
	d.LastError = a.Err
	d.NextAttemptAt = a.NextAttemptAt
	d.history = append(d.history, a)
	return nil
}

func (o *fakeOutbox) MarkDelivered(_ context.Context, key store.DeliveryKey, receipt []byte, at time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.fail("MarkDelivered"); err != nil {
		return err
	}
	d := o.byKey[key]
	if d.state == "delivered" {
		return nil
	}
	d.state, d.receipt, d.doneAt = "delivered", slices.Clone(receipt), at
	return nil
}

func (o *fakeOutbox) MarkDead(_ context.Context, key store.DeliveryKey, reason string, at time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.fail("MarkDead"); err != nil {
		return err
	}
	d := o.byKey[key]
	if d.state == "delivered" {
		return fmt.Errorf("delivery %d is delivered", key)
	}
	d.state, d.deadWhy, d.doneAt = "dead", reason, at
	return nil
}

func (o *fakeOutbox) PendingPeers(context.Context) ([]string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.fail("PendingPeers"); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, d := range o.byKey {
		if d.state == "pending" {
			set[d.RecipientNodeID] = true
		}
	}
	var out []string
	for p := range set {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

func (o *fakeOutbox) states() map[store.DeliveryKey]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[store.DeliveryKey]string{}
	for k, d := range o.byKey {
		out[k] = d.state
	}
	return out
}

func (o *fakeOutbox) allDone() bool {
	for _, s := range o.states() {
		if s == "pending" {
			return false
		}
	}
	return true
}

// --- fake peers ----------------------------------------------------------------

// sendCall is one Send as the fake network saw it.
type sendCall struct {
	peer      string
	messageID string
	at        time.Time
}

// fakeNet plays the peers: script decides each answer; honest answers
// verify the message as the peer's inbound endpoint would and return the
// peer's genuine receipt.
type fakeNet struct {
	clock *fakeClock
	mu    sync.Mutex
	calls []sendCall
	// script answers call n (0-based, over all peers); nil: honest.
	script func(n int, peer string, jws []byte) ([]byte, error)
}

func (f *fakeNet) Send(ctx context.Context, peer string, jws []byte) ([]byte, error) {
	msg, err := peerOf(peer).receive(jws, f.clock.Now())
	if err != nil {
		return nil, fmt.Errorf("test peer refused the message: %w", err)
	}
	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, sendCall{peer: peer, messageID: msg.Envelope.MessageID, at: f.clock.Now()})
	script := f.script
	f.mu.Unlock()
	if script != nil {
		return script(n, peer, jws)
	}
	return peerOf(peer).answer(msg, f.clock.Now())
}

func (f *fakeNet) sent(peer string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if c.peer == peer {
			out = append(out, c.messageID)
		}
	}
	return out
}

func (f *fakeNet) callTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Time
	for _, c := range f.calls {
		out = append(out, c.at)
	}
	return out
}

func (f *fakeNet) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

type testPeer struct {
	member *protocoltest.Member
	self   protocol.Endpoint
}

func peerOf(nodeID string) testPeer {
	switch nodeID {
	case protocoltest.NodeID("TJ"):
		return testPeer{rcTJ, endpointOf("TJ")}
	case protocoltest.NodeID("KZ"):
		return testPeer{rcKZ, endpointOf("KZ")}
	}
	panic("no test peer " + nodeID)
}

func (p testPeer) receive(raw []byte, now time.Time) (*exchange.Verified, error) {
	v := &exchange.Verifier{Keys: rcKeys(), Typ: protocol.TypEvent, Recipient: &p.self, Skew: 5 * time.Minute}
	return v.Verify(raw, now)
}

func (p testPeer) answer(msg *exchange.Verified, now time.Time) ([]byte, error) {
	return exchange.BuildReceipt(p.member.Signer, p.self, msg, "", now)
}

// permanentErr is a refusal retrying cannot cure, as node/peer reports one.
type permanentErr struct{ code protocol.Code }

func (e permanentErr) Error() string   { return string(e.code) + ": refused by the test peer" }
func (e permanentErr) Permanent() bool { return true }

var errNetwork = errors.New("dial tcp 192.0.2.7:8443: connect: connection refused")

// --- metrics ---------------------------------------------------------------------

type fakeMetrics struct {
	mu       sync.Mutex
	attempts map[string]int
	breaker  []string
	dead     []string
	deliv    int
}

func newFakeMetrics() *fakeMetrics { return &fakeMetrics{attempts: map[string]int{}} }

func (m *fakeMetrics) Attempt(peer, outcome string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempts[outcome]++
}

func (m *fakeMetrics) Delivered(string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deliv++
}

func (m *fakeMetrics) DeadLettered(peer, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dead = append(m.dead, reason)
}

func (m *fakeMetrics) Breaker(peer string, s exchange.BreakerState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.breaker = append(m.breaker, peer+":"+s.String())
}

func (m *fakeMetrics) snapshot() fakeMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	counts := map[string]int{}
	for k, v := range m.attempts {
		counts[k] = v
	}
	return fakeMetrics{attempts: counts, breaker: slices.Clone(m.breaker), dead: slices.Clone(m.dead), deliv: m.deliv}
}

// testLogger routes the Deliverer's log into the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// --- the rig ---------------------------------------------------------------------

var (
	tjPeer = protocoltest.NodeID("TJ")
	kzPeer = protocoltest.NodeID("KZ")
)

type waitEvent struct {
	peer  string
	until time.Time
}

// rig runs a Deliverer on the fake clock, outbox and network, and steps
// time forward only when every worker is blocked.
type rig struct {
	t       *testing.T
	clock   *fakeClock
	outbox  *fakeOutbox
	net     *fakeNet
	metrics *fakeMetrics
	d       *exchange.Deliverer
	waits   chan waitEvent
	blocked map[string]time.Time
	cancel  context.CancelFunc
	done    chan error
}

func newRig(t *testing.T, outbox *fakeOutbox, mod func(c *exchange.DelivererConfig)) *rig {
	t.Helper()
	r := &rig{t: t, clock: &fakeClock{now: rcNow}, outbox: outbox, metrics: newFakeMetrics(),
		waits: make(chan waitEvent, 64), blocked: map[string]time.Time{}}
	if r.outbox == nil {
		r.outbox = newFakeOutbox()
	}
	r.net = &fakeNet{clock: r.clock}
	cfg := exchange.DelivererConfig{
		Outbox: r.outbox, Sender: r.net, Keys: rcKeys(), Metrics: r.metrics, Clock: r.clock,
		Rand: rand.New(rand.NewPCG(1, 2)), Logger: testLogger(t),
	}
	if mod != nil {
		mod(&cfg)
	}
	d, err := exchange.NewDeliverer(cfg)
	require.NoError(t, err)
	d.SetWaiting(func(peer string, until time.Time) { r.waits <- waitEvent{peer, until} })
	r.d = d
	return r
}

func (r *rig) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.done = make(chan error, 1)
	go func() { r.done <- r.d.Run(ctx) }()
	r.t.Cleanup(func() { r.stop() })
}

func (r *rig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		require.NoError(r.t, err)
	case <-time.After(10 * time.Second):
		r.t.Fatal("Run did not return after cancel")
	}
}

// settle waits until every worker of peers is blocked on the clock.
func (r *rig) settle(peers ...string) {
	r.t.Helper()
	for {
		all := true
		for _, p := range peers {
			if until, ok := r.blocked[p]; !ok || !until.After(r.clock.Now()) {
				all = false
			}
		}
		if all {
			return
		}
		select {
		case w := <-r.waits:
			r.blocked[w.peer] = w.until
		case <-time.After(10 * time.Second):
			r.t.Fatalf("workers did not settle: blocked %v, want %v", r.blocked, peers)
		}
	}
}

// advance settles, then moves the clock to the earliest wake-up.
func (r *rig) advance(peers ...string) time.Time {
	r.t.Helper()
	r.settle(peers...)
	var next time.Time
	for _, u := range r.blocked {
		if next.IsZero() || u.Before(next) {
			next = u
		}
	}
	r.clock.set(next)
	for p, u := range r.blocked {
		if !u.After(next) {
			delete(r.blocked, p)
		}
	}
	return next
}

// runUntil advances time until cond holds, at most steps wake-ups.
func (r *rig) runUntil(cond func() bool, steps int, peers ...string) {
	r.t.Helper()
	for i := 0; i < steps; i++ {
		r.settle(peers...)
		if cond() {
			return
		}
		r.advance(peers...)
	}
	r.settle(peers...)
	require.True(r.t, cond(), "condition not reached in %d steps", steps)
}

// notify wakes a settled worker.
func (r *rig) notify(peer string) {
	delete(r.blocked, peer)
	r.d.Notify(peer)
}

// enqueue signs a birth from TR for peer and adds it to the outbox.
func enqueue(t *testing.T, o *fakeOutbox, peer string, created time.Time) (store.DeliveryKey, string) {
	t.Helper()
	country := peer[:2]
	id := protocoltest.NewUUID()
	msg := protocoltest.BirthMessageAt("TR", country, id, created.Add(-time.Minute))
	if country != "TJ" {
		msg = mutateJSON(t, msg, func(m map[string]any) { m["purpose"] = "residence-notification" })
	}
	raw := rcTR.Sign(protocol.TypEvent, msg)
	key := o.add(store.Delivery{Recipient: country, RecipientNodeID: peer, MessageID: id, JWS: raw, CreatedAt: created})
	return key, id
}

func mutateJSON(t *testing.T, b []byte, f func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	f(m)
	return mustJSON(t, m)
}

// --- tests -----------------------------------------------------------------------

func TestBackoff(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	base, limit := time.Second, 5*time.Minute
	for failures, bound := range map[int]time.Duration{
		1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 9: 256 * time.Second,
		10: limit, 11: limit, 63: limit, 64: limit, 1000: limit, 0: time.Second, -5: time.Second,
	} {
		var lo, hi time.Duration = bound, 0
		for i := 0; i < 2000; i++ {
			w := exchange.Backoff(failures, base, limit, r)
			require.GreaterOrEqual(t, w, time.Duration(0))
			require.Less(t, w, bound, "failures %d", failures)
			lo, hi = min(lo, w), max(hi, w)
		}
		// Full jitter: the whole range is used.
		assert.Less(t, lo, bound/10, "failures %d", failures)
		assert.Greater(t, hi, bound*9/10, "failures %d", failures)
	}
	assert.Equal(t, time.Duration(0), exchange.Backoff(3, 0, 0, r))
}

func TestDeliverInOrderPerPeer(t *testing.T) {
	o := newFakeOutbox()
	var tj, kz []string
	var keys []store.DeliveryKey
	for i := 0; i < 3; i++ {
		k, id := enqueue(t, o, tjPeer, rcNow)
		keys, tj = append(keys, k), append(tj, id)
		if i < 2 {
			k, id := enqueue(t, o, kzPeer, rcNow)
			keys, kz = append(keys, k), append(kz, id)
		}
	}
	r := newRig(t, o, nil)
	// TJ's node is down for the first two attempts.
	r.net.script = func(n int, peer string, jws []byte) ([]byte, error) {
		if peer == tjPeer && len(r.net.sent(tjPeer)) <= 2 {
			return nil, errNetwork
		}
		msg, err := peerOf(peer).receive(jws, r.clock.Now())
		require.NoError(t, err)
		return peerOf(peer).answer(msg, r.clock.Now())
	}
	r.start()
	r.runUntil(o.allDone, 50, tjPeer, kzPeer)

	// > It delivers in order: a later one never overtakes it.
	assert.Equal(t, []string{tj[0], tj[0], tj[0], tj[1], tj[2]}, r.net.sent(tjPeer))
	assert.Equal(t, kz, r.net.sent(kzPeer))
	for _, k := range keys {
		d := o.get(k)
		assert.Equal(t, "delivered", d.state)
		_, err := exchange.CheckReceipt(d.receipt, exchange.SentMessage{Recipient: d.Recipient, MessageID: d.MessageID, Digest: sha256.Sum256(d.JWS)}, rcKeys(), nil, r.clock.Now())
		assert.NoError(t, err, "the stored receipt is a checked one")
	}
	first := o.get(keys[0])
	require.Len(t, first.history, 2)
	assert.Contains(t, first.history[0].Err, "connection refused")
	m := r.metrics.snapshot()
	assert.Equal(t, 5, m.deliv)
	assert.Equal(t, map[string]int{exchange.OutcomeDelivered: 5, exchange.OutcomeFailed: 2}, m.attempts)
}

func TestDeliverBackoffSchedule(t *testing.T) {
	o := newFakeOutbox()
	key, _ := enqueue(t, o, tjPeer, rcNow)
	r := newRig(t, o, func(c *exchange.DelivererConfig) {
		c.BreakerFailures = 1000 // the breaker stays out of the way
		c.Rand = rand.New(rand.NewPCG(42, 1))
	})
	r.net.script = func(int, string, []byte) ([]byte, error) { return nil, errNetwork }
	r.start()
	const attempts = 14
	r.runUntil(func() bool { return r.net.count() >= attempts }, 100, tjPeer)
	r.stop()

	// The same seed draws the same jitter: wait_n = rand[0, min(cap, base·2^(n−1))).
	want := rand.New(rand.NewPCG(42, 1))
	h := o.get(key).history
	require.GreaterOrEqual(t, len(h), attempts)
	calls := r.net.callTimes()
	at := rcNow
	for n := 1; n <= attempts; n++ {
		a := h[n-1]
		assert.Equal(t, at, a.At, "attempt %d is made when it is due", n)
		assert.Equal(t, at, calls[n-1])
		wait := exchange.Backoff(n, time.Second, 5*time.Minute, want)
		assert.Equal(t, wait, a.NextAttemptAt.Sub(a.At), "attempt %d", n)
		bound := min(5*time.Minute, time.Second<<(n-1))
		assert.Less(t, a.NextAttemptAt.Sub(a.At), bound)
		at = a.NextAttemptAt
	}
}

func TestDeliverCircuitBreaker(t *testing.T) {
	o := newFakeOutbox()
	key, _ := enqueue(t, o, tjPeer, rcNow)
	r := newRig(t, o, func(c *exchange.DelivererConfig) {
		c.BreakerFailures = 3
		c.BreakerCooldown = 30 * time.Second
		c.BackoffBase, c.BackoffCap = 100*time.Millisecond, time.Second
	})
	var up atomic.Bool
	r.net.script = func(n int, peer string, jws []byte) ([]byte, error) {
		if !up.Load() {
			return nil, errNetwork
		}
		msg, err := peerOf(peer).receive(jws, r.clock.Now())
		require.NoError(t, err)
		return peerOf(peer).answer(msg, r.clock.Now())
	}
	r.start()

	// closed → open after 3 consecutive failures.
	r.runUntil(func() bool { return r.net.count() == 3 }, 20, tjPeer)
	opened := r.net.callTimes()[2]
	assert.Equal(t, exchange.BreakerOpen, r.d.Breaker(tjPeer))
	assert.Equal(t, []string{tjPeer + ":open"}, r.metrics.snapshot().breaker)

	// While open the worker does not dial, even when notified, and although
	// the delivery's own backoff (≤ 1 s) has passed: it sleeps until the
	// cool-down ends.
	for i := 0; ; i++ {
		r.settle(tjPeer)
		if r.blocked[tjPeer].Equal(opened.Add(30 * time.Second)) {
			break
		}
		require.Less(t, i, 3, "the worker never waits for the cool-down: %v", r.blocked)
		r.advance(tjPeer)
	}
	assert.Equal(t, 3, r.net.count())
	r.notify(tjPeer)
	r.settle(tjPeer)
	assert.Equal(t, 3, r.net.count())

	// half-open: one probe at the end of the cool-down; it fails → open.
	r.advance(tjPeer)
	r.settle(tjPeer)
	require.Equal(t, 4, r.net.count())
	assert.Equal(t, opened.Add(30*time.Second), r.net.callTimes()[3])
	assert.Equal(t, exchange.BreakerOpen, r.d.Breaker(tjPeer))
	assert.Equal(t, []string{tjPeer + ":open", tjPeer + ":half-open", tjPeer + ":open"}, r.metrics.snapshot().breaker)

	// The peer is back: the next probe succeeds and closes the breaker.
	up.Store(true)
	r.runUntil(func() bool { return o.get(key).state == "delivered" }, 5, tjPeer)
	assert.Equal(t, 5, r.net.count())
	assert.Equal(t, opened.Add(60*time.Second), r.net.callTimes()[4])
	assert.Equal(t, exchange.BreakerClosed, r.d.Breaker(tjPeer))
	assert.Equal(t, []string{tjPeer + ":open", tjPeer + ":half-open", tjPeer + ":open", tjPeer + ":half-open", tjPeer + ":closed"},
		r.metrics.snapshot().breaker)
}

func TestDeliverDeadLetterByLifetime(t *testing.T) {
	o := newFakeOutbox()
	first, _ := enqueue(t, o, tjPeer, rcNow)
	second, secondID := enqueue(t, o, tjPeer, rcNow.Add(30*time.Minute))
	r := newRig(t, o, func(c *exchange.DelivererConfig) { c.Lifetime = time.Hour })
	r.net.script = func(n int, peer string, jws []byte) ([]byte, error) {
		msg, err := peerOf(peer).receive(jws, r.clock.Now())
		require.NoError(t, err)
		if msg.Envelope.MessageID != secondID {
			return nil, errNetwork
		}
		return peerOf(peer).answer(msg, r.clock.Now())
	}
	r.start()
	r.runUntil(func() bool { return o.get(first).state == "dead" }, 200, tjPeer)

	d := o.get(first)
	assert.Equal(t, rcNow.Add(time.Hour), d.doneAt, "dead-lettered when its lifetime ends, not later")
	assert.Contains(t, d.deadWhy, "lifetime")
	assert.Contains(t, d.deadWhy, "connection refused")
	for _, a := range d.history {
		assert.True(t, a.At.Before(rcNow.Add(time.Hour)), "no attempt after the lifetime")
		assert.False(t, a.NextAttemptAt.After(rcNow.Add(time.Hour)), "the schedule never passes the deadline")
	}
	// The queue moves on: the next delivery goes out.
	r.runUntil(func() bool { return o.get(second).state == "delivered" }, 10, tjPeer)
	m := r.metrics.snapshot()
	assert.Len(t, m.dead, 1)
	assert.Equal(t, 1, m.deliv)
}

func TestDeliverDeadLetterByPermanentRefusal(t *testing.T) {
	o := newFakeOutbox()
	first, _ := enqueue(t, o, tjPeer, rcNow)
	second, _ := enqueue(t, o, tjPeer, rcNow)
	r := newRig(t, o, nil)
	r.net.script = func(n int, peer string, jws []byte) ([]byte, error) {
		if n == 0 {
			return nil, fmt.Errorf("peer: send: %w", permanentErr{protocol.CodeConflict})
		}
		msg, err := peerOf(peer).receive(jws, r.clock.Now())
		require.NoError(t, err)
		return peerOf(peer).answer(msg, r.clock.Now())
	}
	r.start()
	r.runUntil(o.allDone, 10, tjPeer)

	d := o.get(first)
	assert.Equal(t, "dead", d.state)
	assert.Equal(t, rcNow, d.doneAt, "at once, without retrying")
	assert.Contains(t, d.deadWhy, "MESSAGE_ID_CONFLICT")
	require.Len(t, d.history, 1, "the refusal is recorded as an attempt")
	assert.Contains(t, d.history[0].Err, "MESSAGE_ID_CONFLICT")
	assert.Equal(t, "delivered", o.get(second).state)
	assert.Equal(t, 2, r.net.count())
	m := r.metrics.snapshot()
	assert.Equal(t, map[string]int{exchange.OutcomeRefused: 1, exchange.OutcomeDelivered: 1}, m.attempts)
	assert.Len(t, m.dead, 1)
	assert.Empty(t, m.breaker, "a refusal is an answer: the breaker stays closed")
}

func TestDeliverInvalidReceiptIsAFailedAttempt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(msg *exchange.Verified, now time.Time) ([]byte, error)
		code   protocol.Code
	}{
		{name: "fail/receipt-signed-by-other-member", code: protocol.CodeReceiptSigner,
			answer: func(msg *exchange.Verified, now time.Time) ([]byte, error) {
				return exchange.BuildReceipt(rcKZ.Signer, endpointOf("KZ"), msg, "", now)
			}},
		{name: "fail/receipt-wrong-digest", code: protocol.CodeReceiptDigest,
			answer: func(msg *exchange.Verified, now time.Time) ([]byte, error) {
				other := *msg
				other.Digest = sha256.Sum256([]byte("what a middlebox made of it"))
				return exchange.BuildReceipt(rcTJ.Signer, endpointOf("TJ"), &other, "", now)
			}},
		{name: "fail/receipt-unsigned", code: protocol.CodeNotCompact,
			answer: func(*exchange.Verified, time.Time) ([]byte, error) { return []byte("OK"), nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newFakeOutbox()
			key, _ := enqueue(t, o, tjPeer, rcNow)
			r := newRig(t, o, nil)
			r.net.script = func(n int, peer string, jws []byte) ([]byte, error) {
				msg, err := peerOf(peer).receive(jws, r.clock.Now())
				require.NoError(t, err)
				if n == 0 {
					return tc.answer(msg, r.clock.Now())
				}
				return peerOf(peer).answer(msg, r.clock.Now())
			}
			r.start()
			r.settle(tjPeer)
			d := o.get(key)
			assert.Equal(t, "pending", d.state, "never delivered without a checked receipt")
			assert.Nil(t, d.receipt)
			require.Len(t, d.history, 1)
			assert.Contains(t, d.history[0].Err, string(tc.code))
			assert.Equal(t, 1, r.metrics.snapshot().attempts[exchange.OutcomeReceiptInvalid])

			// The next attempt gets a genuine receipt.
			r.runUntil(func() bool { return o.get(key).state == "delivered" }, 5, tjPeer)
			assert.Equal(t, 2, r.net.count())
		})
	}
}

func TestDeliverRestartResumesPendingWork(t *testing.T) {
	o := newFakeOutbox()
	// A node restarted: TJ's head has failed 4 times and is due in 10
	// minutes; KZ's delivery is due now. Nobody calls Notify.
	tjKey, _ := enqueue(t, o, tjPeer, rcNow.Add(-time.Hour))
	tjNext, _ := enqueue(t, o, tjPeer, rcNow.Add(-time.Hour))
	o.mu.Lock()
	o.byKey[tjKey].Attempts = 4
	o.byKey[tjKey].LastError = "connection refused"
	o.byKey[tjKey].NextAttemptAt = rcNow.Add(10 * time.Minute)
	o.mu.Unlock()
	kzKey, _ := enqueue(t, o, kzPeer, rcNow.Add(-time.Minute))

	r := newRig(t, o, nil)
	r.start()
	r.runUntil(func() bool { return o.get(kzKey).state == "delivered" }, 5, tjPeer, kzPeer)
	assert.Empty(t, r.net.sent(tjPeer), "the stored schedule holds")
	r.runUntil(func() bool { return o.get(tjNext).state == "delivered" }, 30, tjPeer, kzPeer)
	assert.Equal(t, rcNow.Add(10*time.Minute), r.net.callTimes()[1], "TJ's head goes out when its stored time comes")
	assert.Equal(t, "delivered", o.get(tjKey).state)
}

func TestDeliverRestartAfterAbandonedAttempt(t *testing.T) {
	o := newFakeOutbox()
	key, _ := enqueue(t, o, tjPeer, rcNow)
	r := newRig(t, o, nil)
	inFlight, proceed := make(chan struct{}), make(chan struct{})
	r.net.script = func(n int, peer string, jws []byte) ([]byte, error) {
		close(inFlight)
		<-proceed                    // the answer is slow …
		return nil, context.Canceled // … and the shutdown cancels it
	}
	r.start()
	<-inFlight
	r.cancel()
	close(proceed)
	require.NoError(t, <-r.done)
	r.cancel = nil
	d := o.get(key)
	assert.Equal(t, "pending", d.state)
	assert.Empty(t, d.history, "an abandoned attempt records nothing")

	// The next process delivers it.
	r2 := newRig(t, o, nil)
	r2.start()
	r2.runUntil(func() bool { return o.get(key).state == "delivered" }, 5, tjPeer)
	assert.Equal(t, 1, r2.net.count())
}

// An attempt whose answer arrives after shutdown began is finished: its
// receipt is checked and recorded, and Run returns after it.
func TestDeliverStopFinishesAnAnsweredAttempt(t *testing.T) {
	o := newFakeOutbox()
	key, _ := enqueue(t, o, tjPeer, rcNow)
	r := newRig(t, o, nil)
	inFlight, release := make(chan struct{}), make(chan struct{})
	r.net.script = func(n int, peer string, jws []byte) ([]byte, error) {
		msg, err := peerOf(peer).receive(jws, r.clock.Now())
		require.NoError(t, err)
		close(inFlight)
		<-release
		return peerOf(peer).answer(msg, r.clock.Now())
	}
	r.start()
	<-inFlight
	r.cancel()
	close(release)
	select {
	case err := <-r.done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	r.cancel = nil
	assert.Equal(t, "delivered", o.get(key).state)
}

func TestDeliverNotifyStartsWorkers(t *testing.T) {
	o := newFakeOutbox()
	r := newRig(t, o, nil)
	k1, _ := enqueue(t, o, tjPeer, rcNow)
	r.d.Notify(tjPeer) // before Run: remembered
	o.failOn["PendingPeers"] = 1
	r.start()
	r.runUntil(func() bool { return o.get(k1).state == "delivered" }, 5, tjPeer)

	// A new peer after Run: Notify starts its worker at once.
	k2, _ := enqueue(t, o, kzPeer, rcNow)
	r.notify(kzPeer)
	r.runUntil(func() bool { return o.get(k2).state == "delivered" }, 5, tjPeer, kzPeer)
	assert.Equal(t, rcNow, r.net.callTimes()[1], "no waiting for a poll")

	// A new message for an idle worker: Notify wakes it.
	k3, _ := enqueue(t, o, tjPeer, rcNow)
	r.notify(tjPeer)
	r.runUntil(func() bool { return o.get(k3).state == "delivered" }, 5, tjPeer, kzPeer)
	assert.Equal(t, rcNow, r.net.callTimes()[2])
}

// A store that cannot record an attempt must not turn into a storm of
// sends: the worker keeps the computed schedule in memory.
func TestDeliverStoreFailureDoesNotHammer(t *testing.T) {
	o := newFakeOutbox()
	key, _ := enqueue(t, o, tjPeer, rcNow)
	o.failOn["RecordAttempt"] = 1
	o.failOn["MarkDelivered"] = 1
	r := newRig(t, o, func(c *exchange.DelivererConfig) { c.BackoffBase = 10 * time.Second; c.BackoffCap = 10 * time.Second })
	r.net.script = func(n int, peer string, jws []byte) ([]byte, error) {
		if n == 0 {
			return nil, errNetwork
		}
		msg, err := peerOf(peer).receive(jws, r.clock.Now())
		require.NoError(t, err)
		return peerOf(peer).answer(msg, r.clock.Now())
	}
	r.start()
	r.settle(tjPeer)
	assert.Equal(t, 1, r.net.count(), "the failed record holds the delivery back")
	assert.True(t, r.blocked[tjPeer].After(rcNow))
	r.runUntil(func() bool { return o.get(key).state == "delivered" }, 10, tjPeer)
	// Attempt 2 was delivered but not recorded; attempt 3 got the receipt
	// again (the peer's idempotency) and recorded it.
	assert.Equal(t, 3, r.net.count())
	times := r.net.callTimes()
	assert.True(t, times[2].Sub(times[1]) >= exchange.DefaultPollInterval, "a lost MarkDelivered waits before sending again: %v", times)
}

func TestNewDelivererChecksConfig(t *testing.T) {
	o := newFakeOutbox()
	_, err := exchange.NewDeliverer(exchange.DelivererConfig{Sender: &fakeNet{}, Keys: rcKeys()})
	assert.Error(t, err)
	_, err = exchange.NewDeliverer(exchange.DelivererConfig{Outbox: o, Keys: rcKeys()})
	assert.Error(t, err)
	_, err = exchange.NewDeliverer(exchange.DelivererConfig{Outbox: o, Sender: &fakeNet{}})
	assert.Error(t, err)
	_, err = exchange.NewDeliverer(exchange.DelivererConfig{Outbox: o, Sender: &fakeNet{}, Keys: rcKeys(), BackoffBase: time.Minute, BackoffCap: time.Second})
	assert.Error(t, err)
	d, err := exchange.NewDeliverer(exchange.DelivererConfig{Outbox: o, Sender: &fakeNet{}, Keys: rcKeys()})
	require.NoError(t, err)
	assert.Equal(t, exchange.BreakerClosed, d.Breaker("XX-NODE"))
}

func TestPermanent(t *testing.T) {
	assert.True(t, exchange.Permanent(fmt.Errorf("send: %w", permanentErr{protocol.CodeSchemaInvalid})))
	assert.False(t, exchange.Permanent(errNetwork))
	assert.False(t, exchange.Permanent(context.DeadlineExceeded))
	assert.False(t, exchange.Permanent(nil))
}

func TestBreakerStateString(t *testing.T) {
	got := []string{exchange.BreakerClosed.String(), exchange.BreakerOpen.String(), exchange.BreakerHalfOpen.String()}
	assert.Equal(t, "closed open half-open", strings.Join(got, " "))
}
