package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/conformance"
	"github.com/ecrn/crvsx/node"
	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConformEndToEnd is the issue's first "done when": `conform init`,
// a real `crvsx node` process started from the candidate configuration it
// wrote, and `conform run`, which passes it — every module of every plan.
func TestConformEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "conform")
	r := run(t, nil, "conform", "init", "--dir", dir, "--candidate", "UZ")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "crvsx node --config "+filepath.Join(dir, "candidate", "node.json"))
	for _, f := range []string{"suite.json", "genesis.json", "CANDIDATE.md", "candidate/node.json", "candidate/keys/tls.key"} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	st, err := os.Stat(filepath.Join(dir, "candidate/keys/signing-1.private.jwk"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "a private key readable by others")
	again := run(t, nil, "conform", "init", "--dir", dir, "--candidate", "UZ")
	require.Equal(t, 2, again.code, "init over an existing suite must refuse: %s", again.stderr)

	cfgPath := filepath.Join(dir, "candidate", "node.json")
	cfg, err := node.LoadConfig(cfgPath)
	require.NoError(t, err)
	logf, err := os.Create(filepath.Join(t.TempDir(), "candidate.log"))
	require.NoError(t, err)
	defer logf.Close()
	cmd := exec.Command(binary, "node", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("candidate log:\n%s", b)
		}
	}()
	poll(t, readyTimeout, "the candidate's health listener", func() (bool, string) {
		resp, err := http.Get("http://" + cfg.Listen.Health + "/livez")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})

	out := filepath.Join(t.TempDir(), "report.json")
	r = run(t, nil, "conform", "run", "--dir", dir, "--format", "json", "--out", out)
	b, _ := os.ReadFile(out)
	require.Equal(t, 0, r.code, "conform run: %s\n%s", r.stderr, b)
	require.Contains(t, r.stderr, "passed all")
	var rep conformance.Report
	require.NoError(t, json.Unmarshal(b, &rep))
	require.True(t, rep.Passed())
	require.GreaterOrEqual(t, len(rep.Results), 60, "the issue asks for at least 60 cases")
	plans := map[string]int{}
	for _, x := range rep.Results {
		plans[x.Plan]++
	}
	for _, p := range []string{conformance.PlanReceiver, conformance.PlanSender, conformance.PlanRegistry} {
		require.NotZero(t, plans[p], "plan %s did not run", p)
	}
	require.Equal(t, "UZ", rep.Candidate)
	require.Equal(t, "UZ-CANDIDATE", rep.Node)
	require.Regexp(t, `the JSON report is .*reports.* \(sha256 [0-9a-f]{64}\)`, r.stderr)

	t.Run("certify-then-admit", func(t *testing.T) { certifyThenAdmit(t, dir) })
}

