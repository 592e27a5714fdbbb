package jws_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
)

// samplePayload is a small message; the vectors do not depend on it.
var samplePayload = []byte(`{"schemaVersion":"1.0.0","messageType":"event.death","messageId":"3b0c6f52-2a4e-4d7b-9f1e-6c5d4b3a2f10"}`)

func members(t testing.TB) (es, ed *protocoltest.Member) {
	t.Helper()
	es, err := protocoltest.NewMember("TJ", jws.AlgES256)
	require.NoError(t, err)
	ed, err = protocoltest.NewMember("TR", jws.AlgEdDSA)
	require.NoError(t, err)
	return es, ed
}

func TestVerifyVectors(t *testing.T) {
	es, ed := members(t)
	for _, m := range []*protocoltest.Member{es, ed} {
		other := ed
		if m == ed {
			other = es
		}
		view := m.TrustView(other)
		t.Run(m.Alg, func(t *testing.T) {
			for _, v := range protocoltest.VectorsFor(m.Alg) {
				t.Run(v.Name, func(t *testing.T) {
					token := m.Mint(v.Kind, protocol.TypEvent, samplePayload)
					got, err := jws.Verify(token, view, jws.Options{Typ: protocol.TypEvent})
					if v.Code == "" {
						require.NoError(t, err)
						assert.Equal(t, samplePayload, got.Payload)
						assert.Equal(t, m.Kid(), got.Kid)
						assert.Equal(t, m.Alg, got.Alg)
						assert.Equal(t, m.Key(), got.Key)
						assert.Equal(t, m.Country, got.Key.Member)
						return
					}
					require.Error(t, err)
					assert.Nil(t, got)
					assert.Equal(t, v.Code, protocol.CodeOf(err), "error: %v", err)
					assert.True(t, errors.Is(err, protocol.ErrRejected))
				})
			}
		})
	}
}

func TestVectorsCoverEveryKindOnce(t *testing.T) {
	names := map[string]bool{}
	kinds := map[protocoltest.Kind]int{}
	for _, v := range protocoltest.Vectors() {
		assert.False(t, names[v.Name], "duplicate name %s", v.Name)
		names[v.Name] = true
		kinds[v.Kind]++
		assert.True(t, strings.HasPrefix(v.Name, "ok/") == (v.Code == ""), "%s: ok/ names and empty codes go together", v.Name)
	}
	for k := protocoltest.Valid; k <= protocoltest.SignedByOtherKey; k++ {
		assert.NotZero(t, kinds[k], "kind %d has no vector", k)
	}
	for _, name := range []string{"fail/alg-none", "fail/alg-lowercase", "fail/header-alg-differs-from-key", "fail/kid-missing",
		"fail/crit-present", "fail/duplicate-header-name", "fail/padded-base64", "fail/der-signature", "fail/flattened-json",
		"fail/tampered-payload", "ok/unknown-noncritical-header", "ok/es256", "ok/eddsa"} {
		assert.True(t, names[name], "missing vector %s", name)
	}
}

// lenientSplit takes a minted token apart without the profile's rules, the
// way a lenient verifier would, to show what a bad vector carries.
func lenientSplit(token []byte) (header map[string]any, input, sig []byte, ok bool) {
	s := strings.TrimRight(string(token), "\n")
	if strings.HasPrefix(s, "{") {
		var j struct {
			Payload, Protected, Signature string
			Signatures                    []struct{ Protected, Signature string }
		}
		if json.Unmarshal(token, &j) != nil {
			return nil, nil, nil, false
		}
		if len(j.Signatures) == 1 {
			j.Protected, j.Signature = j.Signatures[0].Protected, j.Signatures[0].Signature
		}
		s = j.Protected + "." + j.Payload + "." + j.Signature
	}
	i := strings.LastIndexByte(s, '.')
	if i < 0 || strings.Count(s, ".") != 2 {
		return nil, nil, nil, false
	}
	dec := func(x string) []byte {
		x = strings.NewReplacer("=", "", "\r", "", "\n", "", " ", "", "+", "-", "/", "_").Replace(x)
		b, _ := base64.RawURLEncoding.DecodeString(x)
		return b
	}
	hb := dec(s[:strings.IndexByte(s, '.')])
	_ = json.Unmarshal(hb, &header)
	return header, []byte(s[:i]), dec(s[i+1:]), true
}

func rawVerify(key jws.Key, input, sig []byte) bool {
	switch pub := key.Public.(type) {
	case *ecdsa.PublicKey:
		d := sha256.Sum256(input)
		if len(sig) == 64 {
			return ecdsa.VerifyASN1(pub, d[:], derOf(sig))
		}
		return ecdsa.VerifyASN1(pub, d[:], sig)
	case ed25519.PublicKey:
		return len(sig) == 64 && ed25519.Verify(pub, input, sig)
	}
	return false
}

