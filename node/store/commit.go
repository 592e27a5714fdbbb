package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// request is one write operation waiting for the committer.
type request struct {
	ctx  context.Context
	fn   func(*wtx) error
	size int
	done chan error // buffered: the committer never blocks on a caller
}

// committer is the single writer: it groups queued operations into one
// transaction and one commit (DESIGN.md §5).
type committer struct {
	s        *Store
	reqs     chan *request
	maxOps   int
	maxDelay time.Duration

	mu     sync.RWMutex // guards closed against sends on reqs
	closed bool
	exited chan struct{}

	failed atomic.Pointer[error]
	// full is set while the volume is full (DESIGN.md §6); probe ticks
	// while it is, owned by the committer goroutine.
	full       atomic.Pointer[fullState]
	probe      *time.Ticker
	probeEvery time.Duration

	nCommits, nOps, nSolo, nEmpty atomic.Uint64

	// beforeCommit, when set (tests), runs before each batch commit with the
	// number of operations in it.
	beforeCommit func(n int)
	// commitTx commits; tests replace it to inject a failed fsync.
	commitTx func(*bolt.Tx) error
}

func newCommitter(s *Store, maxOps int, maxDelay time.Duration) *committer {
	c := &committer{
		s:        s,
		reqs:     make(chan *request, 4*maxOps),
		maxOps:   maxOps,
		maxDelay: maxDelay,
		exited:   make(chan struct{}),
		commitTx: (*bolt.Tx).Commit,

		probeEvery: defaultFullProbe,
	}
	go c.run()
	return c
}

// do queues fn and waits until it is committed (or refused). If ctx ends
// first, do returns ctx.Err(); the operation may still commit — the caller
// must treat that as "unknown", which idempotent retries resolve.
func (c *committer) do(ctx context.Context, size int, fn func(*wtx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.failure(); err != nil {
		return fmt.Errorf("%w: a commit failed, reopen the store: %w", ErrUnavailable, err)
	}
	r := &request{ctx: ctx, fn: fn, size: size, done: make(chan error, 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return fmt.Errorf("%w: closed", ErrUnavailable)
	}
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		c.mu.RUnlock()
		return ctx.Err()
	}
	c.mu.RUnlock()
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close lets the committer finish what is queued and waits for it.
func (c *committer) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.reqs)
	}
	c.mu.Unlock()
	<-c.exited
}

func (c *committer) failure() error {
	if p := c.failed.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *committer) stats() CommitStats {
	return CommitStats{Commits: c.nCommits.Load(), Ops: c.nOps.Load(), Solo: c.nSolo.Load(), Empty: c.nEmpty.Load()}
}

func (c *committer) run() {
	defer close(c.exited)
	defer c.stopProbe()
	batch := make([]*request, 0, c.maxOps)
	for {
		var probe <-chan time.Time
		if c.probe != nil {
			probe = c.probe.C
		}
		var first *request
		var ok bool
		select {
		case first, ok = <-c.reqs:
		case <-probe:
			c.runProbe()
			continue
		}
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		bytes := first.size
		var timeout <-chan time.Time
		var timer *time.Timer
		if c.maxDelay > 0 {
			timer = time.NewTimer(c.maxDelay)
			timeout = timer.C
		}
	collect:
		for len(batch) < c.maxOps && bytes < maxBatchBytes {
			if timeout == nil {
				select {
				case r, ok := <-c.reqs:
					if !ok {
						break collect
					}
					batch = append(batch, r)
					bytes += r.size
				default:
					break collect
				}
			} else {
				select {
				case r, ok := <-c.reqs:
					if !ok {
						break collect
					}
					batch = append(batch, r)
					bytes += r.size
				case <-timeout:
					break collect
				}
			}
		}
		if timer != nil {
			timer.Stop()
		}
		c.commitBatch(batch)
		clear(batch)
	}
}

// commitBatch runs the operations of a batch in one transaction and
// commits once.
func (c *committer) commitBatch(batch []*request) {
	if err := c.failure(); err != nil {
		for _, r := range batch {
			r.done <- fmt.Errorf("%w: a commit failed, reopen the store: %w", ErrUnavailable, err)
		}
		return
	}
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- err // never started: nothing written
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	tx, err := c.s.db.Begin(true)
	if err != nil {
		for _, r := range live {
			r.done <- fmt.Errorf("store: begin: %w", err)
		}
		return
	}
	w := &wtx{tx: tx, now: c.s.now}
	errs := make([]error, len(live))
	for i, r := range live {
		errs[i] = runOp(w, r.fn)
		var abort *txAbort
		if errors.As(errs[i], &abort) {
			// Roll back everything and give each operation its own
			// transaction: one bad operation must not take the others down.
			_ = tx.Rollback()
			c.nSolo.Add(1)
			c.s.log.Warn("store: batch aborted, re-running operations one by one", slog.Int("ops", len(live)), slog.Any("cause", abort.err))
			for _, r := range live {
				r.done <- c.commitSolo(r)
			}
			return
		}
	}
	if !w.dirty {
		_ = tx.Rollback()
		c.nEmpty.Add(1)
		for i, r := range live {
			r.done <- errs[i]
		}
		return
	}
	if c.beforeCommit != nil {
		c.beforeCommit(len(live))
	}
	id := uint64(tx.ID())
	if err := c.commitTx(tx); err != nil {
		err = c.commitFailed(id, err)
		for _, r := range live {
			r.done <- err
		}
		return
	}
	c.committed()
	c.s.markDurable(id)
	c.nCommits.Add(1)
	c.nOps.Add(uint64(len(live)))
	for i, r := range live {
		r.done <- errs[i]
	}
}

// commitSolo runs one operation in its own transaction.
func (c *committer) commitSolo(r *request) error {
	if err := c.failure(); err != nil {
		return fmt.Errorf("%w: a commit failed, reopen the store: %w", ErrUnavailable, err)
	}
	tx, err := c.s.db.Begin(true)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	w := &wtx{tx: tx, now: c.s.now}
	if err := runOp(w, r.fn); err != nil {
		_ = tx.Rollback()
		return err
	}
	if !w.dirty {
		_ = tx.Rollback()
		return nil
	}
	id := uint64(tx.ID())
	if err := c.commitTx(tx); err != nil {
		return c.commitFailed(id, err)
	}
	c.committed()
	c.s.markDurable(id)
	c.nCommits.Add(1)
	c.nOps.Add(1)
	return nil
}

// runOp runs fn and turns a panic into an abort.
func runOp(w *wtx, fn func(*wtx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &txAbort{fmt.Errorf("operation panicked: %v", p)}
		}
	}()
	return fn(w)
}

func (c *committer) poison(err error) {
	c.failed.CompareAndSwap(nil, &err)
	c.s.log.Error("store: commit failed; refusing writes until the store is reopened", slog.String("path", c.s.path), slog.Any("err", err))
}
