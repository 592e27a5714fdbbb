//go:build crvsx_docker

package main

// Container tests (issue: deployment on separate hosts). They need a
// Docker engine and docker-compose; .ci/run runs them with -tags
// crvsx_docker whenever an engine answers. Each test builds the image from
// a static binary, creates its own network with an explicit subnet, talks
// only to the containers it started (through ports published on this
// host's loopback), and removes them, the network and the image after.

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/devnet"
	"github.com/stretchr/testify/require"
)

// dockerImage builds the crvsx image with cmd/crvsx/build-image.sh (the
// README's command) under a tag of its own, removed after.
func dockerImage(t *testing.T) string { return dockerImageTags(t, "") }

// dockerImageTags is dockerImage with Go build tags (crvsx_failpoint: the
// test hooks, never in a shipped image).
func dockerImageTags(t *testing.T, tags string) string {
	t.Helper()
	tag := "crvsx:test-" + randomHex(t, 4)
	build := exec.Command("./build-image.sh", tag)
	build.Env = append(os.Environ(), "CRVSX_BUILD_TAGS="+tags)
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "built "+tag)
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", tag).Run() })
	v, err := exec.Command("docker", "run", "--rm", tag, "version").CombinedOutput()
	require.NoError(t, err, "%s", v)
	labels, err := exec.Command("docker", "inspect", "-f", `{{index .Config.Labels "org.opencontainers.image.revision"}} {{.Config.User}} {{json .Config.Healthcheck.Test}}`, tag).CombinedOutput()
	require.NoError(t, err, "%s", labels)
	require.Regexp(t, `^([0-9a-f]{40}|unknown) 65532:65532 \["CMD","/crvsx","node","healthcheck"\]`, strings.TrimSpace(string(labels)))
	return tag
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return fmt.Sprintf("%x", b)
}

// composeNet is an exported compose network brought up for one test.
type composeNet struct {
	dir, project string
	mf           *devnet.Manifest
}

func (c *composeNet) compose(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker-compose", append([]string{"-p", c.project}, args...)...)
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "docker-compose %v: %s", args, out)
	return string(out)
}

// startCompose exports a network (founders TJ, TR, KZ; UZ admitted
// later) on a random 172.30.X.0/24, starts it and waits until the
// founders are ready.
func startCompose(t *testing.T, image string) *composeNet { return startComposeWith(t, image) }

// startComposeWith is startCompose with more flags of crvsx devnet compose.
func startComposeWith(t *testing.T, image string, flags ...string) *composeNet {
	t.Helper()
	return startComposeOverride(t, image, nil, flags...)
}

// startComposeOverride is startComposeWith with a docker-compose.override.yml
// (which docker-compose reads with docker-compose.yml) written from the
// exported network before it starts.
func startComposeOverride(t *testing.T, image string, override func(c *composeNet) string, flags ...string) *composeNet {
	t.Helper()
	octet, err := rand.Int(rand.Reader, big.NewInt(250))
	require.NoError(t, err)
	c := &composeNet{dir: filepath.Join(t.TempDir(), "net"), project: "crvsxtest" + randomHex(t, 4)}
	r := run(t, nil, append([]string{"devnet", "compose", "--out", c.dir, "--image", image, "--subnet", fmt.Sprintf("172.30.%d.0/24", octet.Int64()+1)}, flags...)...)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "docker-compose up -d")
	c.mf, err = devnet.LoadManifest(c.dir)
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			cmd := exec.Command("docker-compose", "-p", c.project, "logs", "--no-color", "--tail", "40")
			cmd.Dir = c.dir
			out, _ := cmd.CombinedOutput()
			t.Logf("container logs:\n%s", out)
		}
		cmd := exec.Command("docker-compose", "-p", c.project, "down", "-v", "--remove-orphans", "-t", "5")
		cmd.Dir = c.dir
		_ = cmd.Run()
	})
	if override != nil {
		if y := override(c); y != "" {
			require.NoError(t, os.WriteFile(filepath.Join(c.dir, "docker-compose.override.yml"), []byte(y), 0o644))
		}
	}
	c.compose(t, "up", "-d")
	for _, country := range c.mf.Countries {
		url := "http://" + c.mf.Published[country].Health + "/readyz"
		poll(t, 90*time.Second, country+" ready", func() (bool, string) {
			resp, err := http.Get(url)
			if err != nil {
				return false, err.Error()
			}
			resp.Body.Close()
			return resp.StatusCode == 200, resp.Status
		})
	}
	return c
}

// TestDockerComposeNetwork is the compose network a user plays with: a
// birth sent from Türkiye's container reaches Tajikistan's inbox, and
// Uzbekistan, admitted later, joins the registry as a non-voter.
func TestDockerComposeNetwork(t *testing.T) {
	image := dockerImage(t)
	c := startCompose(t, image)
	local := func(country string) string { return "http://" + c.mf.Published[country].Local }
	admin := func(country string) string { return "http://" + c.mf.Published[country].Admin }
	tokens := func(country, file string) string { return filepath.Join(c.dir, country, file) }

	start := time.Now()
	r := run(t, nil, "send", "--node", local("TR"), "--token-file", tokens("TR", "tokens"), "--wait", "60s", c.mf.Samples["TR"])
	require.Equal(t, 0, r.code, r.stderr)
	var sent struct {
		Deliveries []struct{ MessageID, Status string }
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sent), r.stdout)
	require.Len(t, sent.Deliveries, 1)
	require.Equal(t, "delivered", sent.Deliveries[0].Status)
	r = run(t, nil, "inbox", "--node", local("TJ"), "--token-file", tokens("TJ", "tokens"), "--ack")
	require.Equal(t, 0, r.code, r.stderr)
	records := 0
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if strings.Contains(l, sent.Deliveries[0].MessageID) {
			records++
		}
	}
	require.Equal(t, 1, records, "delivered exactly once: %s", r.stdout)
	t.Logf("TR→TJ birth: sent 1, delivered 1, duplicates 0, in %s", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	r = run(t, nil, "devnet", "admit", "--dir", c.dir, "UZ")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "accepted: member.admit")
	require.Contains(t, r.stdout, "accepted: node.register")
	poll(t, 60*time.Second, "UZ's node joined and in sync", func() (bool, string) {
		r := run(t, nil, "registry", "status", "--node", admin("UZ"), "--token-file", tokens("UZ", "admin-tokens"))
		return r.code == 0 && strings.Contains(r.stdout, "nonvoter") && strings.Contains(r.stdout, "fresh"), r.stdout + r.stderr
	})
	r = run(t, nil, "registry", "members", "--node", admin("UZ"), "--token-file", tokens("UZ", "admin-tokens"))
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "UZ  active")
	t.Logf("UZ admitted, registered and joined as a non-voter in %s", time.Since(start).Round(time.Millisecond))
}
