package exchange

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ecrn/crvsx/node/internal/failpoint"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
)

// Outbox is what the delivery worker needs of the store (DESIGN §5,
// node/store DESIGN §4), in the store's own types, as the inbound path
// uses them (*store.Store implements it). A Delivery's Digest is computed
// from its JWS when zero; a zero CreatedAt (an outbox bug) is never
// dead-lettered by age. Every method may be called concurrently for
// different peers.
type Outbox interface {
	// QueueHead returns the oldest pending delivery to peer, due or not,
	// with its JWS; nil and no error when none is pending. A later
	// delivery never overtakes an earlier pending one.
	QueueHead(ctx context.Context, peer string) (*store.Delivery, error)
	// RecordAttempt records a failed attempt and the next attempt time.
	RecordAttempt(ctx context.Context, key store.DeliveryKey, a store.Attempt) error
	// MarkDelivered stores the checked receipt and ends the delivery.
	MarkDelivered(ctx context.Context, key store.DeliveryKey, receipt []byte, at time.Time) error
	// MarkDead moves the delivery to dead-letter with reason.
	MarkDead(ctx context.Context, key store.DeliveryKey, reason string, at time.Time) error
	// PendingPeers lists the peers with pending deliveries (start-up).
	PendingPeers(ctx context.Context) ([]string, error)
}

// Sender sends a compact JWS to a peer node (node/peer) and returns the
// body of its 200 answer, the receipt. An error whose chain has a method
// Permanent() bool returning true is a refusal that retrying cannot cure
// (see Permanent); any other error is retried.
type Sender interface {
	Send(ctx context.Context, peer string, jws []byte) (receipt []byte, err error)
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, peer string, jws []byte) ([]byte, error)

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, peer string, jws []byte) ([]byte, error) {
	return f(ctx, peer, jws)
}

// Permanent reports whether err is a refusal that retrying cannot cure: an
// error in its chain has a method Permanent() bool that returns true
// (a *protocol.ProblemError from node/peer whose Retryable is false). A
// context error is never permanent.
func Permanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// Clock is the worker's time source; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Attempt outcomes reported to DeliveryMetrics.Attempt.
const (
	OutcomeDelivered      = "delivered"       // a receipt that passed CheckReceipt
	OutcomeFailed         = "failed"          // network error, timeout, 5xx, KEY_UNKNOWN, …: retried
	OutcomeRefused        = "refused"         // a permanent refusal: dead-letter
	OutcomeReceiptInvalid = "receipt-invalid" // a 200 whose receipt failed CheckReceipt: retried
)

// BreakerState is the state of a peer's circuit breaker.
type BreakerState int

// Breaker states (DESIGN §5).
const (
	BreakerClosed   BreakerState = iota // attempts go out
	BreakerOpen                         // no dialing until the cool-down ends
	BreakerHalfOpen                     // one probe attempt
)