// certifyThenAdmit is the issue's end-to-end path past the run, on a
// separate network the candidate joins (three founders, a policy that
// requires a certificate): member.admit of the candidate is refused
// without a certificate; conform certify proposes one from the run's
// report, a second member approves it; member.admit is then accepted.
func certifyThenAdmit(t *testing.T, dir string) {
	c, nodes := startOnlineCluster(t, "TJ", "TR", "KZ")
	tj, tr := c.founders["TJ"], c.founders["TR"]
	f := follower(nodes)
	node := []string{"--node", f.url, "--node-pin", f.pin}
	reg := func(args ...string) result {
		t.Helper()
		return run(t, nil, append(append([]string{"registry"}, args...), node...)...)
	}
	work := t.TempDir()

	// The network's policy: admission requires a certificate.
	api, err := registry.NewAPIClient(f.url, f.pin, 10*time.Second)
	require.NoError(t, err)
	pol, err := api.Policy(context.Background())
	require.NoError(t, err)
	p := pol.Policy
	p.AdmissionRequiresCertificate = true
	polFile := filepath.Join(work, "policy.json")
	writeJSON(t, polFile, trust.PolicyChangeArgs{Policy: p})
	r := reg("propose", "--key", tj.govPriv, "--type", trust.CmdPolicyChange, "--args", "@"+polFile)
	require.Equal(t, 0, r.code, r.stderr)
	m := proposalRE.FindStringSubmatch(r.stdout)
	require.NotNil(t, m, r.stdout)
	r = reg("approve", "--key", tr.govPriv, m[1])
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "accepted")

	// member.admit of the candidate, signed by two founders and by the
	// candidate's keys (proof of possession).
	now := time.Now()
	var specs []trust.KeySpec
	for _, k := range []struct{ file, role string }{
		{"candidate/keys/governance.private.jwk", trust.RoleGovernance},
		{"candidate/keys/signing-1.private.jwk", trust.RoleSigning},
	} {
		pub, err := jws.MarshalPublicJWK(mustSigner(t, filepath.Join(dir, k.file)).Public())
		require.NoError(t, err)
		specs = append(specs, trust.KeySpec{Role: k.role, JWK: pub, NotBefore: trust.TimestampOf(now.Add(-time.Minute)), NotAfter: trust.TimestampOf(now.AddDate(1, 0, 0))})
	}
	admitFile := filepath.Join(work, "admit.json")
	writeJSON(t, admitFile, trust.AdmitArgs{Member: "UZ", Name: "Uzbekistan", Keys: specs})
	admit := func() result {
		t.Helper()
		entry := filepath.Join(t.TempDir(), "admit.jws")
		r := reg("submit", "--key", tj.govPriv, "--type", trust.CmdMemberAdmit, "--args", "@"+admitFile, "--out", entry)
		require.Equal(t, 0, r.code, r.stderr)
		for _, k := range []string{tr.govPriv, filepath.Join(dir, "candidate/keys/governance.private.jwk"), filepath.Join(dir, "candidate/keys/signing-1.private.jwk")} {
			r := run(t, nil, "registry", "cosign", "--entry", entry, "--key", k, "--out", entry)
			require.Equal(t, 0, r.code, r.stderr)
		}
		return run(t, nil, append([]string{"registry", "submit", "--entry", entry}, node...)...)
	}
	r = admit()
	require.Equal(t, exitInvalid, r.code, "admitted without a certificate: %s", r.stdout)
	require.Contains(t, r.stderr, string(trust.ReasonCertificateNeeded))

	// conform certify proposes the certificate; TR approves it.
	r = run(t, nil, append([]string{"conform", "certify", "--dir", dir, "--key", tj.govPriv}, node...)...)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "proposed: certificate.issue")
	m = proposalRE.FindStringSubmatch(r.stdout)
	require.NotNil(t, m, r.stdout)
	r = reg("approve", "--key", tr.govPriv, m[1])
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "accepted")

	latest, err := conformance.LatestReport(dir)
	require.NoError(t, err)
	b, err := os.ReadFile(latest)
	require.NoError(t, err)
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := f.reg.Load().State()
		if cs := st.Certificates(); len(cs) == 1 {
			assert.Equal(t, "UZ", cs[0].Subject)
			assert.Equal(t, "UZ-CANDIDATE", cs[0].Node)
			assert.Equal(t, conformance.Version, cs[0].Suite)
			assert.Equal(t, conformance.ReportSHA256(b), cs[0].ReportSHA256, "the certificate names the report by its hash")
			break
		}
		require.True(t, time.Now().Before(deadline), "the certificate never reached the follower")
		time.Sleep(50 * time.Millisecond)
	}

	r = admit()
	require.Equal(t, 0, r.code, "stdout %s stderr %s", r.stdout, r.stderr)
	require.Contains(t, r.stdout, "accepted: member.admit")
	r = reg("members")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "UZ  active")
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

// TestConformRunUntestableTarget: a candidate that is down or not a crvsx
// node is a set-up error (exit 2, one line), not a report of failures.
func TestConformRunUntestableTarget(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "conform")
	require.Equal(t, 0, run(t, nil, "conform", "init", "--dir", dir, "--candidate", "KG").code)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("hello")) }))
	defer tlsSrv.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("hello")) }))
	defer plain.Close()
	for _, tc := range []struct{ name, target, want string }{
		{"down", "", "connection refused"},
		{"another TLS key", tlsSrv.URL, "is not its registered key"},
		{"not TLS", "https://" + strings.TrimPrefix(plain.URL, "http://"), "cannot be tested"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"conform", "run", "--dir", dir, "--timeout", "2m"}
			if tc.target != "" {
				args = append(args, "--target", tc.target)
			}
			start := time.Now()
			r := run(t, nil, args...)
			require.Equal(t, 2, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
			require.Empty(t, r.stdout, "no report")
			require.Equal(t, 1, strings.Count(strings.TrimRight(r.stderr, "\n"), "\n")+1, "one line: %q", r.stderr)
			require.Contains(t, r.stderr, tc.want)
			require.Less(t, time.Since(start), 30*time.Second, "the probe answers quickly")
		})
	}
}

