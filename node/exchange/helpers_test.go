package exchange_test

import "crypto/sha256"

func sha256Of(b []byte) [32]byte { return sha256.Sum256(b) }
