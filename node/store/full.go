package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A full volume (DESIGN.md §6 "Full volume"): a commit that fails with
// ENOSPC before bbolt wrote its meta page is rolled back whole, so the
// store refuses that one write with ErrFull, reports Full, and takes writes
// again when one commits — a caller's or the committer's probe.

const defaultFullProbe = 5 * time.Second

// fullState is why and since when the store is full.
type fullState struct {
	since time.Time
	cause error
}

// Full reports, while the volume is full, an error wrapping ErrFull with
// the cause and since when; nil otherwise. Readiness and the
// crvsx_storage_full gauge follow it.
func (s *Store) Full() error {
	if s.commit == nil {
		return nil
	}
	f := s.commit.full.Load()
	if f == nil {
		return nil
	}
	return fmt.Errorf("%w since %s: %w", ErrFull, f.since.UTC().Format(time.RFC3339), f.cause)
}

// commitFailed decides what a failed commit means and returns the error
// its callers get: ErrFull for an ENOSPC that left the file's meta pages
// as bbolt's memory has them, else the store is poisoned (ErrUnavailable).
func (c *committer) commitFailed(id uint64, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		ierr := c.s.metaIntact(id)
		if ierr == nil {
			if c.full.Load() == nil {
				c.full.Store(&fullState{since: time.Now(), cause: err})
				c.s.log.Error("store: the volume is full; refusing writes until space returns", slog.String("path", c.s.path), slog.Any("err", err))
			}
			if c.probe == nil {
				c.probe = time.NewTicker(c.probeEvery)
			}
			return fmt.Errorf("%w: commit: %w", ErrFull, err)
		}
		c.s.log.Error("store: a commit failed with ENOSPC after its meta page was written", slog.Any("err", ierr))
	}
	c.poison(err)
	return fmt.Errorf("%w: commit: %w", ErrUnavailable, err)
}

// committed clears the full state after a successful commit.
func (c *committer) committed() {
	if c.full.Swap(nil) != nil {
		c.stopProbe()
		c.s.log.Info("store: space has returned; taking writes again", slog.String("path", c.s.path))
	}
}

func (c *committer) stopProbe() {
	if c.probe != nil {
		c.probe.Stop()
		c.probe = nil
	}
}

// runProbe tries a write that changes nothing a reader sees: it sets the
// meta bucket's (unused) sequence to its value, which makes bbolt rewrite
// the bucket's page, the root and the freelist. Its success clears Full.
func (c *committer) runProbe() {
	_ = c.commitSolo(&request{ctx: context.Background(), fn: func(w *wtx) error {
		b := w.bucket(bktMeta)
		if err := b.SetSequence(b.Sequence()); err != nil {
			return &txAbort{err}
		}
		w.dirty = true
		return nil
	}})
}

// metaIntact reports whether the failed commit of transaction id left the
// file's meta pages as they were — true after a commit that failed before
// writing its meta page (growing the file, writing or syncing the data
// pages), false if its meta page reached the page cache (etcd-io/bbolt#233),
// which poisons the store. bbolt reads its meta pages from the file's
// mapping, so a read transaction's id is the newest valid meta page's.
func (s *Store) metaIntact(id uint64) error {
	var newest uint64
	if err := s.db.View(func(tx *bolt.Tx) error { newest = uint64(tx.ID()); return nil }); err != nil {
		return err
	}
	if newest >= id {
		return fmt.Errorf("the file's newest meta page is transaction %d, the failed commit's is %d", newest, id)
	}
	return nil
}
