package jws

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/ecrn/crvsx/protocol"
)

// Algorithms of the profile (SPEC §6.3.2). ES256 is required to implement;
// EdDSA means Ed25519 only.
const (
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

// UseSig is the only JWK "use" a key of the profile has (SPEC §2).
const UseSig = "sig"

// Limits on JWK input (keys files, trust sets, registry commands). A JWK of
// the profile is under 300 bytes; a set of a few hundred keys is under 100 KB.
const (
	MaxJWKBytes    = 8 << 10
	MaxJWKSetBytes = 1 << 20
	MaxJWKSetKeys  = 4096
)

// kidThumbprintChars is how much of the base64url RFC 7638 thumbprint goes
// into a kid (SPEC §2): 16 characters, 96 bits.
const kidThumbprintChars = 16

// ErrInvalidJWK is the family of every refusal of a JWK or JWK Set by
// ParsePublicJWK, ParsePrivateJWK, ParseJWKSet and NewKeySet. The caller
// does not use the key material; the detail says which rule failed.
var ErrInvalidJWK = errors.New("invalid JWK")

func jwkErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidJWK}, args...)...)
}

// Key is a public signing key of a member, as the trust view knows it, or
// of a requester (SPEC §11.1; Member is then the requester id).
// Public is an *ecdsa.PublicKey on P-256 when Alg is ES256, or an
// ed25519.PublicKey when Alg is EdDSA.
type Key struct {
	Kid    string
	Member string
	Alg    string
	Use    string
	Public crypto.PublicKey
}

// KeyLookup is the trust view Verify consults: the registry replica, or a
// static KeySet for offline verification. LookupKey must not block and must
// be safe for concurrent use.
type KeyLookup interface {
	LookupKey(kid string) (Key, bool)
}

// checkKey checks that k is a usable key of the profile: a member code (or
// a requester id, SPEC §11.1), a known alg with key material of the matching type, use "sig" and the kid
// derived from the key (SPEC §2).
func checkKey(k Key) error {
	if !validMember(k.Member) {
		return jwkErrorf("member %q is not an ISO 3166-1 alpha-2 code nor a requester id", k.Member)
	}
	if k.Use != UseSig {
		return jwkErrorf("use %q: must be %q", k.Use, UseSig)
	}
	if err := checkPublic(k.Alg, k.Public); err != nil {
		return jwkErrorf("%w", err)
	}
	want, err := kidFor(k.Member, k.Public)
	if err != nil {
		return err
	}
	if k.Kid != want {
		return jwkErrorf("kid %q: must be %q (member and RFC 7638 thumbprint)", k.Kid, want)
	}
	return nil
}

// checkPublic checks that pub is key material of the type alg needs. It
// never panics, whatever pub holds.
func checkPublic(alg string, pub crypto.PublicKey) error {
	switch alg {
	case AlgES256:
		p, ok := pub.(*ecdsa.PublicKey)
		if !ok || p == nil {
			return fmt.Errorf("alg ES256 needs an EC P-256 key, not %T", pub)
		}
		if p.Curve != elliptic.P256() || p.X == nil || p.Y == nil {
			return errors.New("alg ES256 needs an EC P-256 key")
		}
		if _, err := p.ECDH(); err != nil { // rejects points off the curve
			return fmt.Errorf("invalid P-256 point: %w", err)
		}
	case AlgEdDSA:
		p, ok := pub.(ed25519.PublicKey)
		if !ok || len(p) != ed25519.PublicKeySize {
			return fmt.Errorf("alg EdDSA needs an Ed25519 key, not %T", pub)
		}
	default:
		return fmt.Errorf("alg %q is not ES256 or EdDSA", alg)
	}
	return nil
}

func algForPublic(pub crypto.PublicKey) (string, error) {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if p != nil && p.Curve == elliptic.P256() {
			return AlgES256, nil
		}
	case ed25519.PublicKey:
		return AlgEdDSA, nil
	}
	return "", fmt.Errorf("key type %T is not EC P-256 or Ed25519", pub)
}

// validMember reports whether m may be a key's "member": a member's ISO
// 3166-1 alpha-2 code, or a requester id (SPEC §11.1: a requester's keys
// carry its id, such as INT-UNHCR). The two forms never overlap (a
// requester id has a "-"), and which keys verify what is the trust view's
// decision, not the JWK's: the registry keeps requester keys apart from
// member keys (REGISTRY.md §2.1).
func validMember(m string) bool {
	return protocol.IsMemberID(m) || protocol.IsRequesterID(m)
}

