package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the store file to w, as of one read
// transaction, while writes go on (DESIGN.md §8). The copy is only as
// durable as w makes it; see BackupFile.
func (s *Store) Backup(ctx context.Context, w io.Writer) (n int64, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		var e error
		n, e = tx.WriteTo(ctxWriter{ctx, w})
		return e
	})
	if err != nil {
		return n, fmt.Errorf("store: backup: %w", err)
	}
	return n, nil
}

// BackupFile writes a consistent copy to path: a temporary file in the
// same directory, fsync, rename, fsync of the directory. The file at path
// is either the complete backup or untouched.
func (s *Store) BackupFile(ctx context.Context, path string) (n int64, err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	if n, err = s.Backup(ctx, f); err != nil {
		return n, err
	}
	if err = f.Sync(); err != nil {
		return n, fmt.Errorf("store: backup: sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return n, fmt.Errorf("store: backup: close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return n, fmt.Errorf("store: backup: %w", err)
	}
	if err = syncDir(dir); err != nil {
		return n, fmt.Errorf("store: backup: sync directory %s: %w", dir, err)
	}
	return n, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
