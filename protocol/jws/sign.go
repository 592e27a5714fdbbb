package jws

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math/big"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/ecrn/crvsx/protocol"
)

// Signer signs messages with one key of a member. It is immutable and safe
// for concurrent use.
type Signer struct {
	key  Key
	priv crypto.Signer
	alg  jwa.SignatureAlgorithm
}

// NewSigner returns a Signer for member with the private key priv: an
// *ecdsa.PrivateKey on P-256 (ES256), an ed25519.PrivateKey (EdDSA), or any
// crypto.Signer whose public key is one of those (a key held in an HSM).
// The kid is derived from the public key (SPEC §2).
func NewSigner(member string, priv crypto.Signer) (*Signer, error) {
	if priv == nil {
		return nil, fmt.Errorf("jws: nil private key")
	}
	pub := priv.Public()
	alg, err := algForPublic(pub)
	if err != nil {
		return nil, fmt.Errorf("jws: %w", err)
	}
	kid, err := kidFor(member, pub)
	if err != nil {
		return nil, err
	}
	k := Key{Kid: kid, Member: member, Alg: alg, Use: UseSig, Public: pub}
	if err := checkKey(k); err != nil {
		return nil, err
	}
	s := &Signer{key: k, priv: priv, alg: jwa.ES256()}
	if alg == AlgEdDSA {
		s.alg = jwa.EdDSA()
	}
	return s, nil
}

// GenerateKey generates a new signing key for member ("TJ") with alg
// (AlgES256 or AlgEdDSA).
func GenerateKey(member, alg string) (*Signer, error) {
	if !validMember(member) {
		return nil, fmt.Errorf("jws: member %q is not an ISO 3166-1 alpha-2 code nor a requester id", member)
	}
	var priv crypto.Signer
	var err error
	switch alg {
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgEdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("jws: alg %q is not ES256 or EdDSA", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("jws: generate key: %w", err)
	}
	return NewSigner(member, priv)
}

// Kid returns the key id that Sign puts in the header.
func (s *Signer) Kid() string { return s.key.Kid }

// CryptoSigner returns the private key: for protocol/protocoltest, which
// signs malformed tokens on purpose with a member's registered key.
func (s *Signer) CryptoSigner() crypto.Signer { return s.priv }

// Member returns the member the key belongs to.
func (s *Signer) Member() string { return s.key.Member }

// Alg returns the key's algorithm, AlgES256 or AlgEdDSA.
func (s *Signer) Alg() string { return s.key.Alg }

// Public returns the public key, as a trust view would hold it.
func (s *Signer) Public() Key { return s.key }

// Sign returns the compact JWS of payload with the protected header
// {"alg", "kid", "typ"} (SPEC §3, §6.3). The payload must not be empty and
// the result must fit protocol.MaxMessageBytes (CodeTooLarge otherwise).
func (s *Signer) Sign(typ string, payload []byte) ([]byte, error) {
	return s.SignWithHeader(typ, nil, payload)
}

// reserved names the header members a caller may not set through
// SignWithHeader: the three the Signer sets, and the forbidden ones.
func reserved(name string) bool {
	switch name {
	case "alg", "kid", "typ":
		return true
	}
	for _, f := range forbiddenHeaders {
		if name == f {
			return true
		}
	}
	return false
}

// SignWithHeader is Sign with extra protected header members, such as a
// receipt's "crvs-sha256" (SPEC §8.3). extra may not set alg, kid, typ or a
// member the profile forbids (SPEC §6.3.1); its values must be JSON.
func (s *Signer) SignWithHeader(typ string, extra map[string]any, payload []byte) ([]byte, error) {
	if typ == "" || !printableASCII(typ) {
		return nil, fmt.Errorf("jws: typ %q is not printable ASCII", typ)
	}
	if len(payload) == 0 {
		return nil, fmt.Errorf("jws: empty payload")
	}
	h := jws.NewHeaders()
	for name, v := range extra {
		if reserved(name) {
			return nil, fmt.Errorf("jws: header member %q cannot be set by the caller", name)
		}
		if err := h.Set(name, v); err != nil {
			return nil, fmt.Errorf("jws: header %q: %w", name, err)
		}
	}
	if err := h.Set(jws.KeyIDKey, s.key.Kid); err != nil {
		return nil, fmt.Errorf("jws: header kid: %w", err)
	}
	if err := h.Set(jws.TypeKey, typ); err != nil {
		return nil, fmt.Errorf("jws: header typ: %w", err)
	}
	out, err := jws.Sign(payload, jws.WithKey(s.alg, s.priv, jws.WithProtectedHeaders(h)))
	if err != nil {
		return nil, fmt.Errorf("jws: sign: %w", err)
	}
	if s.key.Alg == AlgES256 {
		out = lowSCompact(out)
	}
	if len(out) > protocol.MaxMessageBytes {
		return nil, protocol.Errorf(protocol.CodeTooLarge, "signed message of %d bytes exceeds the limit of %d", len(out), protocol.MaxMessageBytes)
	}
	return out, nil
}

// MarshalPrivateJWK returns the private JWK of s (SPEC §2 members plus
// "d"). It fails for a Signer whose key is not in memory (an HSM key).
// The result is a secret: write it with mode 0600.
func MarshalPrivateJWK(s *Signer) ([]byte, error) {
	switch s.priv.(type) {
	case *ecdsa.PrivateKey, ed25519.PrivateKey:
	default:
		return nil, fmt.Errorf("jws: private key of type %T cannot be exported", s.priv)
	}
	return marshalJWK(s.priv, s.key)
}

// ParsePrivateJWK parses a private JWK written by MarshalPrivateJWK (or any
// JWK of the profile with "d"), checking as ParsePublicJWK does and also
// that "d" belongs to the public key. Errors wrap ErrInvalidJWK.
func ParsePrivateJWK(data []byte) (*Signer, error) {
	k, priv, err := parseJWK(data, true)
	if err != nil {
		return nil, err
	}
	s, err := NewSigner(k.Member, priv)
	if err != nil {
		return nil, err
	}
	if s.key.Kid != k.Kid {
		return nil, jwkErrorf("kid %q does not match the key", k.Kid)
	}
	return s, nil
}

// p256HalfN is ⌊n/2⌋ of P-256's group order.
var p256HalfN = new(big.Int).Rsh(elliptic.P256().Params().N, 1)

// LowS returns an ES256 signature (R‖S, 64 bytes) in its low-S form: S
// replaced by n−S when S > n/2. Both forms verify (ECDSA signatures are
// malleable, and RFC 7518 does not pick one); the Signer writes low-S
// only, so that the high-S twin is a deliberate test case (SPEC
// Appendix A, es256-malleated-signature) that a receiver must accept, not
// a coin toss. Other lengths are returned unchanged.
func LowS(sig []byte) []byte {
	if len(sig) != 64 {
		return sig
	}
	s := new(big.Int).SetBytes(sig[32:])
	if s.Cmp(p256HalfN) <= 0 {
		return sig
	}
	out := append([]byte(nil), sig...)
	s.Sub(elliptic.P256().Params().N, s).FillBytes(out[32:])
	return out
}

// lowSCompact rewrites the signature of a compact ES256 JWS in low-S form.
func lowSCompact(tok []byte) []byte {
	i := bytes.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(string(tok[i+1:]))
	if i < 0 || err != nil {
		return tok
	}
	return append(tok[:i+1:i+1], base64.RawURLEncoding.EncodeToString(LowS(sig))...)
}