func (s BreakerState) String() string {
	switch s {
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return "closed"
}

// DeliveryMetrics receives the worker's events (node/server turns them
// into Prometheus instruments). Calls come from the workers' goroutines,
// concurrently for different peers, and must not block.
type DeliveryMetrics interface {
	Attempt(peer, outcome string)
	Delivered(peer string)
	DeadLettered(peer, reason string)
	Breaker(peer string, state BreakerState)
}

// DelivererConfig configures a Deliverer. Outbox, Sender and Keys are
// required; a zero duration or count takes the DESIGN §5 default.
type DelivererConfig struct {
	Outbox Outbox
	Sender Sender
	// Keys and Validity check receipts (CheckReceipt): the registry's
	// current trust view. They are consulted on every receipt, so a view
	// that is replaced after each registry apply should be passed as a
	// wrapper that loads the current one.
	Keys     jws.KeyLookup
	Validity KeyValidity

	Lifetime        time.Duration // dead-letter age; default 72 h
	BackoffBase     time.Duration // default 1 s
	BackoffCap      time.Duration // default 5 min
	BreakerFailures int           // consecutive failures that open the breaker; default 5
	BreakerCooldown time.Duration // default 30 s
	// AttemptTimeout bounds one attempt (the Sender may bound it tighter);
	// default 2 min.
	AttemptTimeout time.Duration
	// PollInterval is how often a worker with an empty queue looks at it
	// again without a Notify, and how long it waits after a store error;
	// default 1 min.
	PollInterval time.Duration

	Logger  *slog.Logger    // nil discards
	Metrics DeliveryMetrics // nil reports nothing
	Clock   Clock           // nil is the system clock
	// Rand draws the backoff jitter; nil uses math/rand/v2's global
	// source. The Deliverer serialises its use.
	Rand *rand.Rand
}

// Deliverer runs one delivery worker per peer (DESIGN §5): in order per
// peer, exponential backoff with full jitter, a circuit breaker per peer,
// dead-letter after the lifetime or at a permanent refusal. A delivery is
// marked delivered only with a receipt that passed CheckReceipt. It is safe
// for concurrent use.
type Deliverer struct {
	cfg   DelivererConfig
	log   *slog.Logger
	clock Clock

	randMu sync.Mutex

	mu      sync.Mutex
	ctx     context.Context // nil until Run, canceled when Run ends
	workers map[string]*worker
	early   map[string]bool // peers notified before Run
	wg      sync.WaitGroup

	// waiting, when set (tests), is called each time a worker is about to
	// block until at most until.
	waiting func(peer string, until time.Time)
}

// Defaults of DESIGN §5.
const (
	DefaultLifetime        = 72 * time.Hour
	DefaultBackoffBase     = time.Second
	DefaultBackoffCap      = 5 * time.Minute
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
	DefaultAttemptTimeout  = 2 * time.Minute
	DefaultPollInterval    = time.Minute
)

// NewDeliverer checks cfg and returns a Deliverer; call Run to start it.
func NewDeliverer(cfg DelivererConfig) (*Deliverer, error) {
	if cfg.Outbox == nil || cfg.Sender == nil || cfg.Keys == nil {
		return nil, errors.New("exchange: deliverer needs an Outbox, a Sender and Keys")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Lifetime, DefaultLifetime)
	def(&cfg.BackoffBase, DefaultBackoffBase)
	def(&cfg.BackoffCap, DefaultBackoffCap)
	def(&cfg.BreakerCooldown, DefaultBreakerCooldown)
	def(&cfg.AttemptTimeout, DefaultAttemptTimeout)
	def(&cfg.PollInterval, DefaultPollInterval)
	if cfg.BreakerFailures <= 0 {
		cfg.BreakerFailures = DefaultBreakerFailures
	}
	if cfg.BackoffCap < cfg.BackoffBase {
		return nil, fmt.Errorf("exchange: backoff cap %s is below its base %s", cfg.BackoffCap, cfg.BackoffBase)
	}
	d := &Deliverer{cfg: cfg, log: cfg.Logger, clock: cfg.Clock, workers: map[string]*worker{}, early: map[string]bool{}}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.clock == nil {
		d.clock = realClock{}
	}
	return d, nil
}

// Run starts a worker for every peer with pending deliveries
// (Outbox.PendingPeers, retried every PollInterval until it answers) and
// for every peer notified so far, then blocks until ctx is canceled and
// every worker has returned. An attempt in flight at cancellation is
// either finished — its receipt checked and recorded — or abandoned
// without recording anything, so the delivery stays pending with its
// stored schedule. Run may be called once.
func (d *Deliverer) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.ctx != nil {
		d.mu.Unlock()
		return errors.New("exchange: Deliverer.Run called twice")
	}
	d.ctx = ctx
	early := d.early
	d.early = nil
	for peer := range early {
		d.startLocked(peer)
	}
	d.mu.Unlock()

	for {
		peers, err := d.cfg.Outbox.PendingPeers(ctx)
		if err == nil {
			d.mu.Lock()
			for _, p := range peers {
				d.startLocked(p)
			}
			d.mu.Unlock()
			break
		}
		if ctx.Err() != nil {
			break
		}
		d.log.Error("delivery: cannot list the peers with pending deliveries; retrying", slog.Any("err", err))
		select {
		case <-ctx.Done():
		case <-d.clock.After(d.cfg.PollInterval):
		}
	}
	<-ctx.Done()
	d.wg.Wait()
	return nil
}

