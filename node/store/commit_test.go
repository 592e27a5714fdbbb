package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// TestGroupCommit: N concurrent writes share commits (one fsync pair per
// commit), and one operation's refusal or failure does not take the
// others down (DESIGN.md §5).
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()

	t.Run("ok/concurrent-accepts-share-one-commit", func(t *testing.T) {
		s := mustOpen(t, Options{})
		const n = 32
		g := holdCommitter(t, s)
		before := s.Stats()
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { _, _, errs[i] = s.Accept(ctx, inbound("TJ", fmt.Sprintf("m-%d", i), "p", 6000)) })
		}
		waitQueued(t, s, n)
		g.open()
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		after := s.Stats()
		assert.Equal(t, uint64(1), after.Commits-before.Commits, "%d accepts, one commit", n)
		assert.Equal(t, uint64(n), after.Ops-before.Ops)
		mustCheck(t, s)
	})

	t.Run("ok/free-running-accepts-fewer-commits-than-accepts", func(t *testing.T) {
		s := mustOpen(t, Options{}) // fsync on: batches form while one commit syncs
		const n = 64
		before := s.Stats()
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, _, err := s.Accept(ctx, inbound("TJ", fmt.Sprintf("m-%d", i), "p", 6000))
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		commits := s.Stats().Commits - before.Commits
		t.Logf("%d concurrent accepts: %d commits", n, commits)
		assert.Less(t, commits, uint64(n))
		c, err := s.Counts(ctx)
		require.NoError(t, err)
		assert.Equal(t, uint64(n), c.Inbox)
	})

	t.Run("ok/refused-op-does-not-abort-batch", func(t *testing.T) {
		s := mustOpen(t, Options{NoSync: true})
		g := holdCommitter(t, s)
		var wg sync.WaitGroup
		var errA, errConflict, errAck, errB error
		// The conflict is decided inside the batch: "taken" is stored by
		// the operation before it in the same transaction.
		wg.Go(func() { _, _, errA = s.Accept(ctx, inbound("TJ", "taken", "p", 500)) })
		waitQueued(t, s, 1)
		wg.Go(func() { _, _, errConflict = s.Accept(ctx, inbound("TJ", "taken", "other", 500)) })
		waitQueued(t, s, 2)
		wg.Go(func() { errAck = s.Ack(ctx, "national", 99) })
		waitQueued(t, s, 3)
		wg.Go(func() { _, _, errB = s.Accept(ctx, inbound("TJ", "b", "p", 500)) })
		waitQueued(t, s, 4)
		before := s.Stats()
		g.open()
		wg.Wait()
		require.NoError(t, errA)
		require.NoError(t, errB)
		require.ErrorIs(t, errConflict, ErrConflict)
		require.ErrorIs(t, errAck, ErrInvalid)
		after := s.Stats()
		assert.Equal(t, uint64(1), after.Commits-before.Commits)
		assert.Equal(t, uint64(0), after.Solo-before.Solo)
		mustCheck(t, s)
	})

	t.Run("ok/failing-op-aborts-batch-others-rerun-solo", func(t *testing.T) {
		s := mustOpen(t, Options{NoSync: true})
		g := holdCommitter(t, s)
		var wg sync.WaitGroup
		var errA, errBad, errB error
		wg.Go(func() { _, _, errA = s.Accept(ctx, inbound("TJ", "a", "p", 500)) })
		waitQueued(t, s, 1)
		wg.Go(func() {
			errBad = s.write(ctx, 0, func(w *wtx) error {
				if err := w.put(bktMeta, []byte("junk"), []byte("x")); err != nil {
					return err
				}
				panic("an operation that panics after writing")
			})
		})
		waitQueued(t, s, 2)
		wg.Go(func() { _, _, errB = s.Accept(ctx, inbound("TJ", "b", "p", 500)) })
		waitQueued(t, s, 3)
		before := s.Stats()
		g.open()
		wg.Wait()
		require.NoError(t, errA)
		require.NoError(t, errB)
		require.Error(t, errBad)
		var abort *txAbort
		require.ErrorAs(t, errBad, &abort)
		assert.Equal(t, uint64(1), s.Stats().Solo-before.Solo)
		require.NoError(t, s.view(ctx, func(tx *bolt.Tx) error {
			assert.Nil(t, tx.Bucket(bktMeta).Get([]byte("junk")), "the failed operation's write is rolled back")
			return nil
		}))
		c, _ := s.Counts(ctx)
		assert.Equal(t, uint64(2), c.Inbox)
		mustCheck(t, s)
	})

	t.Run("ok/batch-without-writes-is-not-committed", func(t *testing.T) {
		s := mustOpen(t, Options{NoSync: true})
		_, _, err := s.Accept(ctx, inbound("TJ", "m", "p", 500))
		require.NoError(t, err)
		before := s.Stats()
		require.NoError(t, s.Ack(ctx, "national", 0))
		after := s.Stats()
		assert.Equal(t, before.Commits, after.Commits)
		assert.Equal(t, before.Empty+1, after.Empty)
	})

	t.Run("ok/cancelled-while-queued-writes-nothing", func(t *testing.T) {
		s := mustOpen(t, Options{NoSync: true})
		g := holdCommitter(t, s)
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { _, _, err := s.Accept(cctx, inbound("TJ", "m", "p", 500)); done <- err }()
		waitQueued(t, s, 1)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		g.open()
		require.NoError(t, <-g.done)
		require.NoError(t, s.Ack(ctx, "national", 0)) // a round trip through the committer
		_, err := s.LookupInbound(ctx, "TJ", "m")
		require.ErrorIs(t, err, ErrNotFound)
	})

	t.Run("ok/close-commits-what-is-queued", func(t *testing.T) {
		s := mustOpen(t, Options{})
		g := holdCommitter(t, s)
		const n = 8
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, _, err := s.Accept(ctx, inbound("TJ", fmt.Sprintf("m-%d", i), "p", 500))
				assert.NoError(t, err)
			})
		}
		waitQueued(t, s, n)
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		require.Eventually(t, func() bool { return isClosed(s) }, 5*time.Second, time.Millisecond)
		_, _, err := s.Accept(ctx, inbound("TJ", "late", "p", 500))
		require.ErrorIs(t, err, ErrUnavailable)
		g.open()
		wg.Wait()
		require.NoError(t, <-closed)
		s2 := mustOpenPath(t, s.Path(), Options{})
		c, err := s2.Counts(ctx)
		require.NoError(t, err)
		assert.Equal(t, uint64(n), c.Inbox)
	})

	t.Run("fail/commit-error-poisons-store", func(t *testing.T) {
		s := mustOpen(t, Options{NoSync: true})
		_, _, err := s.Accept(ctx, inbound("TJ", "before", "p", 500))
		require.NoError(t, err)
		onCommitter(t, s, func(c *committer) {
			c.commitTx = func(tx *bolt.Tx) error {
				_ = tx.Rollback()
				return errors.New("fdatasync: input/output error")
			}
		})
		_, _, err = s.Accept(ctx, inbound("TJ", "m", "p", 500))
		require.ErrorIs(t, err, ErrUnavailable)
		require.Error(t, s.Failed())
		_, _, err = s.Accept(ctx, inbound("TJ", "m2", "p", 500))
		require.ErrorIs(t, err, ErrUnavailable, "no write after a failed commit")
		require.ErrorIs(t, s.Ack(ctx, "national", 1), ErrUnavailable)
		r, err := s.LookupInbound(ctx, "TJ", "before")
		require.NoError(t, err, "durable state stays readable")
		assert.Equal(t, uint64(1), r.Seq)
	})

	t.Run("ok/reads-wait-for-fsync", func(t *testing.T) {
		s := mustOpen(t, Options{NoSync: true})
		committed, release := make(chan struct{}), make(chan struct{})
		onCommitter(t, s, func(c *committer) {
			c.commitTx = func(tx *bolt.Tx) error {
				err := tx.Commit() // the meta page is written …
				close(committed)
				<-release // … and the "fdatasync" has not returned
				c.commitTx = (*bolt.Tx).Commit
				return err
			}
		})
		in := inbound("TJ", "m", "p", 500)
		acc := make(chan error, 1)
		go func() { _, _, err := s.Accept(ctx, in); acc <- err }()
		<-committed
		read := make(chan InboundRecord, 1)
		go func() {
			r, err := s.LookupInbound(ctx, "TJ", "m")
			assert.NoError(t, err)
			read <- r
		}()
		select {
		case <-read:
			t.Fatal("a read returned a state whose commit has not returned")
		case <-time.After(100 * time.Millisecond):
		}
		close(release)
		require.NoError(t, <-acc)
		r := <-read
		assert.Equal(t, in.Receipt, r.Receipt)
	})
}
