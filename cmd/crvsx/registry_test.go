package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// founder is a founding member of a test ceremony: its key files.
type founder struct {
	id              string
	govPriv, govPub string
	sigPriv, sigPub string
	tlsCert, tlsKey string
	gov, sig        *jws.Signer
}

// ceremony is a genesis built with the real commands.
type ceremony struct {
	dir, genesis, endorsements, pin string
	founders                        map[string]*founder
}

func mustSigner(t *testing.T, file string) *jws.Signer {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	s, err := jws.ParsePrivateJWK(b)
	require.NoError(t, err)
	return s
}

// mustGenesisSpec generates every founder's keys and node TLS key with the
// real commands and writes a spec file; it returns its path.
func mustGenesisSpec(t *testing.T, dir string, genesisTime time.Time, members ...string) (string, map[string]*founder) {
	t.Helper()
	return mustGenesisSpecAt(t, dir, genesisTime, func(i int) (string, string) {
		return "127.0.0.1:" + strconv.Itoa(7001+i), "https://127.0.0.1:" + strconv.Itoa(8001+i)
	}, members...)
}

// mustGenesisSpecAt is mustGenesisSpec with the nodes' raft and API
// addresses.
func mustGenesisSpecAt(t *testing.T, dir string, genesisTime time.Time, addrs func(i int) (raft, api string), members ...string) (string, map[string]*founder) {
	t.Helper()
	fs := map[string]*founder{}
	type key struct {
		Role    string `json:"role"`
		JWKFile string `json:"jwkFile"`
	}
	type member struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Keys []key  `json:"keys"`
	}
	type node struct {
		ID          string `json:"id"`
		Member      string `json:"member"`
		RaftAddress string `json:"raftAddress"`
		APIURL      string `json:"apiUrl"`
		TLSCertFile string `json:"tlsCertFile"`
		Role        string `json:"role"`
	}
	spec := struct {
		Network     string   `json:"network"`
		GenesisTime string   `json:"genesisTime"`
		Members     []member `json:"members"`
		Nodes       []node   `json:"nodes"`
	}{Network: "ecrn-test", GenesisTime: genesisTime.UTC().Format(time.RFC3339)}
	for i, m := range members {
		f := &founder{id: m}
		f.govPriv, f.govPub = mustKeys(t, filepath.Join(dir, "keys", m, "gov"), m, "ES256")
		f.sigPriv, f.sigPub = mustKeys(t, filepath.Join(dir, "keys", m, "sig"), m, "EdDSA")
		f.gov, f.sig = mustSigner(t, f.govPriv), mustSigner(t, f.sigPriv)
		nodeID := m + "-N1"
		r := run(t, nil, "registry", "node-key", "generate", "--node-id", nodeID, "--out", filepath.Join(dir, "tls"))
		require.Equal(t, 0, r.code, r.stderr)
		f.tlsCert, f.tlsKey = filepath.Join(dir, "tls", nodeID+".tls.crt"), filepath.Join(dir, "tls", nodeID+".tls.key")
		pin := run(t, nil, "registry", "node-key", "pin", f.tlsCert)
		require.Equal(t, strings.TrimSpace(r.stdout), strings.TrimSpace(pin.stdout), "generate and pin print the same pin")
		rel := func(p string) string { r, _ := filepath.Rel(dir, p); return r }
		spec.Members = append(spec.Members, member{ID: m, Name: "Civil registry of " + m,
			Keys: []key{{"governance", rel(f.govPub)}, {"signing", rel(f.sigPub)}}})
		raftAddr, apiURL := addrs(i)
		spec.Nodes = append(spec.Nodes, node{ID: nodeID, Member: m, RaftAddress: raftAddr, APIURL: apiURL, TLSCertFile: rel(f.tlsCert), Role: "voter"})
		fs[m] = f
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	require.NoError(t, err)
	path := filepath.Join(dir, "spec.json")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return path, fs
}

// mustCeremony runs the whole ceremony with the real commands.
func mustCeremony(t *testing.T, genesisTime time.Time, members ...string) *ceremony {
	t.Helper()
	return mustCeremonyAt(t, genesisTime, func(i int) (string, string) {
		return "127.0.0.1:" + strconv.Itoa(7001+i), "https://127.0.0.1:" + strconv.Itoa(8001+i)
	}, members...)
}

