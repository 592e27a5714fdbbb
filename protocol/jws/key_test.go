package jws_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
)

func jwkMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func jwkBytes(t *testing.T, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// TestKidConvention recomputes SPEC §2's kid independently: member, ":",
// the first 16 characters of the base64url RFC 7638 SHA-256 thumbprint.
func TestKidConvention(t *testing.T) {
	for _, alg := range []string{jws.AlgES256, jws.AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			s, err := jws.GenerateKey("UZ", alg)
			require.NoError(t, err)
			b, err := jws.MarshalPublicJWK(s.Public())
			require.NoError(t, err)
			m := jwkMap(t, b)
			var canon string
			if alg == jws.AlgES256 {
				canon = `{"crv":"P-256","kty":"EC","x":"` + m["x"].(string) + `","y":"` + m["y"].(string) + `"}`
			} else {
				canon = `{"crv":"Ed25519","kty":"OKP","x":"` + m["x"].(string) + `"}`
			}
			tp := sha256.Sum256([]byte(canon))
			want := "UZ:" + base64.RawURLEncoding.EncodeToString(tp[:])[:16]
			assert.Equal(t, want, s.Kid())
			assert.Regexp(t, regexp.MustCompile(`^[A-Z]{2}:[A-Za-z0-9_-]{16}$`), s.Kid())
			assert.Equal(t, "UZ", m["member"])
			assert.Equal(t, "sig", m["use"])
			assert.Equal(t, alg, m["alg"])
			assert.Equal(t, s.Kid(), m["kid"])
			assert.NotContains(t, m, "d")
		})
	}
}

func TestJWKRoundTrip(t *testing.T) {
	for _, alg := range []string{jws.AlgES256, jws.AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			s, err := jws.GenerateKey("KG", alg)
			require.NoError(t, err)

			pub, err := jws.MarshalPublicJWK(s.Public())
			require.NoError(t, err)
			k, err := jws.ParsePublicJWK(pub)
			require.NoError(t, err)
			assert.Equal(t, s.Public(), k)

			priv, err := jws.MarshalPrivateJWK(s)
			require.NoError(t, err)
			assert.Contains(t, jwkMap(t, priv), "d")
			s2, err := jws.ParsePrivateJWK(priv)
			require.NoError(t, err)
			assert.Equal(t, s.Public(), s2.Public())
			assert.Equal(t, "KG", s2.Member())
			assert.Equal(t, alg, s2.Alg())

			// The parsed private key signs what the public key verifies.
			set, err := jws.NewKeySet(k)
			require.NoError(t, err)
			token, err := s2.Sign(protocol.TypQuery, []byte(`{"q":1}`))
			require.NoError(t, err)
			_, err = jws.Verify(token, set, jws.Options{Typ: protocol.TypQuery})
			require.NoError(t, err)

			// A private JWK is refused where a public one is expected, and
			// the other way round.
			_, err = jws.ParsePublicJWK(priv)
			assert.ErrorIs(t, err, jws.ErrInvalidJWK)
			_, err = jws.ParsePrivateJWK(pub)
			assert.ErrorIs(t, err, jws.ErrInvalidJWK)
		})
	}
}

func TestJWKSetRoundTrip(t *testing.T) {
	a, err := jws.GenerateKey("TJ", jws.AlgES256)
	require.NoError(t, err)
	b, err := jws.GenerateKey("TR", jws.AlgEdDSA)
	require.NoError(t, err)
	data, err := jws.MarshalJWKSet([]jws.Key{b.Public(), a.Public()})
	require.NoError(t, err)
	set, err := jws.ParseJWKSet(data)
	require.NoError(t, err)
	k, ok := set.LookupKey(a.Kid())
	require.True(t, ok)
	assert.Equal(t, a.Public(), k)
	k, ok = set.LookupKey(b.Kid())
	require.True(t, ok)
	assert.Equal(t, b.Public(), k)
	_, ok = set.LookupKey("TJ:nope")
	assert.False(t, ok)
	assert.Len(t, set.Keys(), 2)

	var nilSet *jws.KeySet
	_, ok = nilSet.LookupKey(a.Kid())
	assert.False(t, ok)

	_, err = jws.MarshalJWKSet([]jws.Key{a.Public(), a.Public()})
	assert.ErrorIs(t, err, jws.ErrInvalidJWK)
	_, err = jws.NewKeySet(a.Public(), a.Public())
	assert.ErrorIs(t, err, jws.ErrInvalidJWK)

	empty, err := jws.ParseJWKSet([]byte(`{"keys":[]}`))
	require.NoError(t, err)
	assert.Empty(t, empty.Keys())
}

