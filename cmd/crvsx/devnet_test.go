package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shell runs a command line in sh, in dir, with the environment and env
// (which wins), and returns its exit code and output.
func shell(t *testing.T, dir, line string, env ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	return runCmd(t, cmd, nil)
}

// outputFile is a file a process writes its output to, read by the test
// while it runs.
type outputFile struct{ *os.File }

func outFile(t *testing.T, path string) outputFile {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return outputFile{f}
}

// String is what was written so far.
func (f outputFile) String() string {
	b, _ := os.ReadFile(f.Name())
	return string(b)
}

// pathFirst is a PATH environment entry with dir first.
func pathFirst(dir string) string {
	return "PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH")
}

// TestDevnetPrintsCommandsThatWork runs "crvsx devnet --dir DIR" as a
// newcomer does and pastes every command it prints, as printed, once the
// demo is done: each must succeed. Ctrl-C then stops the network (exit 0).
func TestDevnetPrintsCommandsThatWork(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "devnet")
	cmd := exec.Command(binary, "devnet", "--dir", dir, "--log-format", "json")
	// Files, which the test reads while the process writes them.
	stdout, stderr := outFile(t, filepath.Join(base, "stdout")), outFile(t, filepath.Join(base, "stderr"))
	cmd.Stdout, cmd.Stderr = stdout, stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.After(90 * time.Second)
	for !strings.Contains(stderr.String(), `"msg":"demo done`) {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("devnet exited: %v\n%s\n%s", err, stdout.String(), stderr.String())
		case <-deadline:
			t.Fatalf("the demo did not finish:\n%s\n%s", stdout.String(), stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
	}

	out := stdout.String()
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "  crvsx ") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	require.Len(t, lines, 3*4, "send, inbox, registry status and members for each of the three nodes:\n%s", out)
	var consoles, tokens []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[0] == "console" && f[2] == "operator" && f[3] == "token:" {
			consoles = append(consoles, f[1])
			tokens = append(tokens, f[4])
		}
	}
	for i, c := range []string{"TJ", "TR", "KZ"} {
		b, err := os.ReadFile(filepath.Join(dir, c, "admin-tokens"))
		require.NoError(t, err)
		require.Less(t, i, len(tokens), out)
		assert.Contains(t, string(b), " "+tokens[i], "the printed operator token of %s is the one its admin-tokens file holds", c)
	}
	require.Len(t, consoles, 3, "a console URL for each node:\n%s", out)
	for _, u := range consoles {
		resp, err := http.Get(u + "login")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "the printed console URL %s serves the login page", u)
	}
	for _, f := range []string{"TR/tokens", "TR/admin-tokens", "TR/birth.json", "KZ/death.json", "TJ/marriage.json"} {
		assert.Contains(t, out, filepath.Join(dir, f), "the output names the file")
		assert.FileExists(t, filepath.Join(dir, f))
	}
	elsewhere := t.TempDir() // the paths are absolute: any folder will do
	for _, l := range lines {
		r := shell(t, elsewhere, l, pathFirst(filepath.Dir(binary)))
		assert.Equal(t, 0, r.code, "%s\n%s%s", l, r.stdout, r.stderr)
		if strings.HasPrefix(l, "crvsx send ") {
			assert.Contains(t, r.stdout, `"status": "delivered"`, l)
		}
	}

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case err := <-exited:
		exited <- err
		assert.NoError(t, err, "Ctrl-C stops the network cleanly")
	case <-time.After(30 * time.Second):
		t.Fatal("devnet did not stop on SIGINT")
	}
}
