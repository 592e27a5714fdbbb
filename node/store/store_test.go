package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	t.Run("ok/file-0600-fsync-on-by-default", func(t *testing.T) {
		s := mustOpen(t, Options{})
		fi, err := os.Stat(s.Path())
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		assert.False(t, s.db.NoSync, "fsync is on unless asked off")
		assert.Equal(t, FileName, filepath.Base(s.Path()))
	})
	t.Run("fail/second-writer-refused-not-blocked", func(t *testing.T) {
		s := mustOpen(t, Options{NoSync: true})
		start := time.Now()
		_, err := Open(ctx, s.Path(), Options{})
		require.Error(t, err)
		assert.Less(t, time.Since(start), 10*time.Second)
	})
	t.Run("ok/reopen-keeps-everything", func(t *testing.T) {
		s := mustOpen(t, Options{})
		fillAll(t, s)
		head, n, err := s.AuditHead(ctx)
		require.NoError(t, err)
		require.NoError(t, s.Close())
		require.NoError(t, s.Close(), "Close is idempotent")
		_, _, err = s.Accept(ctx, inbound("TJ", "late", "p", 100))
		require.ErrorIs(t, err, ErrUnavailable)
		_, err = s.Counts(ctx)
		require.ErrorIs(t, err, ErrUnavailable)

		s2 := mustOpenPath(t, s.Path(), Options{})
		h2, n2, err := s2.VerifyAudit(ctx)
		require.NoError(t, err)
		assert.Equal(t, head, h2)
		assert.Equal(t, n, n2)
		mustCheck(t, s2)
	})
	t.Run("fail/other-bbolt-file-untouched", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.db")
		db, err := bolt.Open(path, 0o600, nil)
		require.NoError(t, err)
		require.NoError(t, db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("state")); return err }))
		require.NoError(t, db.Close())
		_, err = Open(ctx, path, Options{})
		require.ErrorIs(t, err, ErrCorrupt)
		db, err = bolt.Open(path, 0o600, nil)
		require.NoError(t, err)
		defer db.Close()
		require.NoError(t, db.View(func(tx *bolt.Tx) error {
			assert.Nil(t, tx.Bucket(bktMeta), "nothing was written into it")
			return nil
		}))
	})
	t.Run("fail/not-a-store-file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "other.db")
		require.NoError(t, os.WriteFile(path, []byte("not bbolt"), 0o600))
		_, err := Open(ctx, path, Options{})
		require.Error(t, err)
	})
}