// TestBadVectorsCarryRealSignatures shows that a bad vector fails for its
// own reason: unless the signature is what is wrong, it is a real
// signature over the exact signing input by the key its kid names (or the
// member's key when the header gives no usable kid).
func TestBadVectorsCarryRealSignatures(t *testing.T) {
	es, ed := members(t)
	notSigned := map[protocoltest.Kind]bool{
		protocoltest.TwoSegments: true, protocoltest.EmptySignature: true, protocoltest.AlgNotAllowed: true,
		protocoltest.ShortSignature: true, protocoltest.TamperedPayload: true, protocoltest.TamperedHeader: true,
		protocoltest.TamperedSig: true, protocoltest.SignedByOtherKey: true,
		protocoltest.KidUnknown: true, // signed by a key in no trust view
	}
	for _, m := range []*protocoltest.Member{es, ed} {
		view := m.TrustView()
		for _, v := range protocoltest.VectorsFor(m.Alg) {
			t.Run(m.Alg+"/"+v.Name, func(t *testing.T) {
				token := m.Mint(v.Kind, protocol.TypEvent, samplePayload)
				hdr, input, sig, ok := lenientSplit(token)
				if !ok {
					shapes := v.Kind == protocoltest.TwoSegments || v.Kind == protocoltest.FourSegments || v.Kind == protocoltest.FiveSegments
					require.True(t, shapes, "cannot take apart %q", token)
					return
				}
				key := m.Key()
				if kid, ok := hdr["kid"].(string); ok {
					if k, found := view.LookupKey(kid); found {
						key = k
					}
				}
				assert.Equal(t, !notSigned[v.Kind], rawVerify(key, input, sig))
			})
		}
	}
}

func TestBadSignatureAndUnknownKeyDiffer(t *testing.T) {
	es, _ := members(t)
	opts := jws.Options{Typ: protocol.TypEvent}
	_, errUnknown := jws.Verify(es.Mint(protocoltest.KidUnknown, protocol.TypEvent, samplePayload), es.TrustView(), opts)
	_, errBad := jws.Verify(es.Mint(protocoltest.TamperedPayload, protocol.TypEvent, samplePayload), es.TrustView(), opts)
	assert.Equal(t, protocol.CodeKeyUnknown, protocol.CodeOf(errUnknown))
	assert.Equal(t, protocol.CodeSignatureInvalid, protocol.CodeOf(errBad))
	assert.NotEqual(t, protocol.ProblemFor(errUnknown).Type, protocol.ProblemFor(errBad).Type)

	// A valid message for a trust view without the key is "not available",
	// not "bad signature": the sender may cure it by waiting.
	_, err := jws.Verify(es.Sign(protocol.TypEvent, samplePayload), protocoltest.TrustView{}, opts)
	assert.Equal(t, protocol.CodeKeyUnknown, protocol.CodeOf(err))
	_, err = jws.Verify(es.Sign(protocol.TypEvent, samplePayload), nil, opts)
	assert.Equal(t, protocol.CodeKeyUnknown, protocol.CodeOf(err))
}

func TestSignerOutputVerifies(t *testing.T) {
	for _, alg := range []string{jws.AlgES256, jws.AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			s, err := jws.GenerateKey("KZ", alg)
			require.NoError(t, err)
			set, err := jws.NewKeySet(s.Public())
			require.NoError(t, err)
			payload := protocoltest.BirthMessage("TR-NVI-CRVS", "TJ-MOJ-CRVS")
			token, err := s.Sign(protocol.TypEvent, payload)
			require.NoError(t, err)

			// The header is exactly the profile's three members.
			seg := token[:bytes.IndexByte(token, '.')]
			hdr, err := base64.RawURLEncoding.DecodeString(string(seg))
			require.NoError(t, err)
			assert.JSONEq(t, `{"alg":"`+alg+`","kid":"`+s.Kid()+`","typ":"crvs-event+jws"}`, string(hdr))

			got, err := jws.Verify(token, set, jws.Options{Typ: protocol.TypEvent})
			require.NoError(t, err)
			assert.Equal(t, payload, got.Payload)
			assert.Equal(t, "KZ", got.Key.Member)
			assert.Equal(t, s.Kid(), got.Kid)
			assert.Equal(t, alg, got.Alg)
			assert.Equal(t, protocol.TypEvent, got.Typ)

			// Another endpoint refuses it.
			_, err = jws.Verify(token, set, jws.Options{Typ: protocol.TypReceipt})
			assert.Equal(t, protocol.CodeTypMismatch, protocol.CodeOf(err))
		})
	}
}