func TestParsePublicJWKRefusals(t *testing.T) {
	es, err := jws.GenerateKey("TJ", jws.AlgES256)
	require.NoError(t, err)
	ed, err := jws.GenerateKey("TJ", jws.AlgEdDSA)
	require.NoError(t, err)
	esJWK, err := jws.MarshalPublicJWK(es.Public())
	require.NoError(t, err)
	edJWK, err := jws.MarshalPublicJWK(ed.Public())
	require.NoError(t, err)
	other, err := jws.GenerateKey("TJ", jws.AlgES256)
	require.NoError(t, err)
	otherJWK, err := jws.MarshalPublicJWK(other.Public())
	require.NoError(t, err)

	with := func(base []byte, f func(m map[string]any)) []byte {
		m := jwkMap(t, base)
		f(m)
		return jwkBytes(t, m)
	}
	raw := string(esJWK)
	for name, in := range map[string][]byte{
		"not-json":          []byte(`{`),
		"array":             []byte(`[]`),
		"empty":             nil,
		"oversize":          []byte(`{"x":"` + strings.Repeat("a", jws.MaxJWKBytes) + `"}`),
		"duplicate-member":  []byte(strings.Replace(raw, `{`, `{"kid":"TJ:AAAAAAAAAAAAAAAA",`, 1)),
		"duplicate-escaped": []byte(strings.Replace(raw, `{`, `{"\u006bid":"TJ:AAAAAAAAAAAAAAAA",`, 1)),
		"private":           with(esJWK, func(m map[string]any) { m["d"] = strings.Repeat("A", 43) }),
		"rsa":               with(esJWK, func(m map[string]any) { m["kty"] = "RSA" }),
		"oct":               []byte(`{"kty":"oct","k":"c2VjcmV0","kid":"TJ:x","alg":"HS256","use":"sig","member":"TJ"}`),
		"p384":              with(esJWK, func(m map[string]any) { m["crv"] = "P-384" }),
		"secp256k1":         with(esJWK, func(m map[string]any) { m["crv"] = "secp256k1"; m["alg"] = "ES256K" }),
		"x25519":            with(edJWK, func(m map[string]any) { m["crv"] = "X25519" }),
		"ec-with-eddsa":     with(esJWK, func(m map[string]any) { m["alg"] = "EdDSA" }),
		"okp-with-es256":    with(edJWK, func(m map[string]any) { m["alg"] = "ES256" }),
		"alg-missing":       with(esJWK, func(m map[string]any) { delete(m, "alg") }),
		"alg-lowercase":     with(esJWK, func(m map[string]any) { m["alg"] = "es256" }),
		"use-missing":       with(esJWK, func(m map[string]any) { delete(m, "use") }),
		"use-enc":           with(esJWK, func(m map[string]any) { m["use"] = "enc" }),
		"member-missing":    with(esJWK, func(m map[string]any) { delete(m, "member") }),
		"member-lowercase":  with(esJWK, func(m map[string]any) { m["member"] = "tj" }),
		"member-not-string": with(esJWK, func(m map[string]any) { m["member"] = 7 }),
		"member-other-case": with(esJWK, func(m map[string]any) { delete(m, "member"); m["Member"] = "TJ" }),
		"member-differs":    with(esJWK, func(m map[string]any) { m["member"] = "TR" }),
		"kid-missing":       with(esJWK, func(m map[string]any) { delete(m, "kid") }),
		"kid-other-key":     with(esJWK, func(m map[string]any) { m["kid"] = other.Kid() }),
		"kid-full-thumb":    with(esJWK, func(m map[string]any) { m["kid"] = m["kid"].(string) + "x" }),
		"x-of-other-key":    with(esJWK, func(m map[string]any) { m["x"] = jwkMap(t, otherJWK)["x"] }),
		"x-padded":          with(esJWK, func(m map[string]any) { m["x"] = m["x"].(string) + "=" }),
		"x-short":           with(esJWK, func(m map[string]any) { m["x"] = m["x"].(string)[:42] }),
		"x-long":            with(esJWK, func(m map[string]any) { m["x"] = base64.RawURLEncoding.EncodeToString(make([]byte, 33)) }),
		"x-std-alphabet": with(esJWK, func(m map[string]any) {
			m["x"] = strings.NewReplacer("-", "+", "_", "/").Replace(m["x"].(string)) + "+"
		}),
		"y-missing":          with(esJWK, func(m map[string]any) { delete(m, "y") }),
		"okp-with-y":         with(edJWK, func(m map[string]any) { m["y"] = m["x"] }),
		"point-off-curve":    with(esJWK, func(m map[string]any) { m["y"] = m["x"] }),
		"x5c":                with(esJWK, func(m map[string]any) { m["x5c"] = []string{"MIIB"} }),
		"x5u":                with(esJWK, func(m map[string]any) { m["x5u"] = "https://example.org/c.pem" }),
		"key-ops":            with(esJWK, func(m map[string]any) { m["key_ops"] = []string{"verify"} }),
		"rsa-members":        with(esJWK, func(m map[string]any) { m["n"] = "AQAB" }),
		"invalid-utf8":       []byte("{\"kty\":\"EC\",\"x\":\"\xff\"}"),
		"kid-wrong-alphabet": with(esJWK, func(m map[string]any) { m["kid"] = "TJ:ключ" }),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := jws.ParsePublicJWK(in)
			require.Error(t, err)
			assert.True(t, errors.Is(err, jws.ErrInvalidJWK), "%v", err)
		})
	}

	// Unknown other members are ignored (RFC 7517 §4).
	k, err := jws.ParsePublicJWK(with(esJWK, func(m map[string]any) { m["x-note"] = "rotated 2025" }))
	require.NoError(t, err)
	assert.Equal(t, es.Public(), k)
}

