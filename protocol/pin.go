package protocol

import (
	"crypto/sha256"
	"encoding/hex"
)

// SPKIPin is the pin of a TLS key as the registry records a node's key
// (SPEC §2, protocol/REGISTRY.md §2): the lower-case hex SHA-256 of its DER
// SubjectPublicKeyInfo (x509.Certificate.RawSubjectPublicKeyInfo). Pinning
// the key, not the certificate, lets a node re-issue its certificate.
func SPKIPin(spkiDER []byte) string {
	h := sha256.Sum256(spkiDER)
	return hex.EncodeToString(h[:])
}