// kidFor derives the kid of a public key (SPEC §2): the member code, ":",
// and the first 16 characters of the base64url RFC 7638 SHA-256 thumbprint.
func kidFor(member string, pub crypto.PublicKey) (string, error) {
	jk, err := jwk.Import(pub)
	if err != nil {
		return "", jwkErrorf("import key: %w", err)
	}
	tp, err := jk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", jwkErrorf("thumbprint: %w", err)
	}
	return member + ":" + base64.RawURLEncoding.EncodeToString(tp)[:kidThumbprintChars], nil
}

// jwkFields is the profile's view of a JWK, read after the I-JSON check so
// that names are unique and compared exactly (encoding/json would match
// struct fields case-insensitively, so the members are read from a map).
type jwkFields struct {
	kty, crv, x, y, d, kid, alg, use, member string
	hasD                                     bool
}

// Members a JWK of the profile must not carry: certificate chains and key
// URLs (the registry is the only source of keys), key_ops (the profile uses
// "use"), and the private members of other key types.
var jwkForbidden = []string{"x5u", "x5c", "x5t", "x5t#S256", "jku", "key_ops", "p", "q", "dp", "dq", "qi", "oth", "k", "n", "e"}

func readJWK(data []byte, maxBytes int) (jwkFields, error) {
	var f jwkFields
	if len(data) > maxBytes {
		return f, jwkErrorf("%d bytes, more than %d", len(data), maxBytes)
	}
	if err := protocol.CheckJSON(data, 4); err != nil {
		return f, jwkErrorf("not one I-JSON object: %s", ijsonDetail(err))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return f, jwkErrorf("%w", err)
	}
	for _, name := range jwkForbidden {
		if _, ok := m[name]; ok {
			return f, jwkErrorf("member %q is not allowed", name)
		}
	}
	str := func(name string, required bool) (string, error) {
		raw, ok := m[name]
		if !ok {
			if required {
				return "", jwkErrorf("member %q is missing", name)
			}
			return "", nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", jwkErrorf("member %q is not a string", name)
		}
		if required && s == "" {
			return "", jwkErrorf("member %q is empty", name)
		}
		return s, nil
	}
	var err error
	for _, p := range []struct {
		dst  *string
		name string
	}{{&f.kty, "kty"}, {&f.crv, "crv"}, {&f.x, "x"}, {&f.kid, "kid"}, {&f.alg, "alg"}, {&f.use, "use"}, {&f.member, "member"}} {
		if *p.dst, err = str(p.name, true); err != nil {
			return f, err
		}
	}
	if f.y, err = str("y", false); err != nil {
		return f, err
	}
	_, f.hasD = m["d"]
	if f.d, err = str("d", false); err != nil {
		return f, err
	}
	return f, nil
}

// ijsonDetail describes a protocol.CheckJSON finding without wrapping it:
// its PAYLOAD_* code is about message payloads and must not become the
// code of a JWK refusal (protocol.CodeOf would find it in the chain).
func ijsonDetail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		if pe.Pointer != "" {
			return pe.Detail + " (at " + pe.Pointer + ")"
		}
		return pe.Detail
	}
	return err.Error()
}

// decodeCoord decodes a canonical base64url member of exactly n bytes.
func decodeCoord(name, s string, n int) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != n || base64.RawURLEncoding.EncodeToString(b) != s {
		return nil, jwkErrorf("member %q is not the canonical base64url of %d bytes", name, n)
	}
	return b, nil
}