// Notify wakes the worker of peer (a recipient node id) after new
// deliveries were enqueued for it, starting the worker if there is none.
// It never blocks. Before Run the peer is remembered; after Run has ended
// it does nothing (the deliveries are durable and the next Run finds them).
func (d *Deliverer) Notify(peer string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil {
		d.early[peer] = true
		return
	}
	if d.ctx.Err() != nil {
		return
	}
	w := d.startLocked(peer)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Breaker returns the state of peer's circuit breaker (closed for a peer
// without a worker).
func (d *Deliverer) Breaker(peer string) BreakerState {
	d.mu.Lock()
	w := d.workers[peer]
	d.mu.Unlock()
	if w == nil {
		return BreakerClosed
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.br.state
}

func (d *Deliverer) startLocked(peer string) *worker {
	if w, ok := d.workers[peer]; ok {
		return w
	}
	w := &worker{d: d, peer: peer, wake: make(chan struct{}, 1),
		br: breaker{threshold: d.cfg.BreakerFailures, cooldown: d.cfg.BreakerCooldown}}
	d.workers[peer] = w
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		w.run(d.ctx)
	}()
	return w
}

// Backoff returns the wait after the failures-th consecutive failed attempt
// of a delivery (failures ≥ 1), exponential with full jitter (DESIGN §5):
// uniform in [0, min(cap, base·2^(failures−1))). rnd draws the jitter.
func Backoff(failures int, base, cap time.Duration, rnd *rand.Rand) time.Duration {
	bound := cap
	if failures < 1 {
		failures = 1
	}
	if shift := failures - 1; shift < 62 && base <= cap>>shift {
		bound = base << shift
	}
	if bound <= 0 {
		return 0
	}
	if rnd == nil {
		return time.Duration(rand.Int64N(int64(bound)))
	}
	return time.Duration(rnd.Int64N(int64(bound)))
}

func (d *Deliverer) backoff(failures int) time.Duration {
	d.randMu.Lock()
	defer d.randMu.Unlock()
	return Backoff(failures, d.cfg.BackoffBase, d.cfg.BackoffCap, d.cfg.Rand)
}

// breaker is a peer's circuit breaker (DESIGN §5). State is in memory: a
// restart starts closed.
type breaker struct {
	threshold int
	cooldown  time.Duration
	state     BreakerState
	failures  int       // consecutive failed attempts
	openUntil time.Time // while open
}

// allow reports whether an attempt may go out at now; if not, until is
// when the breaker half-opens.
func (b *breaker) allow(now time.Time) (ok bool, until time.Time, changed bool) {
	if b.state != BreakerOpen {
		return true, time.Time{}, false
	}
	if now.Before(b.openUntil) {
		return false, b.openUntil, false
	}
	b.state = BreakerHalfOpen
	return true, time.Time{}, true
}

// success closes the breaker.
func (b *breaker) success() (changed bool) {
	b.failures = 0
	changed = b.state != BreakerClosed
	b.state = BreakerClosed
	return changed
}

// failure counts a failed attempt: a failed probe, or the threshold-th
// consecutive failure, opens the breaker for the cool-down.
func (b *breaker) failure(now time.Time) (changed bool) {
	b.failures++
	if b.state == BreakerHalfOpen || b.failures >= b.threshold {
		changed = b.state != BreakerOpen
		b.state = BreakerOpen
		b.openUntil = now.Add(b.cooldown)
	}
	return changed
}

type worker struct {
	d    *Deliverer
	peer string
	wake chan struct{}

	mu sync.Mutex // guards br for Deliverer.Breaker
	br breaker

	// hold keeps the delivery holdKey back until holdUntil when the outbox
	// could not store its next attempt time, so that a store failure never
	// turns into hammering the peer.
	holdKey   store.DeliveryKey
	holdUntil time.Time
}

func (w *worker) run(ctx context.Context) {
	d := w.d
	for ctx.Err() == nil {
		now := d.clock.Now()
		dl, err := d.cfg.Outbox.QueueHead(ctx, w.peer)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Error("delivery: cannot read the outbox", slog.String("peer", w.peer), slog.Any("err", err))
			}
			w.sleep(ctx, now.Add(d.cfg.PollInterval))
			continue
		}
		if dl == nil {
			w.sleep(ctx, now.Add(d.cfg.PollInterval))
			continue
		}
		if dl.Key == w.holdKey && now.Before(w.holdUntil) {
			w.sleep(ctx, w.holdUntil)
			continue
		}
		// > Dead-letter: a delivery older than the configured lifetime
		// > without a valid receipt is marked dead.
		// The lifetime runs from the enqueue, or from an operator's retry
		// of the dead letter (node/store DESIGN.md §4 RetryDead).
		deadline := dl.LifetimeStart().Add(d.cfg.Lifetime)
		if dl.CreatedAt.IsZero() {
			// An outbox bug: never dead-letter on it, keep trying.
			deadline = now.Add(d.cfg.Lifetime)
		}
		if !now.Before(deadline) {
			last := dl.LastError
			if last == "" {
				last = "none"
			}
			w.dead(ctx, dl, fmt.Sprintf("no valid receipt within the lifetime of %s after %d attempts; last error: %s", d.cfg.Lifetime, dl.Attempts, last), now)
			continue
		}
		// The stored schedule: a restart resumes it.
		if due := dl.NextAttemptAt; now.Before(due) {
			w.sleep(ctx, earliest(due, deadline))
			continue
		}
		// > While open, the worker does not dial.
		w.mu.Lock()
		ok, until, changed := w.br.allow(now)
		w.mu.Unlock()
		if changed {
			w.breakerChanged(BreakerHalfOpen)
		}
		if !ok {
			w.sleep(ctx, earliest(until, deadline))
			continue
		}
		w.attempt(ctx, dl)
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// sleep blocks until the clock reaches until, a Notify, or ctx is done.
func (w *worker) sleep(ctx context.Context, until time.Time) {
	timer := w.d.clock.After(until.Sub(w.d.clock.Now()))
	if w.d.waiting != nil {
		w.d.waiting(w.peer, until)
	}
	select {
	case <-ctx.Done():
	case <-w.wake:
	case <-timer:
	}
}

// attempt sends the head of the queue once and records the outcome.
func (w *worker) attempt(ctx context.Context, dl *store.Delivery) {
	d := w.d
	actx, cancel := context.WithTimeout(ctx, d.cfg.AttemptTimeout)
	receipt, sendErr := d.cfg.Sender.Send(actx, w.peer, dl.JWS)
	cancel()
	if sendErr != nil && ctx.Err() != nil {
		// Shutting down: abandon the attempt and record nothing; the
		// delivery stays pending with its stored schedule.
		return
	}
	// The attempt is finished: record it even if ctx is canceled meanwhile.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer rcancel()
	now := d.clock.Now()
	log := d.log.With(slog.String("peer", w.peer), slog.String("messageId", dl.MessageID), slog.Uint64("delivery", uint64(dl.Key)))

	var failure error
	outcome := OutcomeFailed
	switch {
	case sendErr != nil && Permanent(sendErr):
		// > A problem document with a 4xx that retrying cannot cure is
		// > recorded and the delivery goes to dead-letter at once with
		// > that reason. The peer did answer: for the breaker, a success.
		w.metric(OutcomeRefused)
		w.closeBreaker()
		if err := d.cfg.Outbox.RecordAttempt(rctx, dl.Key, store.Attempt{At: now, Err: sendErr.Error()}); err != nil {
			log.Error("delivery: cannot record the attempt", slog.Any("err", err))
		}
		w.dead(rctx, dl, "refused by the peer: "+sendErr.Error(), now)
		return
	case sendErr != nil:
		failure = sendErr
	default:
		// > An attempt: peer.Send → CheckReceipt → store.MarkDelivered.
		digest := dl.Digest
		if digest == [32]byte{} {
			digest = sha256.Sum256(dl.JWS)
		}
		_, err := CheckReceipt(receipt, SentMessage{Recipient: dl.Recipient, MessageID: dl.MessageID, Digest: digest},
			d.cfg.Keys, d.cfg.Validity, now)
		if err != nil {
			failure = fmt.Errorf("the answer is not a receipt for this message: %w", err)
			outcome = OutcomeReceiptInvalid
			break
		}
		failpoint.Hit("deliver-before-mark") // DESIGN §7: the peer answered, nothing recorded yet
		if err := d.cfg.Outbox.MarkDelivered(rctx, dl.Key, receipt, now); err != nil {
			// Delivered but not recorded: the next attempt sends again and
			// the peer answers with the receipt it stored (SPEC §8.2).
			log.Error("delivery: cannot record the receipt", slog.Any("err", err))
			w.hold(dl.Key, now.Add(d.cfg.PollInterval))
			return
		}
		w.metric(OutcomeDelivered)
		if d.cfg.Metrics != nil {
			d.cfg.Metrics.Delivered(w.peer)
		}
		w.closeBreaker()
		log.Debug("delivery: delivered")
		return
	}

	// A failed attempt: exponential backoff with full jitter, bounded by
	// the dead-letter deadline so that the delivery is looked at again when
	// it expires.
	w.metric(outcome)
	next := now.Add(d.backoff(dl.Attempts + 1))
	if deadline := dl.LifetimeStart().Add(d.cfg.Lifetime); !dl.CreatedAt.IsZero() && next.After(deadline) {
		next = deadline
	}
	w.mu.Lock()
	changed := w.br.failure(now)
	w.mu.Unlock()
	if changed {
		w.breakerChanged(BreakerOpen)
	}
	log.Warn("delivery: attempt failed", slog.Int("attempt", dl.Attempts+1), slog.Time("next", next),
		slog.String("code", string(protocol.CodeOf(failure))), slog.Any("err", failure))
	if err := d.cfg.Outbox.RecordAttempt(rctx, dl.Key, store.Attempt{At: now, Err: failure.Error(), NextAttemptAt: next}); err != nil {
		log.Error("delivery: cannot record the attempt", slog.Any("err", err))
		w.hold(dl.Key, next)
	}
}

func (w *worker) hold(key store.DeliveryKey, until time.Time) {
	w.holdKey, w.holdUntil = key, until
}

func (w *worker) dead(ctx context.Context, dl *store.Delivery, reason string, now time.Time) {
	d := w.d
	if err := d.cfg.Outbox.MarkDead(ctx, dl.Key, reason, now); err != nil {
		if ctx.Err() == nil {
			d.log.Error("delivery: cannot dead-letter", slog.String("peer", w.peer), slog.Uint64("delivery", uint64(dl.Key)), slog.Any("err", err))
			w.hold(dl.Key, now.Add(d.cfg.PollInterval))
		}
		return
	}
	d.log.Error("delivery: dead-lettered", slog.String("peer", w.peer), slog.String("messageId", dl.MessageID),
		slog.Uint64("delivery", uint64(dl.Key)), slog.String("reason", reason))
	if d.cfg.Metrics != nil {
		d.cfg.Metrics.DeadLettered(w.peer, reason)
	}
}

func (w *worker) closeBreaker() {
	w.mu.Lock()
	changed := w.br.success()
	w.mu.Unlock()
	if changed {
		w.breakerChanged(BreakerClosed)
	}
}

func (w *worker) breakerChanged(s BreakerState) {
	w.d.log.Info("delivery: circuit breaker "+s.String(), slog.String("peer", w.peer))
	if w.d.cfg.Metrics != nil {
		w.d.cfg.Metrics.Breaker(w.peer, s)
	}
}

func (w *worker) metric(outcome string) {
	if w.d.cfg.Metrics != nil {
		w.d.cfg.Metrics.Attempt(w.peer, outcome)
	}
}
