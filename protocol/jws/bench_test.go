package jws_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	jwxjws "github.com/lestrrat-go/jwx/v3/jws"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
)

// benchToken is a signed BirthMessage (about 6.6 KB on the wire) with its
// signing input and decoded signature, for the raw comparisons.
func benchToken(b *testing.B, alg string) (m *protocoltest.Member, token, input, sig []byte) {
	b.Helper()
	m, err := protocoltest.NewMember("TR", alg)
	if err != nil {
		b.Fatal(err)
	}
	token = m.Sign(protocol.TypEvent, protocoltest.BirthMessage("TR-NVI-CRVS", "TJ-MOJ-CRVS"))
	i := bytes.LastIndexByte(token, '.')
	sig, err = base64.RawURLEncoding.DecodeString(string(token[i+1:]))
	if err != nil {
		b.Fatal(err)
	}
	return m, token, token[:i], sig
}

// BenchmarkVerifyES256 is the whole of Verify (profile checks, decoding,
// key lookup, crypto) on a realistic message; compare BenchmarkRawES256.
func BenchmarkVerifyES256(b *testing.B) { benchVerify(b, jws.AlgES256) }

// BenchmarkVerifyEdDSA is BenchmarkVerifyES256 for EdDSA; compare
// BenchmarkRawEd25519.
func BenchmarkVerifyEdDSA(b *testing.B) { benchVerify(b, jws.AlgEdDSA) }

func benchVerify(b *testing.B, alg string) {
	m, token, _, _ := benchToken(b, alg)
	view := m.KeySet()
	opts := jws.Options{Typ: protocol.TypEvent}
	b.SetBytes(int64(len(token)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jws.Verify(token, view, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawES256 is the floor: SHA-256 of the same signing input and
// crypto/ecdsa.Verify, with R and S already parsed.
func BenchmarkRawES256(b *testing.B) {
	m, token, input, sig := benchToken(b, jws.AlgES256)
	pub := m.Key().Public.(*ecdsa.PublicKey)
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	b.SetBytes(int64(len(token)))
	b.ReportAllocs()
	for b.Loop() {
		d := sha256.Sum256(input)
		if !ecdsa.Verify(pub, d[:], r, s) {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkRawEd25519(b *testing.B) {
	m, token, input, sig := benchToken(b, jws.AlgEdDSA)
	pub := m.Key().Public.(ed25519.PublicKey)
	b.SetBytes(int64(len(token)))
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, input, sig) {
			b.Fatal("invalid")
		}
	}
}

// BenchmarkCryptoES256 compares ways to do step 11 alone, which is how
// Verify's crypto path was chosen.
func BenchmarkCryptoES256(b *testing.B) {
	m, token, input, sig := benchToken(b, jws.AlgES256)
	pub := m.Key().Public.(*ecdsa.PublicKey)
	b.Run("jwx-Verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jwxjws.Verify(token, jwxjws.WithKey(jwa.ES256(), pub)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jwx-VerifyCompactFast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jwxjws.VerifyCompactFast(pub, token, jwa.ES256()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jwx-VerifierFor", func(b *testing.B) {
		v, err := jwxjws.VerifierFor(jwa.ES256())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := v.Verify(pub, input, sig); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d := sha256.Sum256(input)
			if !ecdsa.Verify(pub, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
				b.Fatal("invalid")
			}
		}
	})
}

// BenchmarkVerifyChecksOnly measures the profile's overhead alone: steps
// 1–9 of Verify (size, structure, base64url of the 6.6 KB token, header
// I-JSON and decoding, header profile, key lookup) on the same message,
// stopped before cryptography by a trust view that registers the key with
// use "enc".
func BenchmarkVerifyChecksOnly(b *testing.B) {
	m, token, _, _ := benchToken(b, jws.AlgES256)
	k := m.Key()
	k.Use = "enc"
	view := protocoltest.TrustView{k.Kid: k}
	opts := jws.Options{Typ: protocol.TypEvent}
	b.SetBytes(int64(len(token)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jws.Verify(token, view, opts); protocol.CodeOf(err) != protocol.CodeKeyUse {
			b.Fatal(err)
		}
	}
}
