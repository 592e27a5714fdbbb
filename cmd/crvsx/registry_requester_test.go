package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRegistryRequesterOnline is protocol/REGISTRY.md §7.1 through the
// generic command path of the CLI: a requester's key generated with its
// id, requester.register signed by two members (submit, cosign, submit),
// requester.suspend proposed and approved, then read back with "crvsx
// registry requesters" and from every replica's trust view.
func TestRegistryRequesterOnline(t *testing.T) {
	c, nodes := startOnlineCluster(t, "TJ", "TR", "KZ")
	tj, tr := c.founders["TJ"], c.founders["TR"]
	f := follower(nodes)
	node := []string{"--node", f.url, "--node-pin", f.pin}
	reg := func(t *testing.T, args ...string) result {
		t.Helper()
		return run(t, nil, append(append([]string{"registry"}, args...), node...)...)
	}
	dir := t.TempDir()
	reqPriv, reqPub := mustKeys(t, dir, "INT-UNHCR", "ES256")
	jwk, err := os.ReadFile(reqPub)
	require.NoError(t, err)
	now := time.Now().UTC()
	args, err := json.Marshal(trust.RequesterRegisterArgs{Requester: trust.RequesterSpec{
		ID: "INT-UNHCR", Name: "UNHCR", OrganizationType: "humanitarian-un",
		Keys:          []trust.RequesterKeySpec{{JWK: jwk, NotBefore: trust.TimestampOf(now.Add(-time.Hour)), NotAfter: trust.TimestampOf(now.Add(365 * 24 * time.Hour))}},
		TLSSPKISHA256: strings.Repeat("5e", 32), Countries: []string{"TJ", "TR"}, Questions: []string{"vital-status"},
		Bases: []string{"vital-interest"}, Purposes: []string{"humanitarian-verification"}, Rate: trust.Rate{PerMinute: 30, Burst: 5},
	}})
	require.NoError(t, err)

	t.Run("fail/requester-key-cannot-sign-commands", func(t *testing.T) {
		r := reg(t, "submit", "--key", reqPriv, "--type", "requester.suspend", "--args", `{"requester":"INT-UNHCR","reason":"x"}`)
		assert.Equal(t, exitInvalid, r.code, r.stdout)
		assert.Contains(t, r.stderr, "signs status queries only")
	})
	t.Run("ok/register-with-two-signatures", func(t *testing.T) {
		entry := filepath.Join(dir, "register.jws")
		r := reg(t, "submit", "--key", tj.govPriv, "--type", "requester.register", "--args", string(args), "--out", entry)
		require.Equal(t, 0, r.code, r.stderr)
		r = run(t, nil, "registry", "cosign", "--entry", entry, "--key", tr.govPriv, "--out", entry)
		require.Equal(t, 0, r.code, r.stderr)
		r = run(t, nil, append([]string{"registry", "submit", "--entry", entry}, node...)...)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "accepted: requester.register")
	})
	t.Run("ok/suspend-by-proposal", func(t *testing.T) {
		r := reg(t, "propose", "--key", tj.govPriv, "--type", "requester.suspend", "--args", `{"requester":"INT-UNHCR","reason":"audit"}`)
		require.Equal(t, 0, r.code, r.stderr)
		m := proposalRE.FindStringSubmatch(r.stdout)
		require.NotNil(t, m, r.stdout)
		r = reg(t, "approve", "--key", tr.govPriv, m[1])
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "accepted")
	})
	t.Run("ok/read-back", func(t *testing.T) {
		r := reg(t, "requesters", "INT-UNHCR")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "INT-UNHCR  suspended")
		assert.Contains(t, r.stdout, "countries TJ,TR")
		assert.Contains(t, r.stdout, "key "+mustSigner(t, reqPriv).Kid())
		r = reg(t, "requesters")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "INT-UNHCR  suspended")
		r = reg(t, "requesters", "INT-IOM")
		assert.NotEqual(t, 0, r.code)
		// Every replica's trust view has it, once it applied the entries.
		for _, n := range nodes {
			deadline := time.Now().Add(10 * time.Second)
			for {
				rq, ok := n.reg.Load().View().Requester("INT-UNHCR")
				if ok && rq.Status == trust.StatusSuspended {
					break
				}
				require.False(t, time.Now().After(deadline), "%s's view: %+v %v", n.id, rq, ok)
				time.Sleep(20 * time.Millisecond)
			}
		}
	})
}
