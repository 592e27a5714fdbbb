package jws_test

import (
	"crypto/elliptic"
	"encoding/base64"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"github.com/ecrn/crvsx/protocol/jws"
)

// TestSignerWritesLowS: ES256 signatures come out in low-S form, every
// time (LowS), so that the high-S twin is a deliberate test vector.
func TestSignerWritesLowS(t *testing.T) {
	s, err := jws.GenerateKey("TJ", jws.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 64 {
		tok, err := s.Sign("crvs-event+jws", []byte(`{"n":`+strconv.Itoa(i)+`}`))
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(string(tok), ".")
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || len(sig) != 64 {
			t.Fatalf("signature %q: %v", parts[2], err)
		}
		if new(big.Int).SetBytes(sig[32:]).Cmp(new(big.Int).Rsh(elliptic.P256().Params().N, 1)) > 0 {
			t.Fatalf("signature %d is high-S", i)
		}
		ks, err := jws.NewKeySet(s.Public())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jws.Verify(tok, ks, jws.Options{Typ: "crvs-event+jws"}); err != nil {
			t.Fatalf("low-S signature does not verify: %v", err)
		}
	}
	high := append([]byte(nil), make([]byte, 32)...)
	high = append(high, elliptic.P256().Params().N.Bytes()...)
	high[63]-- // n−1 > n/2
	if got := jws.LowS(high); new(big.Int).SetBytes(got[32:]).Cmp(big.NewInt(1)) != 0 {
		t.Fatalf("LowS(n−1) = %x, want 1", got[32:])
	}
}
