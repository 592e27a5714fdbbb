package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEveryCommandHasAnExample walks the command tree: every command's
// --help shows how it is called.
func TestEveryCommandHasAnExample(t *testing.T) {
	var b bytes.Buffer
	root := newRoot(&env{stdin: &b, stdout: &b, stderr: &b})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no Example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Name() == "completion" { // cobra's own
				continue
			}
			walk(sub)
		}
	}
	walk(root)
}

// TestDeprecatedNamesStillWork: the old flag and command names work for
// one more release, saying what replaces them, and are not in the help.
func TestDeprecatedNamesStillWork(t *testing.T) {
	dir := t.TempDir()
	r := run(t, nil, "registry", "node-key", "generate", "--node", "TJ-MOJ-CRVS", "--out", dir)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "use --node-id")
	assert.NotContains(t, r.stdout, "deprecated", "stdout is the pin alone")
	r = run(t, nil, "registry", "node-key", "generate", "--help")
	assert.NotContains(t, r.stdout, "--node ")
	r = run(t, nil, "registry", "--help")
	assert.NotContains(t, r.stdout, "endorse     ", "registry endorse is hidden: registry genesis endorse is the one")
	r = run(t, nil, "registry", "endorse", "--genesis", "nonexistent.json", "--key", "nonexistent.jwk")
	assert.Contains(t, r.stderr, `use "crvsx registry genesis endorse"`)
	assert.NotContains(t, r.stdout, "deprecated")
	r = run(t, nil, "registry", "genesis", "verify", "--genesis", "g.json", "--endorsements", "e.json", "--pin", strings.Repeat("ab", 32))
	assert.Contains(t, r.stderr, "--pin is deprecated: use --genesis-sha256")
	r = run(t, nil, "registry", "genesis", "verify", "--help")
	assert.Contains(t, r.stdout, "--genesis-sha256")
	assert.NotContains(t, r.stdout, "--pin ")
}

func TestVersion(t *testing.T) {
	r := run(t, nil, "version")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `^crvsx \S+ \(commit [^;]+; go1\.\S+ \S+/\S+\)\n$`, r.stdout)
	v := run(t, nil, "--version")
	assert.Equal(t, r.stdout, v.stdout, "crvsx --version prints the same line")

	// A release build sets both with -ldflags.
	bin := filepath.Join(t.TempDir(), "crvsx")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7 -X main.commit=0123abcd", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	got, err := exec.Command(bin, "version").Output()
	require.NoError(t, err)
	assert.Regexp(t, `^crvsx v9\.8\.7 \(commit 0123abcd; go`, string(got))
}
