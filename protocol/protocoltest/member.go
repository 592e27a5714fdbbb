package protocoltest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/ecrn/crvsx/protocol/jws"
)

// Member is a virtual member of the network: a signing key registered in
// its trust view, and the extra keys the bad-message vectors need. It is
// immutable and safe for concurrent use.
type Member struct {
	// Country is the member's ISO 3166-1 alpha-2 code.
	Country string
	// Alg is the algorithm of the member's signing key.
	Alg string
	// Signer is the member's registered signing key.
	Signer *jws.Signer

	main     keyPair // the Signer's key
	stranger keyPair // same member and alg, in no trust view
	mismatch keyPair // the other alg's key material, registered with Alg
	enc      keyPair // same alg, registered with use "enc"
}

type keyPair struct {
	priv crypto.Signer
	key  jws.Key
}

// NewMember returns a member with fresh random keys. alg is jws.AlgES256
// or jws.AlgEdDSA.
func NewMember(country, alg string) (*Member, error) {
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	return NewMemberFromSeed(country, alg, seed)
}

// MustNewMember is NewMember that panics on error, for tests.
func MustNewMember(country, alg string) *Member {
	m, err := NewMember(country, alg)
	if err != nil {
		panic(err)
	}
	return m
}

// NewMemberFromSeed returns a member whose keys are derived from seed, so
// that its keys, kids and minted vectors are the same on every run (the
// ES256 signatures of Mint are deterministic, RFC 6979). Never use a
// seeded member outside tests.
func NewMemberFromSeed(country, alg string, seed []byte) (*Member, error) {
	other := jws.AlgEdDSA
	if alg == jws.AlgEdDSA {
		other = jws.AlgES256
	}
	m := &Member{Country: country, Alg: alg}
	var err error
	if m.main, err = deriveKey(country, alg, seed, "main"); err != nil {
		return nil, err
	}
	if m.stranger, err = deriveKey(country, alg, seed, "stranger"); err != nil {
		return nil, err
	}
	if m.mismatch, err = deriveKey(country, other, seed, "mismatch"); err != nil {
		return nil, err
	}
	// The trust view says this key is for m.Alg, whatever its material:
	// only the check of the header's alg against the registered alg
	// (SPEC §6.4.2) stands between it and a valid signature.
	m.mismatch.key.Alg = alg
	if m.enc, err = deriveKey(country, alg, seed, "enc"); err != nil {
		return nil, err
	}
	m.enc.key.Use = "enc"
	if m.Signer, err = jws.NewSigner(country, m.main.priv); err != nil {
		return nil, err
	}
	return m, nil
}

// NewMemberFromSigner returns a member whose registered signing key is s
// (a key a real registry holds, as the conformance suite's members'): the
// vectors are minted with it, and the extra keys are fresh. The
// mismatched-alg key carries s's kid, so that a receiver with a real
// registry finds s's registered alg for it (JWS_ALG_KEY_MISMATCH); the
// enc-use key is in no registry (the registry refuses such keys), so
// KeyUseEnc does not apply to such a member.
func NewMemberFromSigner(s *jws.Signer) (*Member, error) {
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	alg := s.Alg()
	other := jws.AlgEdDSA
	if alg == jws.AlgEdDSA {
		other = jws.AlgES256
	}
	m := &Member{Country: s.Member(), Alg: alg, Signer: s, main: keyPair{priv: s.CryptoSigner(), key: s.Public()}}
	var err error
	if m.stranger, err = deriveKey(m.Country, alg, seed, "stranger"); err != nil {
		return nil, err
	}
	if m.mismatch, err = deriveKey(m.Country, other, seed, "mismatch"); err != nil {
		return nil, err
	}
	m.mismatch.key.Kid, m.mismatch.key.Alg = s.Kid(), alg
	if m.enc, err = deriveKey(m.Country, alg, seed, "enc"); err != nil {
		return nil, err
	}
	m.enc.key.Use = "enc"
	return m, nil
}