// TestConformCertifyRefuses: certify issues nothing for a report it cannot
// stand behind — each refusal comes before any node is contacted.
func TestConformCertifyRefuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "conform")
	require.Equal(t, 0, run(t, nil, "conform", "init", "--dir", dir, "--candidate", "KG").code)
	s, err := conformance.LoadSuite(dir)
	require.NoError(t, err)
	certify := func(extra ...string) result {
		t.Helper()
		return run(t, nil, append([]string{"conform", "certify", "--dir", dir, "--key", "unused.jwk", "--node", "https://127.0.0.1:1", "--node-pin", strings.Repeat("0", 64)}, extra...)...)
	}
	r := certify()
	require.Equal(t, exitUsage, r.code, r.stderr)
	require.Contains(t, r.stderr, "has no report")

	full := func() *conformance.Report {
		t0 := time.Now().UTC().Truncate(time.Second)
		rep := &conformance.Report{Format: conformance.ReportFormat, Suite: conformance.Version, Network: s.File.GenesisSHA256,
			Candidate: "KG", Node: s.Candidate.NodeID, Target: s.Candidate.PeerURL, Started: t0, Finished: t0.Add(time.Minute)}
		for _, m := range conformance.Modules() {
			plan, name, _ := strings.Cut(m, "/")
			rep.Results = append(rep.Results, conformance.Result{Plan: plan, Module: name, Cite: "SPEC", Passed: true})
		}
		return rep
	}
	save := func(rep *conformance.Report) string {
		t.Helper()
		path, _, err := conformance.SaveReport(dir, rep)
		require.NoError(t, err)
		return path
	}
	good := save(full())
	for _, tc := range []struct {
		name, report, want string
	}{
		{"a-failed-check", save(func() *conformance.Report {
			rep := full()
			rep.Results[3].Passed = false
			rep.Results[3].Failures = []conformance.Condition{{Check: "c", Expected: "e", Observed: "o"}}
			return rep
		}()), "failed 1 checks"},
		{"checks-that-did-not-run", save(func() *conformance.Report {
			rep := full()
			rep.Results = rep.Results[:10]
			return rep
		}()), "did not run"},
		{"another-candidate", save(func() *conformance.Report {
			rep := full()
			rep.Candidate, rep.Node = "TJ", "TJ-CANDIDATE"
			return rep
		}()), "not of this suite's KG"},
		{"edited-after-the-run", func() string {
			rep, _, err := conformance.ReadReport(good)
			require.NoError(t, err)
			rep.Target = "https://127.0.0.1:1"
			b, err := conformance.MarshalReport(rep)
			require.NoError(t, err)
			p := filepath.Join(t.TempDir(), "edited.json")
			require.NoError(t, os.WriteFile(p, b, 0o644))
			return p
		}(), "is not a report that a run of"},
		{"not-canonical", func() string {
			b, err := os.ReadFile(good)
			require.NoError(t, err)
			p := filepath.Join(t.TempDir(), "spaced.json")
			require.NoError(t, os.WriteFile(p, append(b, '\n'), 0o644))
			return p
		}(), "canonical"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := certify("--report", tc.report)
			require.Equal(t, exitInvalid, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
			require.Contains(t, r.stderr, tc.want)
			require.Empty(t, r.stdout, "nothing signed, nothing submitted")
		})
	}
	// The good report passes every check of its own and fails only at the
	// governance key: certify got as far as signing.
	r = certify("--report", good)
	require.NotEqual(t, 0, r.code)
	require.Contains(t, r.stderr, "unused.jwk")

	// Offline: signed for a network named by its genesis hash, to --out.
	gov, _ := mustKeys(t, t.TempDir(), "TJ", "ES256")
	entry := filepath.Join(t.TempDir(), "cert.jws")
	network := strings.Repeat("ab", 32)
	r = run(t, nil, "conform", "certify", "--dir", dir, "--report", good, "--key", gov, "--genesis-sha256", network)
	require.Equal(t, exitUsage, r.code, "offline needs --out")
	r = run(t, nil, "conform", "certify", "--dir", dir, "--report", good, "--key", gov, "--genesis-sha256", network, "--out", entry)
	require.Equal(t, 0, r.code, r.stderr)
	b, err := os.ReadFile(entry)
	require.NoError(t, err)
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(strings.TrimSpace(string(b)), ".")[1])
	require.NoError(t, err)
	var c trust.Command
	require.NoError(t, json.Unmarshal(payload, &c))
	assert.Equal(t, trust.CmdCertIssue, c.Type)
	assert.Equal(t, network, c.Network)
	var args trust.CertIssueArgs
	require.NoError(t, json.Unmarshal(c.Args, &args))
	gb, err := os.ReadFile(good)
	require.NoError(t, err)
	assert.Equal(t, conformance.ReportSHA256(gb), args.ReportSHA256)
	assert.Equal(t, "KG", args.Subject)
	assert.Equal(t, conformance.Version, args.Suite)
	assert.Greater(t, args.NotAfter, args.NotBefore)
}

func TestConformVectors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "vectors")
	r := run(t, nil, "conform", "vectors", "--out", out, "--recipient", "UZ")
	require.Equal(t, 0, r.code, r.stderr)
	var exp conformance.Export
	b, err := os.ReadFile(filepath.Join(out, "vectors.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &exp))
	require.Contains(t, r.stdout, fmt.Sprintf("wrote %d vectors", len(exp.Vectors)))
	for _, v := range exp.Vectors {
		require.FileExists(t, filepath.Join(out, filepath.FromSlash(v.File)))
	}
	r = run(t, nil, "conform", "vectors", "--out", out)
	require.Equal(t, exitUsage, r.code, "an export over an older one")
	r = run(t, nil, "conform", "vectors", "--out", t.TempDir(), "--sender", "Atlantis")
	require.Equal(t, exitUsage, r.code)
}
