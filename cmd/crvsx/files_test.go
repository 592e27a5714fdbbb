package main

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// countSyncs replaces syncDir for one test and counts the directories it
// was asked to sync.
func countSyncs(t *testing.T) *[]string {
	t.Helper()
	var synced []string
	old := syncDir
	syncDir = func(dir string) error { synced = append(synced, dir); return old(dir) }
	t.Cleanup(func() { syncDir = old })
	return &synced
}

// onlyFiles lists a directory's names: no temporary file may stay behind.
func onlyFiles(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteNew_WholeDurableAndNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	synced := countSyncs(t)
	path := filepath.Join(dir, "TJ-sign.jwk")
	require.NoError(t, writeNew(path, []byte("secret"), 0o600))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "secret", string(b))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	require.Equal(t, []string{dir}, *synced, "the new name is made durable")

	err = writeNew(path, []byte("other"), 0o600)
	require.ErrorIs(t, err, fs.ErrExist)
	require.True(t, os.IsExist(err), "writeOut's check")
	b, _ = os.ReadFile(path)
	require.Equal(t, "secret", string(b), "an existing file is never touched")
	require.Equal(t, []string{"TJ-sign.jwk"}, onlyFiles(t, dir))
}

func TestReplaceFile_WholeOrNothing(t *testing.T) {
	dir := t.TempDir()
	synced := countSyncs(t)
	path := filepath.Join(dir, "backup.db")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))

	failed := errors.New("connection reset mid-body")
	err := replaceFileFrom(path, 0o600, func(w io.Writer) error {
		_, _ = w.Write([]byte("half of the n"))
		return failed
	})
	require.ErrorIs(t, err, failed)
	b, _ := os.ReadFile(path)
	require.Equal(t, "old", string(b), "a failed write leaves the file as it was")
	require.Empty(t, *synced)
	require.Equal(t, []string{"backup.db"}, onlyFiles(t, dir))

	require.NoError(t, replaceFile(path, []byte("new"), 0o644))
	b, _ = os.ReadFile(path)
	require.Equal(t, "new", string(b))
	st, _ := os.Stat(path)
	require.Equal(t, os.FileMode(0o644), st.Mode().Perm())
	require.Equal(t, []string{dir}, *synced, "the rename is made durable")
	require.Equal(t, []string{"backup.db"}, onlyFiles(t, dir))
}
