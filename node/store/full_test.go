package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// enospc is the error bbolt's commit returns when a write or fdatasync of
// the file meets a full volume.
func enospc() error {
	return fmt.Errorf("write node.db: %w", &os.PathError{Op: "write", Path: "node.db", Err: syscall.ENOSPC})
}

// TestFullVolume: DESIGN.md §6 "Full volume".
func TestFullVolume(t *testing.T) {
	ctx := context.Background()

	// > a commit that fails with ENOSPC before its meta page … is refused
	// > with ErrFull, … takes writes again as soon as one commits
	for _, tc := range []struct {
		name  string
		probe time.Duration // 0: no probe in the test's time
		write bool          // a caller's write clears it
	}{
		{"§6-full/probe-clears-when-space-returns", 10 * time.Millisecond, false},
		{"§6-full/next-write-clears-when-space-returns", time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var full atomic.Bool
			s := mustOpen(t, Options{NoSync: true, FullProbeInterval: tc.probe, CommitFault: func() error {
				if full.Load() {
					return enospc()
				}
				return nil
			}})
			_, _, err := s.Accept(ctx, inbound("TJ", "before", "p", 500))
			require.NoError(t, err)
			require.NoError(t, s.Full())

			full.Store(true)
			_, _, err = s.Accept(ctx, inbound("TJ", "during", "p", 500))
			require.ErrorIs(t, err, ErrFull)
			require.ErrorIs(t, err, syscall.ENOSPC)
			require.ErrorIs(t, s.Full(), ErrFull)
			require.NoError(t, s.Failed(), "a full volume does not poison the store")
			require.ErrorIs(t, s.Ack(ctx, "national", 1), ErrFull, "every write is refused while full")
			r, err := s.LookupInbound(ctx, "TJ", "before")
			require.NoError(t, err, "what was acknowledged before stays")
			assert.Equal(t, uint64(1), r.Seq)
			_, err = s.LookupInbound(ctx, "TJ", "during")
			require.ErrorIs(t, err, ErrNotFound, "nothing of the refused write")
			if tc.probe < time.Hour {
				time.Sleep(5 * tc.probe) // probes while full keep failing
				require.ErrorIs(t, s.Full(), ErrFull)
			}

			full.Store(false)
			if tc.write {
				require.NoError(t, s.Ack(ctx, "national", 1))
				require.NoError(t, s.Full())
			} else {
				require.Eventually(t, func() bool { return s.Full() == nil }, 5*time.Second, 5*time.Millisecond,
					"the probe clears Full without any caller's write")
			}
			_, _, err = s.Accept(ctx, inbound("TJ", "during", "p", 500))
			require.NoError(t, err)
			mustCheck(t, s)
			c, err := s.Counts(ctx)
			require.NoError(t, err)
			assert.Equal(t, uint64(2), c.Inbox, "seq 1 and 2: the refused write took no number")
			path := s.Path()
			require.NoError(t, s.Close())
			s2 := mustOpenPath(t, path, Options{})
			mustCheck(t, s2)
			r, err = s2.LookupInbound(ctx, "TJ", "during")
			require.NoError(t, err)
			assert.Equal(t, uint64(2), r.Seq)
		})
	}

	// > … else the store is poisoned (etcd-io/bbolt#233)
	t.Run("§6-full/enospc-after-the-meta-page-poisons", func(t *testing.T) {
		s := mustOpen(t, Options{NoSync: true})
		_, _, err := s.Accept(ctx, inbound("TJ", "before", "p", 500))
		require.NoError(t, err)
		onCommitter(t, s, func(c *committer) {
			c.commitTx = func(tx *bolt.Tx) error {
				_ = tx.Rollback()
				// The failed commit's meta page is in the page cache: a
				// valid meta one transaction past bbolt's memory.
				bumpMeta(t, s.Path(), s.db.Info().PageSize)
				return enospc()
			}
		})
		_, _, err = s.Accept(ctx, inbound("TJ", "m", "p", 500))
		require.ErrorIs(t, err, ErrUnavailable)
		require.NotErrorIs(t, err, ErrFull)
		require.Error(t, s.Failed())
		require.NoError(t, s.Full())
	})

	t.Run("§6-full/other-commit-errors-still-poison", func(t *testing.T) {
		s := mustOpen(t, Options{NoSync: true, CommitFault: func() error { return errors.New("fdatasync: input/output error") }})
		_, _, err := s.Accept(ctx, inbound("TJ", "m", "p", 500))
		require.ErrorIs(t, err, ErrUnavailable)
		require.Error(t, s.Failed())
		require.NoError(t, s.Full())
	})
}

// The meta page of a bbolt file (go.etcd.io/bbolt internal/common): a
// 16-byte page header, then magic u32, version u32, page size u32, flags
// u32, root bucket (pgid u64, sequence u64), freelist pgid u64, high water
// mark u64, txid u64 and an FNV-1a 64 checksum of the 56 bytes before it,
// in the machine's byte order. Pages 0 and 1 are the two meta pages.
const (
	boltPageHdr   = 16
	boltMetaTxid  = 48
	boltMetaCksum = 56
)

// bumpMeta writes into the older meta page of the file a copy of the newer
// one with the next txid and a valid checksum.
func bumpMeta(t *testing.T, path string, ps int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	buf := make([]byte, 2*ps)
	_, err = f.ReadAt(buf, 0)
	require.NoError(t, err)
	meta := func(i int) []byte { return buf[i*ps+boltPageHdr : i*ps+boltPageHdr+boltMetaCksum+8] }
	newer, older := 0, 1
	if binary.NativeEndian.Uint64(meta(1)[boltMetaTxid:]) > binary.NativeEndian.Uint64(meta(0)[boltMetaTxid:]) {
		newer, older = 1, 0
	}
	m := append([]byte(nil), meta(newer)...)
	binary.NativeEndian.PutUint64(m[boltMetaTxid:], binary.NativeEndian.Uint64(m[boltMetaTxid:])+1)
	h := fnv.New64a()
	h.Write(m[:boltMetaCksum])
	binary.NativeEndian.PutUint64(m[boltMetaCksum:], h.Sum64())
	_, err = f.WriteAt(m, int64(older*ps+boltPageHdr))
	require.NoError(t, err)
}