// parseJWK parses one JWK of the profile. The structure is checked here;
// jwx converts the JWK to key material, which is then checked again with
// the standard library (point on the curve, private part matching the
// public part) before it is used.
func parseJWK(data []byte, private bool) (Key, crypto.Signer, error) {
	f, err := readJWK(data, MaxJWKBytes)
	if err != nil {
		return Key{}, nil, err
	}
	if f.hasD != private {
		if f.hasD {
			return Key{}, nil, jwkErrorf("a private key (member \"d\") where a public key is expected")
		}
		return Key{}, nil, jwkErrorf("member \"d\" is missing from a private key")
	}
	if !validMember(f.member) {
		return Key{}, nil, jwkErrorf("member %q is not an ISO 3166-1 alpha-2 code nor a requester id", f.member)
	}
	if f.use != UseSig {
		return Key{}, nil, jwkErrorf("use %q: must be %q", f.use, UseSig)
	}
	switch {
	case f.kty == "EC" && f.crv == "P-256" && f.alg == AlgES256:
		if _, err := decodeCoord("x", f.x, 32); err != nil {
			return Key{}, nil, err
		}
		if _, err := decodeCoord("y", f.y, 32); err != nil {
			return Key{}, nil, err
		}
	case f.kty == "OKP" && f.crv == "Ed25519" && f.alg == AlgEdDSA:
		if f.y != "" {
			return Key{}, nil, jwkErrorf("member \"y\" in an OKP key")
		}
		if _, err := decodeCoord("x", f.x, 32); err != nil {
			return Key{}, nil, err
		}
	default:
		return Key{}, nil, jwkErrorf("kty %q, crv %q, alg %q: must be EC/P-256/ES256 or OKP/Ed25519/EdDSA", f.kty, f.crv, f.alg)
	}
	if private {
		if _, err := decodeCoord("d", f.d, 32); err != nil {
			return Key{}, nil, err
		}
	}

	jk, err := jwk.ParseKey(data)
	if err != nil {
		return Key{}, nil, jwkErrorf("%w", err)
	}
	if err := jk.Validate(); err != nil {
		return Key{}, nil, jwkErrorf("%w", err)
	}
	var raw any
	if err := jwk.Export(jk, &raw); err != nil {
		return Key{}, nil, jwkErrorf("%w", err)
	}
	var pub crypto.PublicKey
	var signer crypto.Signer
	switch r := raw.(type) {
	case *ecdsa.PublicKey:
		pub = r
	case ed25519.PublicKey:
		pub = r
	case *ecdsa.PrivateKey:
		// Recompute the public key from d: jwx does not check that d
		// and (x, y) belong together.
		d, err := r.Bytes()
		if err != nil {
			return Key{}, nil, jwkErrorf("%w", err)
		}
		fresh, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
		if err != nil {
			return Key{}, nil, jwkErrorf("%w", err)
		}
		if !fresh.PublicKey.Equal(&r.PublicKey) {
			return Key{}, nil, jwkErrorf("\"d\" does not match the public key")
		}
		pub, signer = &fresh.PublicKey, fresh
	case ed25519.PrivateKey:
		if len(r) != ed25519.PrivateKeySize {
			return Key{}, nil, jwkErrorf("invalid Ed25519 private key")
		}
		fresh := ed25519.NewKeyFromSeed(r.Seed())
		if !bytes.Equal(fresh[32:], r[32:]) {
			return Key{}, nil, jwkErrorf("\"d\" does not match the public key")
		}
		pub, signer = fresh.Public(), fresh
	default:
		return Key{}, nil, jwkErrorf("unexpected key type %T", raw)
	}
	if (signer != nil) != private {
		return Key{}, nil, jwkErrorf("key type %T where a %s key is expected", raw, map[bool]string{true: "private", false: "public"}[private])
	}
	k := Key{Kid: f.kid, Member: f.member, Alg: f.alg, Use: f.use, Public: pub}
	if err := checkKey(k); err != nil {
		return Key{}, nil, err
	}
	return k, signer, nil
}

// ParsePublicJWK parses one public JWK of the profile (SPEC §2): kty/crv
// EC/P-256 with alg ES256 or OKP/Ed25519 with alg EdDSA, use "sig", a
// member code, and the kid derived from the key. It refuses input over
// MaxJWKBytes, anything that is not one I-JSON object, a private key,
// certificate chains, key URLs and key_ops. Unknown other members are
// ignored (RFC 7517 §4). Errors wrap ErrInvalidJWK.
func ParsePublicJWK(data []byte) (Key, error) {
	k, _, err := parseJWK(data, false)
	return k, err
}

// MarshalPublicJWK returns the public JWK of k (SPEC §2), after checking
// that k is a key of the profile.
func MarshalPublicJWK(k Key) ([]byte, error) {
	if err := checkKey(k); err != nil {
		return nil, err
	}
	return marshalJWK(k.Public, k)
}

