package jws_test

import (
	"encoding/asn1"
	"math/big"
)

// derOf encodes an R‖S ECDSA signature as ASN.1 DER.
func derOf(sig []byte) []byte {
	b, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])})
	if err != nil {
		panic(err)
	}
	return b
}