func TestParsePrivateJWKRefusesMismatchedD(t *testing.T) {
	for _, alg := range []string{jws.AlgES256, jws.AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			a, err := jws.GenerateKey("TJ", alg)
			require.NoError(t, err)
			b, err := jws.GenerateKey("TJ", alg)
			require.NoError(t, err)
			pa, err := jws.MarshalPrivateJWK(a)
			require.NoError(t, err)
			pb, err := jws.MarshalPrivateJWK(b)
			require.NoError(t, err)
			m := jwkMap(t, pa)
			m["d"] = jwkMap(t, pb)["d"]
			_, err = jws.ParsePrivateJWK(jwkBytes(t, m))
			assert.ErrorIs(t, err, jws.ErrInvalidJWK)
		})
	}
}

func TestParseJWKSetRefusals(t *testing.T) {
	a, err := jws.GenerateKey("TJ", jws.AlgES256)
	require.NoError(t, err)
	pub, err := jws.MarshalPublicJWK(a.Public())
	require.NoError(t, err)
	priv, err := jws.MarshalPrivateJWK(a)
	require.NoError(t, err)
	p := string(pub)
	for name, in := range map[string]string{
		"not-object":       `[]`,
		"no-keys":          `{}`,
		"keys-null":        `{"keys":null}`,
		"keys-not-array":   `{"keys":{}}`,
		"keys-other-case":  `{"Keys":[` + p + `]}`,
		"duplicate-kid":    `{"keys":[` + p + `,` + p + `]}`,
		"private-key":      `{"keys":[` + string(priv) + `]}`,
		"duplicate-member": `{"keys":[],"keys":[` + p + `]}`,
		"bad-key":          `{"keys":[{"kty":"RSA"}]}`,
		"oversize":         `{"keys":[],"x":"` + strings.Repeat("a", jws.MaxJWKSetBytes) + `"}`,
		"too-many-keys":    `{"keys":[` + strings.Repeat(`{},`, jws.MaxJWKSetKeys) + `{}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := jws.ParseJWKSet([]byte(in))
			require.Error(t, err)
			assert.ErrorIs(t, err, jws.ErrInvalidJWK)
		})
	}
}

func TestNewKeySetAndSignerRefuseBadKeys(t *testing.T) {
	s, err := jws.GenerateKey("TJ", jws.AlgES256)
	require.NoError(t, err)
	good := s.Public()
	for name, k := range map[string]jws.Key{
		"use-enc":        {Kid: good.Kid, Member: good.Member, Alg: good.Alg, Use: "enc", Public: good.Public},
		"alg-eddsa":      {Kid: good.Kid, Member: good.Member, Alg: jws.AlgEdDSA, Use: "sig", Public: good.Public},
		"member-other":   {Kid: good.Kid, Member: "TR", Alg: good.Alg, Use: "sig", Public: good.Public},
		"kid-other":      {Kid: "TJ:AAAAAAAAAAAAAAAA", Member: good.Member, Alg: good.Alg, Use: "sig", Public: good.Public},
		"nil-public":     {Kid: good.Kid, Member: good.Member, Alg: good.Alg, Use: "sig"},
		"p384":           {Kid: good.Kid, Member: good.Member, Alg: good.Alg, Use: "sig", Public: mustP384(t)},
		"short-ed25519":  {Kid: good.Kid, Member: good.Member, Alg: jws.AlgEdDSA, Use: "sig", Public: ed25519.PublicKey{1}},
		"ecdsa-without":  {Kid: good.Kid, Member: good.Member, Alg: good.Alg, Use: "sig", Public: &ecdsa.PublicKey{Curve: elliptic.P256()}},
		"unknown-member": {Kid: good.Kid, Member: "", Alg: good.Alg, Use: "sig", Public: good.Public},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := jws.NewKeySet(k)
			assert.ErrorIs(t, err, jws.ErrInvalidJWK)
			_, err = jws.MarshalPublicJWK(k)
			assert.ErrorIs(t, err, jws.ErrInvalidJWK)
		})
	}

	_, err = jws.GenerateKey("tj", jws.AlgES256)
	assert.Error(t, err)
	_, err = jws.GenerateKey("TJ", "RS256")
	assert.Error(t, err)
	_, err = jws.NewSigner("TJ", nil)
	assert.Error(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), nil)
	require.NoError(t, err)
	_, err = jws.NewSigner("TJ", p384)
	assert.Error(t, err)
}

func mustP384(t *testing.T) *ecdsa.PublicKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), nil)
	require.NoError(t, err)
	return &k.PublicKey
}

func TestJWKErrorsCarryNoProblemCode(t *testing.T) {
	for _, in := range []string{`{`, `{"a":1,"a":2}`, "{\"a\":\"\xff\"}"} {
		_, err := jws.ParsePublicJWK([]byte(in))
		require.ErrorIs(t, err, jws.ErrInvalidJWK)
		assert.Equal(t, protocol.Code(""), protocol.CodeOf(err), "a JWK refusal is not a payload problem")
		_, err = jws.ParseJWKSet([]byte(in))
		require.ErrorIs(t, err, jws.ErrInvalidJWK)
		assert.Equal(t, protocol.Code(""), protocol.CodeOf(err))
	}
}

// TestRequesterKeys is SPEC §11.1: a requester's key carries the
// requester id as its "member" and "<id>:<thumbprint>" as its kid; the
// member-key rules are unchanged (a requester id is never a member code,
// a kid must still be derived from its own member), and an id of any other
// form is refused.
func TestRequesterKeys(t *testing.T) {
	for _, id := range []string{"INT-UNHCR", "KG-BORDER", "INT-IOM-KG-1"} {
		for _, alg := range []string{jws.AlgES256, jws.AlgEdDSA} {
			s, err := jws.GenerateKey(id, alg)
			require.NoError(t, err, id)
			require.True(t, strings.HasPrefix(s.Kid(), id+":"), s.Kid())
			raw, err := jws.MarshalPublicJWK(s.Public())
			require.NoError(t, err)
			k, err := jws.ParsePublicJWK(raw)
			require.NoError(t, err)
			assert.Equal(t, id, k.Member)
			assert.Equal(t, s.Kid(), k.Kid)
			tok, err := s.Sign(protocol.TypQuery, []byte(`{}`))
			require.NoError(t, err)
			set, err := jws.NewKeySet(k)
			require.NoError(t, err)
			_, err = jws.Verify(tok, set, jws.Options{Typ: protocol.TypQuery})
			require.NoError(t, err)
		}
	}
	s, err := jws.GenerateKey("INT-UNHCR", jws.AlgES256)
	require.NoError(t, err)
	good := s.Public()
	for name, k := range map[string]jws.Key{
		// The kid binds the member: the same key under a member code, or
		// another requester, or a member's kid under the requester id,
		// is refused.
		"kid-of-requester-member-code": {Kid: good.Kid, Member: "TJ", Alg: good.Alg, Use: "sig", Public: good.Public},
		"kid-of-requester-other-id":    {Kid: good.Kid, Member: "INT-IOM", Alg: good.Alg, Use: "sig", Public: good.Public},
		"member-kid-requester-member":  {Kid: "TJ:" + strings.SplitN(good.Kid, ":", 2)[1], Member: "INT-UNHCR", Alg: good.Alg, Use: "sig", Public: good.Public},
		"member-INT":                   {Kid: good.Kid, Member: "INT", Alg: good.Alg, Use: "sig", Public: good.Public},
		"member-lower-case":            {Kid: good.Kid, Member: "int-unhcr", Alg: good.Alg, Use: "sig", Public: good.Public},
		"member-three-letters":         {Kid: good.Kid, Member: "INX-UNHCR", Alg: good.Alg, Use: "sig", Public: good.Public},
		"member-too-long":              {Kid: good.Kid, Member: "INT-" + strings.Repeat("A", 61), Alg: good.Alg, Use: "sig", Public: good.Public},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := jws.NewKeySet(k)
			assert.ErrorIs(t, err, jws.ErrInvalidJWK)
		})
	}
	for _, bad := range []string{"INT", "INT-", "int-unhcr", "KG-BORDER-", "XYZ-A"} {
		_, err := jws.GenerateKey(bad, jws.AlgES256)
		assert.Error(t, err, bad)
	}
}