func marshalJWK(raw any, k Key) ([]byte, error) {
	jk, err := jwk.Import(raw)
	if err != nil {
		return nil, fmt.Errorf("jws: import key: %w", err)
	}
	var alg jwa.SignatureAlgorithm
	switch k.Alg {
	case AlgES256:
		alg = jwa.ES256()
	default:
		alg = jwa.EdDSA()
	}
	for _, kv := range []struct {
		name  string
		value any
	}{{jwk.KeyIDKey, k.Kid}, {jwk.AlgorithmKey, alg}, {jwk.KeyUsageKey, k.Use}, {"member", k.Member}} {
		if err := jk.Set(kv.name, kv.value); err != nil {
			return nil, fmt.Errorf("jws: set %s: %w", kv.name, err)
		}
	}
	b, err := json.Marshal(jk)
	if err != nil {
		return nil, fmt.Errorf("jws: marshal JWK: %w", err)
	}
	return b, nil
}

// KeySet is a static trust view read from an RFC 7517 JWK Set, for offline
// verification and tests. It is immutable and safe for concurrent use.
type KeySet struct {
	keys map[string]Key
}

// NewKeySet builds a KeySet from keys of the profile, refusing an invalid
// key or a kid given twice.
func NewKeySet(keys ...Key) (*KeySet, error) {
	s := &KeySet{keys: make(map[string]Key, len(keys))}
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, err
		}
		if _, dup := s.keys[k.Kid]; dup {
			return nil, jwkErrorf("kid %q appears twice", k.Kid)
		}
		s.keys[k.Kid] = k
	}
	return s, nil
}

// ParseJWKSet parses a JWK Set used as a trust set (SPEC §2): at most
// MaxJWKSetBytes and MaxJWKSetKeys, one I-JSON object whose "keys" member
// is an array of public JWKs of the profile (see ParsePublicJWK), no kid
// twice. Other top-level members are ignored (RFC 7517 §5). Errors wrap
// ErrInvalidJWK.
func ParseJWKSet(data []byte) (*KeySet, error) {
	if len(data) > MaxJWKSetBytes {
		return nil, jwkErrorf("JWK Set of %d bytes, more than %d", len(data), MaxJWKSetBytes)
	}
	if err := protocol.CheckJSON(data, 5); err != nil {
		return nil, jwkErrorf("JWK Set is not one I-JSON object: %s", ijsonDetail(err))
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, jwkErrorf("JWK Set: %w", err)
	}
	raw, ok := top["keys"]
	if !ok {
		return nil, jwkErrorf("JWK Set has no \"keys\" member")
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil || list == nil {
		return nil, jwkErrorf("JWK Set \"keys\" is not an array")
	}
	if len(list) > MaxJWKSetKeys {
		return nil, jwkErrorf("JWK Set has %d keys, more than %d", len(list), MaxJWKSetKeys)
	}
	keys := make([]Key, 0, len(list))
	for i, item := range list {
		k, err := ParsePublicJWK(item)
		if err != nil {
			return nil, fmt.Errorf("keys[%d]: %w", i, err)
		}
		keys = append(keys, k)
	}
	return NewKeySet(keys...)
}

// MarshalJWKSet returns the JWK Set {"keys": [...]} of keys, sorted by kid.
func MarshalJWKSet(keys []Key) ([]byte, error) {
	sorted := append([]Key(nil), keys...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Kid < sorted[j].Kid })
	list := make([]json.RawMessage, 0, len(sorted))
	for i, k := range sorted {
		if i > 0 && sorted[i-1].Kid == k.Kid {
			return nil, jwkErrorf("kid %q appears twice", k.Kid)
		}
		b, err := MarshalPublicJWK(k)
		if err != nil {
			return nil, err
		}
		list = append(list, b)
	}
	return json.Marshal(struct {
		Keys []json.RawMessage `json:"keys"`
	}{list})
}

// LookupKey returns the key with this kid.
func (s *KeySet) LookupKey(kid string) (Key, bool) {
	if s == nil {
		return Key{}, false
	}
	k, ok := s.keys[kid]
	return k, ok
}

// Keys returns the keys of the set, sorted by kid.
func (s *KeySet) Keys() []Key {
	if s == nil {
		return nil
	}
	out := make([]Key, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kid < out[j].Kid })
	return out
}