func TestSignWithHeader(t *testing.T) {
	s, err := jws.GenerateKey("TJ", jws.AlgES256)
	require.NoError(t, err)
	set, err := jws.NewKeySet(s.Public())
	require.NoError(t, err)
	digest := strings.Repeat("ab", 32)
	token, err := s.SignWithHeader(protocol.TypReceipt, map[string]any{"crvs-sha256": digest}, []byte(`{"a":1}`))
	require.NoError(t, err)
	got, err := jws.Verify(token, set, jws.Options{Typ: protocol.TypReceipt})
	require.NoError(t, err)
	assert.Equal(t, digest, got.Header["crvs-sha256"])

	for _, name := range []string{"alg", "kid", "typ", "crit", "b64", "jwk", "x5c", "zip"} {
		_, err := s.SignWithHeader(protocol.TypReceipt, map[string]any{name: "x"}, []byte(`{}`))
		assert.Error(t, err, name)
	}
	_, err = s.Sign(protocol.TypEvent, nil)
	assert.Error(t, err)
	_, err = s.Sign("", []byte(`{}`))
	assert.Error(t, err)
	_, err = s.Sign("crvs-event+jws\n", []byte(`{}`))
	assert.Error(t, err)
	_, err = s.Sign(protocol.TypEvent, bytes.Repeat([]byte{' '}, protocol.MaxMessageBytes))
	assert.Equal(t, protocol.CodeTooLarge, protocol.CodeOf(err))
}

func TestVerifyOptions(t *testing.T) {
	es, _ := members(t)
	token := es.Sign(protocol.TypEvent, samplePayload)

	_, err := jws.Verify(token, es.KeySet(), jws.Options{})
	require.Error(t, err)
	assert.Equal(t, protocol.Code(""), protocol.CodeOf(err), "a missing Typ is the caller's fault")

	_, err = jws.Verify(token, es.KeySet(), jws.Options{Typ: protocol.TypEvent, MaxBytes: len(token) - 1})
	assert.Equal(t, protocol.CodeTooLarge, protocol.CodeOf(err))
	_, err = jws.Verify(token, es.KeySet(), jws.Options{Typ: protocol.TypEvent, MaxBytes: len(token)})
	assert.NoError(t, err)

	big := es.Mint(protocoltest.Oversize, protocol.TypEvent, samplePayload)
	_, err = jws.Verify(big, es.KeySet(), jws.Options{Typ: protocol.TypEvent, MaxBytes: 10 * protocol.MaxMessageBytes})
	assert.Equal(t, protocol.CodeTooLarge, protocol.CodeOf(err), "a node may configure lower limits, never higher ones")
}

func TestTypComparison(t *testing.T) {
	es, _ := members(t)
	for _, tc := range []struct {
		typ  string
		want protocol.Code
	}{
		{"crvs-event+jws", ""},
		{"CRVS-Event+JWS", ""},
		{"application/crvs-event+jws", ""},
		{"Application/CRVS-EVENT+JWS", ""},
		{"application/", protocol.CodeTypMismatch},
		{"crvs-event+jws ", protocol.CodeTypMismatch},
		{"text/crvs-event+jws", protocol.CodeTypMismatch},
		{"application/application/crvs-event+jws", protocol.CodeTypMismatch},
		{"crvs-receipt+jws", protocol.CodeTypMismatch},
		{"", protocol.CodeTypMismatch},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			token := signWithTyp(t, es, tc.typ)
			_, err := jws.Verify(token, es.KeySet(), jws.Options{Typ: protocol.TypEvent})
			assert.Equal(t, tc.want, protocol.CodeOf(err), "%v", err)
		})
	}
}

// signWithTyp signs samplePayload with an arbitrary typ string, including
// the empty one the Signer refuses.
func signWithTyp(t *testing.T, m *protocoltest.Member, typ string) []byte {
	t.Helper()
	if typ == "" {
		return m.Mint(protocoltest.TypMissing, protocol.TypEvent, samplePayload)
	}
	token, err := m.Signer.Sign(typ, samplePayload)
	require.NoError(t, err)
	return token
}

// faultyView returns a fixed key for every kid.
type faultyView struct{ key jws.Key }

func (f faultyView) LookupKey(string) (jws.Key, bool) { return f.key, true }

