package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// The CLI's files — private keys, signed registry entries, attestations,
// backups — are written whole or not at all, and durably: into a temporary
// file in the target's directory, fsync'ed, given its mode, then linked
// (a new file) or renamed (a replacement) into place, and the directory
// fsync'ed so that the new name survives a power cut. A key that is half
// written, or whose name is lost after the registry has its public half,
// is worse than an error.

// syncDir fsyncs a directory (a variable for the tests, which count it).
var syncDir = func(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeTemp writes a temporary file beside path through write, fsync'ed,
// with mode; the caller links or renames it and removes the name.
func writeTemp(path string, mode os.FileMode, write func(io.Writer) error) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	err = write(f)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// writeNew writes a file that must not exist yet (an error wrapping
// fs.ErrExist if it does): linking the finished temporary file fails when
// the name is taken, so an existing file is never touched, even by a
// racing writer.
func writeNew(path string, data []byte, mode os.FileMode) error {
	tmp, err := writeTemp(path, mode, func(w io.Writer) error { _, err := w.Write(data); return err })
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		var le *os.LinkError
		if errors.As(err, &le) && errors.Is(le.Err, os.ErrExist) {
			return &os.PathError{Op: "create", Path: path, Err: os.ErrExist}
		}
		return err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("sync the directory of %s: %w", path, err)
	}
	return nil
}

// replaceFile writes data to path, replacing what is there whole: a
// reader, or a crash, never sees half of it, and a file given as both
// input and output (cosign --entry F --out F) is replaced whole.
func replaceFile(path string, data []byte, mode os.FileMode) error {
	return replaceFileFrom(path, mode, func(w io.Writer) error { _, err := w.Write(data); return err })
}

// replaceFileFrom is replaceFile with the contents streamed by write (a
// backup); if write fails, path is left as it was.
func replaceFileFrom(path string, mode os.FileMode, write func(io.Writer) error) error {
	tmp, err := writeTemp(path, mode, write)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("sync the directory of %s: %w", path, err)
	}
	return nil
}