func mustCeremonyAt(t *testing.T, genesisTime time.Time, addrs func(i int) (raft, api string), members ...string) *ceremony {
	t.Helper()
	dir := t.TempDir()
	spec, fs := mustGenesisSpecAt(t, dir, genesisTime, addrs, members...)
	c := &ceremony{dir: dir, genesis: filepath.Join(dir, "genesis.json"), endorsements: filepath.Join(dir, "genesis.endorsements.json"), founders: fs}
	r := run(t, nil, "registry", "genesis", "init", "--spec", spec, "--out", c.genesis)
	require.Equal(t, 0, r.code, r.stderr)
	c.pin = strings.TrimSpace(r.stdout)
	var ends []string
	for _, m := range members {
		for i, k := range []string{fs[m].govPriv, fs[m].sigPriv} {
			out := filepath.Join(dir, m+"-"+strconv.Itoa(i)+".endorsement")
			r := run(t, nil, "registry", "genesis", "endorse", "--genesis", c.genesis, "--key", k, "--out", out)
			require.Equal(t, 0, r.code, r.stderr)
			ends = append(ends, out)
		}
	}
	r = run(t, nil, append([]string{"registry", "genesis", "finalize", "--genesis", c.genesis, "--out", c.endorsements}, ends...)...)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, c.pin, strings.TrimSpace(r.stdout))
	return c
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestRegistryGenesisCeremony(t *testing.T) {
	dir := t.TempDir()
	spec, fs := mustGenesisSpec(t, dir, time.Now(), "TJ", "TR", "KZ")
	gen := filepath.Join(dir, "genesis.json")

	r := run(t, nil, "registry", "genesis", "init", "--spec", spec, "--out", gen)
	require.Equal(t, 0, r.code, r.stderr)
	pin := strings.TrimSpace(r.stdout)
	require.Equal(t, sha256File(t, gen), pin, "the pin is SHA-256 of the file's exact bytes")

	t.Run("fail/init-never-overwrites", func(t *testing.T) {
		r := run(t, nil, "registry", "genesis", "init", "--spec", spec, "--out", gen)
		assert.Equal(t, exitUsage, r.code)
		assert.Contains(t, r.stderr, "refusing to overwrite")
	})

	var ends []string
	for _, m := range []string{"TJ", "TR", "KZ"} {
		for _, k := range []string{fs[m].govPriv, fs[m].sigPriv} {
			r := run(t, nil, "registry", "genesis", "endorse", "--genesis", gen, "--key", k)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Contains(t, r.stderr, pin, "the founder sees the hash they endorse")
			assert.Contains(t, r.stderr, "member "+m)
			f := filepath.Join(dir, strings.ReplaceAll(filepath.Base(k), ".private.jwk", ".endorsement"))
			require.NoError(t, os.WriteFile(f, []byte(r.stdout), 0o644))
			ends = append(ends, f)
		}
	}
	endFile := filepath.Join(dir, "genesis.endorsements.json")

	t.Run("fail/endorse-with-key-not-in-document", func(t *testing.T) {
		stranger, _ := mustKeys(t, filepath.Join(dir, "stranger"), "TJ", "ES256")
		r := run(t, nil, "registry", "genesis", "endorse", "--genesis", gen, "--key", stranger)
		assert.Equal(t, exitInvalid, r.code)
		assert.Contains(t, r.stderr, "not listed")
		assert.Empty(t, r.stdout)
	})
	t.Run("fail/finalize-missing-endorsement", func(t *testing.T) {
		r := run(t, nil, append([]string{"registry", "genesis", "finalize", "--genesis", gen, "--out", endFile}, ends[1:]...)...)
		assert.Equal(t, exitInvalid, r.code)
		assert.Contains(t, r.stderr, "1 of the document's keys have not endorsed it yet: "+fs["TJ"].gov.Kid())
		assert.NoFileExists(t, endFile)
	})
	t.Run("fail/endorsement-of-edited-document", func(t *testing.T) {
		b, _ := os.ReadFile(gen)
		edited := filepath.Join(dir, "edited.json")
		require.NoError(t, os.WriteFile(edited, append(b, '\n'), 0o644))
		r := run(t, nil, append([]string{"registry", "genesis", "finalize", "--genesis", edited, "--out", filepath.Join(dir, "x.json")}, ends...)...)
		assert.Equal(t, exitInvalid, r.code, "endorsements are of the exact bytes")
	})
	t.Run("ok/finalize", func(t *testing.T) {
		r := run(t, nil, append([]string{"registry", "genesis", "finalize", "--genesis", gen, "--out", endFile}, ends...)...)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, pin, strings.TrimSpace(r.stdout), "finalize prints the pin")
	})
	t.Run("ok/verify-as-a-node-does", func(t *testing.T) {
		r := run(t, nil, "registry", "genesis", "verify", "--genesis", gen, "--endorsements", endFile, "--genesis-sha256", pin)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, pin, strings.TrimSpace(r.stdout))
		g, err := loadGenesisFiles(gen, endFile)
		require.NoError(t, err)
		require.Len(t, g.Document().Nodes, 3)
		kzPin := run(t, nil, "registry", "node-key", "pin", fs["KZ"].tlsCert)
		assert.Equal(t, strings.TrimSpace(kzPin.stdout), g.Document().Nodes[2].TLSSPKISHA256, "tlsCertFile became the node's pin")
	})
	t.Run("fail/verify-other-pin", func(t *testing.T) {
		r := run(t, nil, "registry", "genesis", "verify", "--genesis", gen, "--endorsements", endFile, "--genesis-sha256", strings.Repeat("ab", 32))
		assert.Equal(t, exitInvalid, r.code)
		assert.Contains(t, r.stderr, "does not match the pin")
	})
}

