package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBackupWhileWriting: backups taken while writers are busy open as
// normal store files whose audit chain and invariants verify.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{})
	dir := t.TempDir()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var accepted, enqueued atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, _, err := s.Accept(ctx, inbound("TJ", fmt.Sprintf("w%d-%d", w, i), "p", 6000)); !assert.NoError(t, err) {
					return
				}
				accepted.Add(1)
			}
		})
	}
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			st, _, err := s.Enqueue(ctx, submission(fmt.Sprintf("s-%d", i), peerTR, peerKZ))
			if !assert.NoError(t, err) {
				return
			}
			enqueued.Add(1)
			if i%2 == 0 {
				assert.NoError(t, s.MarkDelivered(ctx, st.Deliveries[0].Key, []byte("receipt"), t0))
			}
		}
	})

	var paths []string
	for i := range 3 {
		require.Eventually(t, func() bool { return accepted.Load() > int64(20*(i+1)) }, 30*time.Second, time.Millisecond)
		p := filepath.Join(dir, fmt.Sprintf("backup-%d.db", i))
		n, err := s.BackupFile(ctx, p)
		require.NoError(t, err)
		assert.Positive(t, n)
		paths = append(paths, p)
	}
	var buf bytes.Buffer
	_, err := s.Backup(ctx, &buf)
	require.NoError(t, err)
	close(stop)
	wg.Wait()

	mem := filepath.Join(dir, "backup-stream.db")
	require.NoError(t, os.WriteFile(mem, buf.Bytes(), 0o600))
	paths = append(paths, mem)
	var last uint64
	for _, p := range paths {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		b, err := Open(ctx, p, Options{ReadOnly: true, Logger: testLogger(t)})
		require.NoError(t, err)
		_, n, err := b.VerifyAudit(ctx)
		require.NoError(t, err, p)
		require.NoError(t, b.Check(ctx), p)
		c, err := b.Counts(ctx)
		require.NoError(t, err)
		assert.Positive(t, c.Inbox)
		assert.GreaterOrEqual(t, n, last, "later backups hold more")
		last = n
		_, _, err = b.Accept(ctx, inbound("TJ", "x", "p", 100))
		require.ErrorIs(t, err, ErrUnavailable, "a read-only store takes no writes")
		require.NoError(t, b.Close())
	}
	mustCheck(t, s)
	matches, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*"))
	assert.Empty(t, matches, "no temporary file left")
	t.Logf("accepted %d, enqueued %d during backups", accepted.Load(), enqueued.Load())
}

func TestBackupCancelled(t *testing.T) {
	s := mustOpen(t, Options{NoSync: true})
	_, _, err := s.Accept(context.Background(), inbound("TJ", "m", "p", 500))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	_, err = s.BackupFile(ctx, filepath.Join(dir, "b.db"))
	require.ErrorIs(t, err, context.Canceled)
	entries, _ := os.ReadDir(dir)
	assert.Empty(t, entries, "a failed backup leaves nothing")
}