func deriveKey(country, alg string, seed []byte, label string) (keyPair, error) {
	var priv crypto.Signer
	for ctr := uint32(0); priv == nil; ctr++ {
		h := sha256.New()
		h.Write([]byte("crvsx protocoltest key\x00" + alg + "\x00" + label + "\x00"))
		h.Write(seed)
		_ = binary.Write(h, binary.BigEndian, ctr)
		d := h.Sum(nil)
		switch alg {
		case jws.AlgES256:
			if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d); err == nil {
				priv = k
			} // else d ≥ n (probability 2^-32): next counter
		case jws.AlgEdDSA:
			priv = ed25519.NewKeyFromSeed(d)
		default:
			return keyPair{}, fmt.Errorf("protocoltest: alg %q is not ES256 or EdDSA", alg)
		}
	}
	s, err := jws.NewSigner(country, priv)
	if err != nil {
		return keyPair{}, err
	}
	return keyPair{priv: priv, key: s.Public()}, nil
}

// Key returns the member's registered public signing key.
func (m *Member) Key() jws.Key { return m.main.key }

// Kid returns the kid of the member's signing key.
func (m *Member) Kid() string { return m.main.key.Kid }

// Sign signs payload with the member's key through jws.Signer, the path
// production code uses. It panics on error (an empty payload, an
// unprintable typ), as a test helper.
func (m *Member) Sign(typ string, payload []byte) []byte {
	b, err := m.Signer.Sign(typ, payload)
	if err != nil {
		panic(err)
	}
	return b
}

// KeySet returns a static trust set with the registered signing keys of m
// and others, as a JWK Set file would give it.
func (m *Member) KeySet(others ...*Member) *jws.KeySet {
	keys := []jws.Key{m.Key()}
	for _, o := range others {
		keys = append(keys, o.Key())
	}
	s, err := jws.NewKeySet(keys...)
	if err != nil {
		panic(err)
	}
	return s
}

// TrustView is a trust view that returns whatever was put in it, without
// the checks of jws.KeySet: it models a registry replica that holds keys
// the vectors need (a key registered with use "enc", a key whose
// registered alg does not fit its material), so that Verify's own checks
// are what catches them.
type TrustView map[string]jws.Key

// LookupKey implements jws.KeyLookup.
func (v TrustView) LookupKey(kid string) (jws.Key, bool) {
	k, ok := v[kid]
	return k, ok
}

// TrustView returns the trust view every vector of Vectors expects: the
// signing keys of m and others plus each one's enc-use key and
// mismatched-alg key. The stranger keys (KidUnknown) are never in it.
func (m *Member) TrustView(others ...*Member) TrustView {
	v := TrustView{}
	for _, x := range append([]*Member{m}, others...) {
		for _, kp := range []keyPair{x.main, x.mismatch, x.enc} {
			v[kp.key.Kid] = kp.key
		}
	}
	return v
}

// signRaw signs input with priv under alg, deterministically: RFC 6979
// for ECDSA (returned as R‖S, or DER when der is set), Ed25519 as is.
func signRaw(priv crypto.Signer, alg string, input []byte, der bool) []byte {
	switch alg {
	case jws.AlgES256:
		d := sha256.Sum256(input)
		sig, err := priv.Sign(nil, d[:], crypto.SHA256) // nil rand: RFC 6979
		if err != nil {
			panic(err)
		}
		if der {
			return sig
		}
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(sig, &rs); err != nil {
			panic(err)
		}
		out := make([]byte, 64)
		rs.R.FillBytes(out[:32])
		rs.S.FillBytes(out[32:])
		return jws.LowS(out) // as the Signer writes: malleate then gives the high-S twin

	case jws.AlgEdDSA:
		return ed25519.Sign(priv.(ed25519.PrivateKey), input)
	}
	panic("protocoltest: unknown alg " + alg)
}

// malleate returns the other valid ES256 signature of the same message,
// (R, n−S): the high-S twin of signRaw's low-S signature.
func malleate(sig []byte) []byte {
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(n, s)
	out := append([]byte(nil), sig...)
	s.FillBytes(out[32:])
	return out
}