func loadGenesisFiles(doc, ends string) (*trust.Genesis, error) {
	d, err := os.ReadFile(doc)
	if err != nil {
		return nil, err
	}
	e, err := os.ReadFile(ends)
	if err != nil {
		return nil, err
	}
	return loadGenesis(d, e)
}

// history applies signed commands to a genesis as a cluster would and
// returns the trust bundle, for offline verification tests.
type history struct {
	t       *testing.T
	g       *trust.Genesis
	s       *trust.State
	entries []trust.Entry
	index   uint64
	ids     int
}

func newHistory(t *testing.T, c *ceremony) *history {
	g, err := loadGenesisFiles(c.genesis, c.endorsements)
	require.NoError(t, err)
	return &history{t: t, g: g, s: trust.NewState(g)}
}

// apply signs a command of the first signer's member issued at `at`,
// stamps it at `at` and requires it accepted.
func (h *history) apply(at time.Time, typ string, args any, signers ...*jws.Signer) {
	h.t.Helper()
	h.ids++
	c, err := trust.NewCommand(h.g.Hash(), protocol.NewUUID(), typ, trust.TimestampOf(at), signers[0].Member(), args)
	require.NoError(h.t, err)
	data, err := c.Sign(signers...)
	require.NoError(h.t, err)
	h.index += 2 // gaps are fine (configuration entries)
	e := trust.Entry{Index: h.index, Time: trust.TimestampOf(at), Data: data}
	next, res, err := trust.Apply(h.s, e)
	require.NoError(h.t, err)
	require.Equal(h.t, trust.OutcomeAccepted, res.Outcome, "%s: %s %s", typ, res.Reason, res.Detail)
	h.s = next
	h.entries = append(h.entries, e)
}

func (h *history) bundle(path string) {
	h.t.Helper()
	b, err := trust.NewBundle(h.g, h.entries, h.s.ChainHead()).Marshal()
	require.NoError(h.t, err)
	require.NoError(h.t, os.WriteFile(path, b, 0o644))
}

// signAt signs a birth message of sender created at `at` with the real
// sign command.
func signAt(t *testing.T, dir string, f *founder, at time.Time) string {
	t.Helper()
	msg := filepath.Join(dir, "birth-"+f.id+"-"+strconv.Itoa(int(at.Unix()))+".json")
	require.NoError(t, os.WriteFile(msg, protocoltest.BirthMessageAt(f.id, "TJ", protocoltest.NewUUID(), at), 0o644))
	r := run(t, nil, "sign", "--key", f.sigPriv, msg)
	require.Equal(t, 0, r.code, r.stderr)
	out := strings.TrimSuffix(msg, ".json") + ".jws"
	require.NoError(t, os.WriteFile(out, []byte(r.stdout), 0o644))
	return out
}

