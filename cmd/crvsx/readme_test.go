package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readmeSections are the sections of README.md whose ```sh commands
// TestREADMECommands runs.
var readmeSections = []string{"Quick start", "Install", "Offline tools"}

// readmeCommands are the commands of those sections, in the README's
// order, as the README writes them (without their comments): the test
// fails when the two differ, so that they cannot drift apart. Each runs as
// written, exiting 0, unless run says what runs instead ("" for nothing)
// and why.
var readmeCommands = []struct {
	line, run, why string
}{
	{line: "go run ./cmd/crvsx devnet", run: "go run ./cmd/crvsx devnet --once", why: "the network runs until Ctrl-C; --once runs the same demo and exits"},
	{line: "go test ./...", run: "", why: "the test suite this test is part of"},
	{line: "go install ./cmd/crvsx"},
	{line: "crvsx version"},
	{line: `go install -ldflags "-X main.version=v0.1.0 -X main.commit=$(git rev-parse HEAD)" ./cmd/crvsx`},
	{line: "crvsx keys generate --member TR --out ~/crvsx-keys"},
	{line: "crvsx keys jwks ~/crvsx-keys/*.public.jwk > ~/crvsx-keys/trust.json"},
	{line: "crvsx sign --key ~/crvsx-keys/TR_*.private.jwk schemas/testdata/valid/live-birth-tajik-child-in-istanbul.json > ~/crvsx-keys/birth.jws"},
	{line: "crvsx verify --trust ~/crvsx-keys/trust.json ~/crvsx-keys/birth.jws"},
	{line: "crvsx schemas list"},
	{line: "crvsx schemas validate schemas/testdata/valid/*.json"},
	{line: "crvsx registry --help"},
	{line: "crvsx bench pipeline --json"},
	{line: "crvsx bench e2e --duration 5s"},
	{line: "crvsx bench e2e --json --duration 60s", run: "", why: "the soak: the README's crvsx bench e2e --duration 5s runs the same, shorter"},
	{line: "crvsx bench match --json"},
}

// readmeCommandLines returns the command lines of the ```sh blocks of the
// sections of README.md, without their comments.
func readmeCommandLines(t *testing.T, readme string, sections []string) []string {
	t.Helper()
	f, err := os.Open(readme)
	require.NoError(t, err)
	defer f.Close()
	comment := regexp.MustCompile(`\s+#\s.*$`)
	var out []string
	section, inSh := "", false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "## "):
			section = strings.TrimPrefix(l, "## ")
		case l == "```sh":
			inSh = true
		case l == "```":
			inSh = false
		case inSh && strings.TrimSpace(l) != "":
			for _, s := range sections {
				if s == section {
					out = append(out, comment.ReplaceAllString(l, ""))
				}
			}
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// TestREADMECommands runs every command of the README's quick start,
// install and offline tools sections as a newcomer would, from the
// repository's root: with the crvsx that the README's own "go install"
// installs, and a HOME and GOBIN of the test's (the README's ~/crvsx-keys
// and the install land there, not in this machine's).
func TestREADMECommands(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	var lines []string
	for _, c := range readmeCommands {
		lines = append(lines, c.line)
	}
	require.Equal(t, readmeCommandLines(t, filepath.Join(root, "README.md"), readmeSections), lines,
		"the README's commands and readmeCommands differ: change both")

	tmp := t.TempDir()
	home, bin := filepath.Join(tmp, "home"), filepath.Join(tmp, "bin")
	require.NoError(t, os.MkdirAll(home, 0o700))
	// The Go toolchain's own folders stay this machine's (they default to
	// places under HOME).
	goenv, err := exec.Command("go", "env", "-json", "GOENV", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	require.NoError(t, err)
	var ge map[string]string
	require.NoError(t, json.Unmarshal(goenv, &ge))
	env := []string{"HOME=" + home, "GOBIN=" + bin, pathFirst(bin)}
	for k, v := range ge {
		env = append(env, k+"="+v)
	}
	for _, c := range readmeCommands {
		line := c.line
		if c.why != "" {
			if line = c.run; line == "" {
				t.Logf("not run: %s (%s)", c.line, c.why)
				continue
			}
		}
		r := shell(t, root, line, env...)
		if !assert.Equal(t, 0, r.code, "%s\n%s%s", line, r.stdout, r.stderr) {
			break // the next commands use what this one makes
		}
	}
	r := shell(t, root, "crvsx version", env...)
	assert.Contains(t, r.stdout, "crvsx v0.1.0 (commit ", "the release build's -ldflags")
	_, err = os.Stat(filepath.Join(home, "crvsx-keys", "birth.jws"))
	assert.NoError(t, err, "the keys and what they signed are in ~/crvsx-keys")
}
