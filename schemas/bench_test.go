package schemas

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// The performance requirement: verifying a message (ES256) and validating
// it (schema + semantic layer) runs at ≥ 0.2 of the raw ES256 verify rate,
// on a realistic ~4.5 KB birth. Compare BenchmarkES256Verify with
// BenchmarkVerifyAndValidateBirth of the same run:
//
//	go test -run '^$' -bench 'ES256Verify|Birth' -benchtime 3s ./schemas/

// BenchmarkValidateBirth is Validate: I-JSON check, decoding with NFC,
// schema, semantic layer.
func BenchmarkValidateBirth(b *testing.B) {
	msg := mustBenchBirth(b)
	v := Default()
	if _, err := v.Validate(msg); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Validate(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateBirthSchemaOnly is Validate without the semantic layer.
func BenchmarkValidateBirthSchemaOnly(b *testing.B) {
	msg := mustBenchBirth(b)
	v := Default()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.validateSchema(msg); err != nil {
			b.Fatal(err)
		}
	}
}

type es256 struct {
	key *ecdsa.PrivateKey
	sig []byte
}

func newES256(b *testing.B, msg []byte) es256 {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
	if err != nil {
		b.Fatal(err)
	}
	return es256{key, sig}
}

func (e es256) verify(b *testing.B, msg []byte) {
	d := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(&e.key.PublicKey, d[:], e.sig) {
		b.Fatal("signature does not verify")
	}
}

// BenchmarkES256Verify is the raw rate: SHA-256 and a P-256 verification
// of the same bytes (crypto/ecdsa, no JOSE parsing).
func BenchmarkES256Verify(b *testing.B) {
	msg := mustBenchBirth(b)
	e := newES256(b, msg)
	b.ReportAllocs()
	for b.Loop() {
		e.verify(b, msg)
	}
}

// BenchmarkVerifyAndValidateBirth is the in-process pipeline: the raw
// verification, then Validate.
func BenchmarkVerifyAndValidateBirth(b *testing.B) {
	msg := mustBenchBirth(b)
	e := newES256(b, msg)
	v := Default()
	b.ReportAllocs()
	for b.Loop() {
		e.verify(b, msg)
		if _, err := v.Validate(msg); err != nil {
			b.Fatal(err)
		}
	}
}