func TestTrustViewFaultsAreNotRefusals(t *testing.T) {
	es, ed := members(t)
	token := es.Sign(protocol.TypEvent, samplePayload)
	good := es.Key()
	for name, key := range map[string]jws.Key{
		"other-kid":         ed.Key(),
		"nil-public":        {Kid: good.Kid, Member: "TJ", Alg: jws.AlgES256, Use: "sig"},
		"nil-ecdsa":         {Kid: good.Kid, Member: "TJ", Alg: jws.AlgES256, Use: "sig", Public: (*ecdsa.PublicKey)(nil)},
		"ecdsa-without-xy":  {Kid: good.Kid, Member: "TJ", Alg: jws.AlgES256, Use: "sig", Public: &ecdsa.PublicKey{Curve: good.Public.(*ecdsa.PublicKey).Curve}},
		"ed25519-as-es256":  {Kid: good.Kid, Member: "TJ", Alg: jws.AlgES256, Use: "sig", Public: ed.Key().Public},
		"unknown-alg":       {Kid: good.Kid, Member: "TJ", Alg: "ES256", Use: "sig", Public: "not a key"},
		"short-ed25519-key": {Kid: good.Kid, Member: "TJ", Alg: jws.AlgES256, Use: "sig", Public: ed25519.PublicKey{1, 2, 3}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := jws.Verify(token, faultyView{key}, jws.Options{Typ: protocol.TypEvent})
			require.Error(t, err)
			assert.Equal(t, protocol.Code(""), protocol.CodeOf(err), "%v", err)
		})
	}
	// A short Ed25519 key registered for EdDSA must not reach ed25519.Verify,
	// which panics on it.
	edToken := ed.Sign(protocol.TypEvent, samplePayload)
	bad := ed.Key()
	bad.Public = ed25519.PublicKey{1, 2, 3}
	_, err := jws.Verify(edToken, faultyView{bad}, jws.Options{Typ: protocol.TypEvent})
	require.Error(t, err)
	assert.Equal(t, protocol.Code(""), protocol.CodeOf(err))
}

func TestVerifyOddInputs(t *testing.T) {
	es, _ := members(t)
	view := es.TrustView()
	for _, tc := range []struct {
		in   string
		code protocol.Code
	}{
		{"", protocol.CodeNotCompact},
		{".", protocol.CodeNotCompact},
		{"..", protocol.CodeEmptyPayload},
		{"...", protocol.CodeNotCompact},
		{"a.b.", protocol.CodeEmptySignature},
		{"a.b.c", protocol.CodeBadBase64},
		{"e30.e30.e30", protocol.CodeAlgMissing},
		{" {}", protocol.CodeNotCompact},
		{"\x00.\x00.\x00", protocol.CodeBadBase64},
		{"e30=.e30.e30", protocol.CodeBadBase64},
		{"bnVsbA.e30.e30", protocol.CodeHeaderJSON}, // null
		{"e31.e30.e30", protocol.CodeBadBase64},     // "{}" with non-zero unused bits
		{"e30.e30.e31", protocol.CodeBadBase64},
		{"eyJhbGciOiJFUzI1NiJ9.e30.AA", protocol.CodeKidMissing},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := jws.Verify([]byte(tc.in), view, jws.Options{Typ: protocol.TypEvent})
			assert.Equal(t, tc.code, protocol.CodeOf(err), "%v", err)
		})
	}
}

func TestVerifiedPayloadDoesNotAliasToken(t *testing.T) {
	es, _ := members(t)
	token := es.Sign(protocol.TypEvent, samplePayload)
	got, err := jws.Verify(token, es.KeySet(), jws.Options{Typ: protocol.TypEvent})
	require.NoError(t, err)
	_ = append(got.Payload, "more"...) // must not write over anything else
	for i := range token {
		token[i] = 'x'
	}
	assert.Equal(t, samplePayload, got.Payload)
}

func TestAnyTyp(t *testing.T) {
	es, _ := members(t)
	set := es.KeySet()
	for _, typ := range protocol.Typs {
		got, err := jws.Verify(es.Sign(typ, samplePayload), set, jws.Options{AnyTyp: true})
		require.NoError(t, err, typ)
		assert.Equal(t, typ, got.Typ)
	}
	got, err := jws.Verify(es.Sign("APPLICATION/CRVS-RECEIPT+JWS", samplePayload), set, jws.Options{AnyTyp: true})
	require.NoError(t, err)
	assert.Equal(t, "APPLICATION/CRVS-RECEIPT+JWS", got.Typ, "as sent")
	for _, typ := range []string{"JWT", "crvs-other+jws", "application/jose"} {
		_, err := jws.Verify(es.Sign(typ, samplePayload), set, jws.Options{AnyTyp: true})
		assert.Equal(t, protocol.CodeTypMismatch, protocol.CodeOf(err), typ)
	}
	_, err = jws.Verify(es.Mint(protocoltest.TypMissing, protocol.TypEvent, samplePayload), set, jws.Options{AnyTyp: true})
	assert.Equal(t, protocol.CodeTypMismatch, protocol.CodeOf(err))
	_, err = jws.Verify(es.Sign(protocol.TypEvent, samplePayload), set, jws.Options{Typ: protocol.TypEvent, AnyTyp: true})
	require.Error(t, err)
	assert.Equal(t, protocol.Code(""), protocol.CodeOf(err), "Typ and AnyTyp together are the caller's fault")
}
