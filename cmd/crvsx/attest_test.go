package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/attest"
	"github.com/ecrn/crvsx/protocol/attest/qr"
	"github.com/ecrn/crvsx/protocol/protocoltest"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVerifyAttestation is SPEC §11.3 through the real binary: a trust
// bundle file, the genesis pin, attestations of members whose keys have a
// history, and the QR round trip.
func TestVerifyAttestation(t *testing.T) {
	day := 24 * time.Hour
	g0 := time.Now().Add(-60 * day).Truncate(time.Second)
	c := mustCeremony(t, g0, "TJ", "TR", "KZ")
	tr, kz := c.founders["TR"], c.founders["KZ"]
	h := newHistory(t, c)
	// TR learns at g0+20d that its signing key was stolen at g0+15d.
	h.apply(g0.Add(20*day), trust.CmdKeyRevoke, trust.KeyRevokeArgs{Kid: tr.sig.Kid(), Reason: trust.RevokeCompromised,
		CompromisedSince: trust.TimestampOf(g0.Add(15 * day))}, tr.gov)
	bundle := filepath.Join(c.dir, "trust-bundle.json")
	h.bundle(bundle)

	// attestation writes an attestation of f made at `at`, valid until
	// `until` (zero: the default 30 days), and returns its file.
	n := 0
	attestation := func(t *testing.T, f *founder, at, until time.Time, edit func([]byte) []byte) string {
		t.Helper()
		msg, err := attest.Build(attest.Answer{
			InResponseTo: "8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b",
			Sender:       protocol.Endpoint{NodeID: f.id + "-MOJ-CRVS"},
			Recipient:    protocol.Endpoint{NodeID: "INT-UNHCR"},
			Issuer:       attest.Issuer{Country: f.id, Authority: "Civil registry"},
			MatchResult:  attest.MatchUnique,
			Answers:      map[string]string{"isRegistered": "yes", "vitalStatus": "no-death-registered"},
			AttestedAt:   at,
			ValidUntil:   until,
			Purpose:      "humanitarian-verification",
		}, protocoltest.NewUUID())
		require.NoError(t, err)
		tok, err := f.sig.Sign(protocol.TypAttestation, msg)
		require.NoError(t, err)
		if edit != nil {
			tok = edit(tok)
		}
		n++
		file := filepath.Join(c.dir, "attestation-"+f.id+"-"+strings.Repeat("x", n)+".jws")
		require.NoError(t, os.WriteFile(file, append(tok, '\n'), 0o644))
		return file
	}
	verify := func(t *testing.T, extra ...string) result {
		return run(t, nil, append([]string{"verify", "--bundle", bundle, "--genesis-sha256", c.pin}, extra...)...)
	}
	now := time.Now()

	t.Run("ok/unique-match-of-an-active-member", func(t *testing.T) {
		r := verify(t, attestation(t, kz, now.Add(-time.Hour), time.Time{}, nil))
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.True(t, strings.HasPrefix(r.stdout, "VALID — Kazakhstan (KZ), Civil registry, attests, for query 8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b of INT-UNHCR: registered: yes; vital status: no death registered."), r.stdout)
		assert.Contains(t, r.stderr, "valid: status.attestation")
		assert.Contains(t, r.stderr, "after the trust bundle's last entry", "an attestation newer than the bundle warns")
	})
	t.Run("ok/signed-with-crvsx-sign", func(t *testing.T) {
		msg, err := attest.Build(attest.Answer{InResponseTo: "8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b", Sender: protocol.Endpoint{NodeID: "KZ-MOJ-CRVS"},
			Recipient: protocol.Endpoint{NodeID: "KG-BORDER", Country: "KG"}, Issuer: attest.Issuer{Country: "KZ", Authority: "Civil registry"},
			MatchResult: attest.MatchNone, AttestedAt: now.Add(-time.Minute), Purpose: "identification-assistance"}, protocoltest.NewUUID())
		require.NoError(t, err)
		f := filepath.Join(c.dir, "no-match.json")
		require.NoError(t, os.WriteFile(f, msg, 0o644))
		s := run(t, nil, "sign", "--key", kz.sigPriv, f)
		require.Equal(t, exitOK, s.code, s.stderr)
		r := run(t, []byte(s.stdout), "verify", "--bundle", bundle, "--genesis-sha256", c.pin, "-")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Contains(t, r.stdout, "no record matches the person.")
	})
	t.Run("ok/json-verdict", func(t *testing.T) {
		r := verify(t, "--json", attestation(t, kz, now.Add(-time.Hour), time.Time{}, nil))
		require.Equal(t, exitOK, r.code, r.stderr)
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &v), r.stdout)
		assert.Equal(t, "valid", v["outcome"])
		assert.Equal(t, "KZ", v["issuer"].(map[string]any)["country"])
		assert.Equal(t, 1, strings.Count(strings.TrimSpace(r.stdout), "\n")+1, "canonical JSON is one line")
	})
	t.Run("expired/validUntil-passed-is-not-false", func(t *testing.T) {
		r := verify(t, attestation(t, kz, g0.Add(2*day), time.Time{}, nil))
		assert.Equal(t, exitInvalid, r.code, r.stderr)
		assert.True(t, strings.HasPrefix(r.stdout, "EXPIRED — genuine but no longer current (expired is not false)"), r.stdout)
		assert.Contains(t, r.stderr, "expired (not false): ATTESTATION_EXPIRED")
		r = verify(t, "--json", attestation(t, kz, g0.Add(2*day), time.Time{}, nil))
		assert.Contains(t, r.stdout, `"outcome":"expired"`)
	})
	t.Run("fail/key-revoked-as-compromised-before-attestedAt", func(t *testing.T) {
		r := verify(t, attestation(t, tr, g0.Add(16*day), now.Add(10*day), nil))
		assert.Equal(t, exitInvalid, r.code, r.stderr)
		assert.True(t, strings.HasPrefix(r.stdout, "NOT VALID — the key that signed it was not valid"), r.stdout)
		assert.Contains(t, r.stdout, "compromised")
		assert.Contains(t, r.stderr, "not valid: KEY_NOT_VALID")
	})
	t.Run("ok/key-compromised-only-after-attestedAt", func(t *testing.T) {
		r := verify(t, attestation(t, tr, g0.Add(14*day), now.Add(10*day), nil))
		assert.Equal(t, exitOK, r.code, r.stderr+r.stdout)
	})
	t.Run("fail/tampered-payload", func(t *testing.T) {
		file := attestation(t, kz, now.Add(-time.Hour), time.Time{}, func(tok []byte) []byte {
			s := bytes.Split(tok, []byte("."))
			p, _ := base64.RawURLEncoding.DecodeString(string(s[1]))
			p = bytes.Replace(p, []byte(`"isRegistered":"yes"`), []byte(`"isRegistered":"no"`), 1)
			s[1] = []byte(base64.RawURLEncoding.EncodeToString(p))
			return bytes.Join(s, []byte("."))
		})
		r := verify(t, file)
		assert.Equal(t, exitInvalid, r.code, r.stderr)
		assert.True(t, strings.HasPrefix(r.stdout, "NOT VALID — the signature does not match the content"), r.stdout)
		assert.NotContains(t, r.stdout, "registered: no")
	})
	t.Run("fail/attestation-needs-a-bundle", func(t *testing.T) {
		jwks := filepath.Join(c.dir, "trust.json")
		k := run(t, nil, "keys", "jwks", kz.sigPub)
		require.Equal(t, exitOK, k.code, k.stderr)
		require.NoError(t, os.WriteFile(jwks, []byte(k.stdout), 0o644))
		r := run(t, nil, "verify", "--trust", jwks, attestation(t, kz, now.Add(-time.Hour), time.Time{}, nil))
		assert.Equal(t, exitUsage, r.code, r.stderr)
		assert.Contains(t, r.stderr, "trust bundle")
	})

	t.Run("ok/qr-round-trip", func(t *testing.T) {
		file := attestation(t, kz, now.Add(-time.Hour), time.Time{}, nil)
		png := filepath.Join(c.dir, "a.png")
		q := run(t, nil, "attest", "qr", file, "--out", png)
		require.Equal(t, exitOK, q.code, q.stderr)
		assert.Regexp(t, `wrote .*a\.png: \d+ bytes in a QR code version \d+, level M, \d+ modules a side`, q.stderr)
		b, err := os.ReadFile(png)
		require.NoError(t, err)
		got, err := qr.DecodePNG(b)
		require.NoError(t, err)
		want, _ := os.ReadFile(file)
		assert.Equal(t, string(bytes.TrimSuffix(want, []byte("\n"))), string(got), "the QR code holds the exact token")

		r := verify(t, "--qr", png)
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.True(t, strings.HasPrefix(r.stdout, "VALID — Kazakhstan (KZ)"), r.stdout)

		q = run(t, nil, "attest", "qr", file, "--out", png)
		assert.Equal(t, exitUsage, q.code, "an existing file is not overwritten without --force")
		q = run(t, nil, "attest", "qr", file, "--out", png, "--force", "--ecc", "H")
		require.Equal(t, exitOK, q.code, q.stderr)
		assert.Contains(t, q.stderr, "level H")
	})
	t.Run("fail/qr-of-a-message-that-is-not-an-attestation", func(t *testing.T) {
		q := run(t, nil, "attest", "qr", signAt(t, c.dir, kz, now.Add(-time.Hour)), "--out", filepath.Join(c.dir, "event.png"))
		assert.Equal(t, exitInvalid, q.code, q.stderr)
		assert.Contains(t, q.stderr, "not an attestation")
		assert.NoFileExists(t, filepath.Join(c.dir, "event.png"))
	})
	t.Run("fail/qr-file-without-a-code", func(t *testing.T) {
		f := filepath.Join(c.dir, "not.png")
		require.NoError(t, os.WriteFile(f, []byte("not a png"), 0o644))
		r := verify(t, "--qr", f)
		assert.Equal(t, exitInvalid, r.code, r.stderr)
		assert.Contains(t, r.stderr, "not a PNG")
	})
	t.Run("fail/qr-and-a-token-file", func(t *testing.T) {
		r := verify(t, "--qr", "a.png", "a.jws")
		assert.Equal(t, exitUsage, r.code, r.stderr)
		assert.Contains(t, r.stderr, "alternatives")
	})
}
