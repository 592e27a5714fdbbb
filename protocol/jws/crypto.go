package jws

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"math/big"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// verifySignature is SPEC §6.4.4 with jwx's verifier for alg.
func verifySignature(alg string, pub any, input, sig []byte) error {
	a := jwa.ES256()
	if alg == AlgEdDSA {
		a = jwa.EdDSA()
	}
	v, err := jws.VerifierFor(a)
	if err != nil {
		return err
	}
	return v.Verify(pub, input, sig)
}

// verifyStdlib is SPEC §6.4.4 with the standard library.
func verifyStdlib(alg string, pub any, input, sig []byte) error {
	switch alg {
	case AlgES256:
		d := sha256.Sum256(input)
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		if ecdsa.Verify(pub.(*ecdsa.PublicKey), d[:], r, s) {
			return nil
		}
	case AlgEdDSA:
		if ed25519.Verify(pub.(ed25519.PublicKey), input, sig) {
			return nil
		}
	}
	return errors.New("signature does not verify")
}