// TestVerifyBundle is the offline crisis responder: a trust bundle, the
// genesis pin, and messages verified as of their own time (protocol/REGISTRY.md §10, §12).
func TestVerifyBundle(t *testing.T) {
	g0 := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Second)
	day := 24 * time.Hour
	c := mustCeremony(t, g0, "TJ", "TR", "KZ")
	tj, tr, kz := c.founders["TJ"], c.founders["TR"], c.founders["KZ"]

	h := newHistory(t, c)
	// TJ retires its signing key at g0+10d (self command).
	h.apply(g0.Add(10*day), trust.CmdKeyRetire, trust.KeyRetireArgs{Kid: tj.sig.Kid()}, tj.gov)
	// TR learns at g0+20d that its signing key was stolen at g0+15d.
	h.apply(g0.Add(20*day), trust.CmdKeyRevoke, trust.KeyRevokeArgs{Kid: tr.sig.Kid(), Reason: trust.RevokeCompromised,
		CompromisedSince: trust.TimestampOf(g0.Add(15 * day))}, tr.gov)
	bundle := filepath.Join(c.dir, "trust-bundle.json")
	h.bundle(bundle)

	verify := func(t *testing.T, msg string, extra ...string) result {
		return run(t, nil, append([]string{"verify", "--bundle", bundle, "--genesis-sha256", c.pin}, append(extra, msg)...)...)
	}
	t.Run("ok/key-valid-at-createdAt", func(t *testing.T) {
		r := verify(t, signAt(t, c.dir, kz, g0.Add(3*day)))
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stderr, "bundle: genesis "+c.pin)
		var doc map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc))
	})
	t.Run("ok/old-message-of-retired-key", func(t *testing.T) {
		r := verify(t, signAt(t, c.dir, tj, g0.Add(5*day)))
		assert.Equal(t, 0, r.code, r.stderr)
	})
	t.Run("fail/message-after-retirement", func(t *testing.T) {
		r := verify(t, signAt(t, c.dir, tj, g0.Add(12*day)), "--json")
		assert.Equal(t, exitInvalid, r.code, r.stderr)
		assert.Contains(t, r.stderr, string(protocol.CodeKeyNotValid))
		var p protocol.Problem
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &p))
		assert.Equal(t, protocol.CodeKeyNotValid, p.Code)
	})
	t.Run("ok/message-before-compromise", func(t *testing.T) {
		r := verify(t, signAt(t, c.dir, tr, g0.Add(14*day)))
		assert.Equal(t, 0, r.code, r.stderr)
	})
	t.Run("fail/message-after-compromised-since", func(t *testing.T) {
		r := verify(t, signAt(t, c.dir, tr, g0.Add(16*day)))
		assert.Equal(t, exitInvalid, r.code, r.stderr)
		assert.Contains(t, r.stderr, string(protocol.CodeKeyNotValid))
		assert.Contains(t, r.stderr, "compromised")
	})
	t.Run("ok/newer-than-bundle-warns", func(t *testing.T) {
		r := verify(t, signAt(t, c.dir, kz, time.Now().Add(-time.Minute)))
		assert.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stderr, "after the bundle's last entry")
	})
	t.Run("ok/pin-from-genesis-file", func(t *testing.T) {
		r := run(t, nil, "verify", "--bundle", bundle, "--genesis", c.genesis, signAt(t, c.dir, kz, g0.Add(3*day)))
		assert.Equal(t, 0, r.code, r.stderr)
	})
	t.Run("fail/bundle-with-another-pin", func(t *testing.T) {
		other := mustCeremony(t, g0, "TJ", "TR")
		r := run(t, nil, "verify", "--bundle", bundle, "--genesis-sha256", other.pin, signAt(t, c.dir, kz, g0.Add(3*day)))
		assert.Equal(t, exitInvalid, r.code)
		assert.Contains(t, r.stderr, "another genesis")
		assert.Empty(t, r.stdout)
	})
	t.Run("fail/bundle-chain-head-edited", func(t *testing.T) {
		var b map[string]any
		raw, _ := os.ReadFile(bundle)
		require.NoError(t, json.Unmarshal(raw, &b))
		b["chainHead"] = strings.Repeat("0", 64)
		edited, _ := json.Marshal(b)
		f := filepath.Join(c.dir, "edited-bundle.json")
		require.NoError(t, os.WriteFile(f, edited, 0o644))
		r := run(t, nil, "verify", "--bundle", f, "--genesis-sha256", c.pin, signAt(t, c.dir, kz, g0.Add(3*day)))
		assert.Equal(t, exitInvalid, r.code)
		assert.Contains(t, r.stderr, "chain head mismatch")
	})
	t.Run("fail/bundle-without-pin", func(t *testing.T) {
		r := run(t, nil, "verify", "--bundle", bundle, signAt(t, c.dir, kz, g0.Add(3*day)))
		assert.Equal(t, exitUsage, r.code)
		assert.Contains(t, r.stderr, "--genesis-sha256")
	})
	t.Run("fail/trust-and-bundle", func(t *testing.T) {
		r := run(t, nil, "verify", "--bundle", bundle, "--genesis-sha256", c.pin, "--trust", bundle, "x.jws")
		assert.Equal(t, exitUsage, r.code)
		assert.Contains(t, r.stderr, "alternatives")
	})
}
