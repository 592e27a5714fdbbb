package jws_test

import (
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	jwxjws "github.com/lestrrat-go/jwx/v3/jws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
)

// naiveJWXVerify is what a verifier built on jwx alone commonly does: take
// the kid and alg from the header, find the key, and let jws.Verify check
// the signature with that alg.
func naiveJWXVerify(token []byte, view jws.KeyLookup) error {
	msg, err := jwxjws.Parse(token)
	if err != nil {
		return err
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	kid, _ := h.KeyID()
	alg, _ := h.Algorithm()
	key, _ := view.LookupKey(kid)
	_, err = jwxjws.Verify(token, jwxjws.WithKey(alg, key.Public))
	return err
}

// TestJWXAloneIsLenient documents why Verify checks in front of jwx: each
// of these messages is accepted by jwx v3 used as above, and refused by the
// profile. If a jwx upgrade starts refusing one, keep the profile's check
// and move the case to TestJWXNowRefuses.
func TestJWXAloneIsLenient(t *testing.T) {
	es, ed := members(t)
	for _, m := range []*protocoltest.Member{es, ed} {
		view := m.TrustView()
		for _, v := range []struct {
			kind protocoltest.Kind
			code protocol.Code
		}{
			{protocoltest.AlgKeyMismatch, protocol.CodeAlgKeyMismatch}, // RFC 8725 §3.1
			{protocoltest.Crit, protocol.CodeHeaderForbidden},          // RFC 7515 §4.1.11
			{protocoltest.DuplicateHeader, protocol.CodeHeaderDup},     // RFC 7515 §5.2: last wins
			{protocoltest.PaddedBase64, protocol.CodeBadBase64},        // RFC 7515 §2
			{protocoltest.NonZeroPadBits, protocol.CodeBadBase64},      // a second encoding of the same signature
			{protocoltest.Jwk, protocol.CodeHeaderForbidden},           // an embedded key
			{protocoltest.Zip, protocol.CodeHeaderForbidden},
			{protocoltest.KeyUseEnc, protocol.CodeKeyUse},
			{protocoltest.FlattenedJSON, protocol.CodeNotCompact},
			{protocoltest.GeneralJSON, protocol.CodeNotCompact},
			{protocoltest.TrailingNewline, protocol.CodeBadBase64},
		} {
			token := m.Mint(v.kind, protocol.TypEvent, samplePayload)
			t.Run(m.Alg+"/"+protocoltest.NameOf(v.kind), func(t *testing.T) {
				assert.NoError(t, naiveJWXVerify(token, view), "jwx alone accepts it")
				_, err := jws.Verify(token, view, jws.Options{Typ: protocol.TypEvent})
				assert.Equal(t, v.code, protocol.CodeOf(err))
			})
		}
	}
}

// TestJWXAgreesOnValidMessages: whatever the profile accepts, jwx verifies
// too with the key's registered alg, so the profile only narrows jwx.
func TestJWXAgreesOnValidMessages(t *testing.T) {
	es, ed := members(t)
	for _, m := range []*protocoltest.Member{es, ed} {
		for _, v := range protocoltest.VectorsFor(m.Alg) {
			if v.Code != "" {
				continue
			}
			token := m.Mint(v.Kind, protocol.TypEvent, samplePayload)
			got, err := jws.Verify(token, m.TrustView(), jws.Options{Typ: protocol.TypEvent})
			require.NoError(t, err, v.Name)
			alg := jwa.ES256()
			if m.Alg == jws.AlgEdDSA {
				alg = jwa.EdDSA()
			}
			payload, err := jwxjws.Verify(token, jwxjws.WithKey(alg, got.Key.Public))
			require.NoError(t, err, v.Name)
			assert.Equal(t, got.Payload, payload, v.Name)
		}
	}
}
