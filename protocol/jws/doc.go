// Package jws signs and verifies the network's messages under the JWS
// profile of protocol/SPEC.md §2, §3, §5 and §6.1–§6.4: compact
// serialization only, exactly one signature, a protected header with alg
// (ES256, or EdDSA with Ed25519), kid and typ. It is the only package of
// crvsx that imports github.com/lestrrat-go/jwx.
//
// # Why the verifier checks in front of jwx
//
// jwx is lenient where RFC 7515 and RFC 8725 are not: it does not tie the
// header's alg to the key, ignores crit unless asked, keeps the last of
// duplicate header names, accepts padded base64 and the JSON
// serializations. Verify therefore does its own checks, cheap ones first,
// and reaches cryptography only for a token whose every other property is
// acceptable. Each refusal is a *protocol.Error with its own stable code;
// jwx_lenient_test.go shows what jwx alone would have accepted.
//
// # Verification order
//
// SPEC §6 "Verification of an inbound message", as Verify implements it;
// the first failing step gives the code:
//
//  1. Size (§6.1): the token is over Options.MaxBytes (at most
//     protocol.MaxMessageBytes) → MESSAGE_TOO_LARGE, before any parsing.
//  2. Structure (§6.2.1–2): a JSON serialization (first non-blank byte
//     '{') or not exactly three '.'-separated segments → JWS_NOT_COMPACT;
//     empty payload segment → JWS_EMPTY_PAYLOAD; empty signature segment →
//     JWS_EMPTY_SIGNATURE. (An empty header segment fails step 4.)
//  3. Encoding (§6.2.3): each segment, header first, is canonical base64url
//     — alphabet A-Z a-z 0-9 - _ only (no '=', '+', '/', space, CR, LF),
//     length not 1 mod 4, unused bits zero; equivalently, decoding and
//     re-encoding gives the same text → JWS_BAD_BASE64URL.
//  4. Header (§6.2.4): decoded at most protocol.MaxHeaderBytes, one I-JSON
//     object (protocol.CheckJSON, depth protocol.MaxJSONDepth) →
//     JWS_HEADER_MALFORMED; a member name twice, compared after unescaping
//     → JWS_HEADER_DUPLICATE.
//  5. Forbidden members (§6.3.1): crit, b64, jku, jwk, x5u, x5c, x5t,
//     x5t#S256, zip → JWS_HEADER_FORBIDDEN, the detail naming the member.
//  6. alg (§6.3.2): absent → JWS_ALG_MISSING; a string equal to "none" in
//     any case → JWS_ALG_NONE; not a string, or not exactly "ES256" or
//     "EdDSA" (case-sensitive) → JWS_ALG_NOT_ALLOWED.
//  7. kid (§6.3.3): absent from the protected header → JWS_KID_MISSING;
//     not a string, empty, over protocol.MaxKidLength bytes, or a byte
//     outside printable ASCII 0x20–0x7E → JWS_KID_INVALID.
//  8. typ (§6.3.4): absent, not a string, or not Options.Typ (with
//     Options.AnyTyp: none of protocol.Typs) → JWS_TYP_MISMATCH. The
//     comparison is the one RFC 7515 §4.1.9 gives:
//     case-insensitive, and a value without '/' stands for "application/"
//     + value, so "CRVS-EVENT+JWS" and "application/crvs-event+jws" match
//     "crvs-event+jws". Other members are ignored (§6.3.5).
//  9. Key (§6.4.1–2): kid not in the trust view → KEY_UNKNOWN ("key not
//     available", never reported as a bad signature); the key's use is
//     not "sig" → KEY_USE_INVALID; the header's alg differs from the alg
//     registered for the key → JWS_ALG_KEY_MISMATCH (RFC 8725 §3.1: from
//     here on the algorithm is the key's).
//  10. Signature length (§6.4.3): not 64 bytes (ES256 is R‖S, RFC 7518
//     §3.4, so a DER signature is refused; Ed25519 is 64) →
//     JWS_SIGNATURE_LENGTH.
//  11. Cryptography (§6.4.4): the signature does not verify over the
//     header and payload segments as received → JWS_SIGNATURE_INVALID
//     ("bad signature"; any tampering of any segment ends here).
//
// Verify does not look inside the payload: its I-JSON hygiene (§6.5),
// schema, sender binding and time window (§6.6–§6.7) are the caller's next
// steps, with Verified.Payload and Verified.Key.
//
// An error that is not a *protocol.Error (protocol.CodeOf gives "") is not
// the sender's fault: Options with neither or both of Typ and AnyTyp, or
// a trust-view key whose material does not fit its alg. It maps to
// INTERNAL.
//
// ECDSA signatures are malleable: (R, n−S) verifies as well as (R, S), and
// RFC 7518 does not ask for a canonical S, so both are accepted. The
// signature bytes are therefore not an identifier of a message; the
// payload's (sender.country, messageId) is (SPEC §8.2).
//
// # Keys and JWKs
//
// The conventions of SPEC §2, which ParsePublicJWK, ParsePrivateJWK,
// ParseJWKSet, NewKeySet and MarshalPublicJWK enforce:
//
//   - kty/crv "EC"/"P-256" with alg "ES256", or "OKP"/"Ed25519" with alg
//     "EdDSA"; nothing else. alg is REQUIRED: it is the only algorithm the
//     key may be used with.
//   - use "sig", REQUIRED.
//   - member, a private JWK parameter (RFC 7517 §4), REQUIRED: the ISO
//     3166-1 alpha-2 code of the owning member ("TJ"), or for a
//     requester's key (SPEC §11.1) the requester id ("INT-UNHCR"). Which
//     keys verify what is the trust view's decision: the registry keeps
//     requester keys apart from member keys.
//   - kid = member + ":" + the first 16 characters of the base64url
//     RFC 7638 SHA-256 thumbprint of the public key, e.g.
//     "TJ:3f7ZqK1x0mB9aC2d"; a JWK whose kid is not the one derived from
//     its key is refused. 96 bits suffice: the kid names a key, the
//     registry binds it to the key, and a collision could only be made
//     by a member among its own keys, which the registry refuses as a
//     duplicate kid.
//   - Parsing refuses: input over MaxJWKBytes (a set: MaxJWKSetBytes or
//     MaxJWKSetKeys), anything but one I-JSON object, a private key ("d")
//     where a public one is expected, a private key whose "d" does not
//     match its public part, non-canonical base64url or wrong-length
//     coordinates, points off the curve, x5u/x5c/x5t/x5t#S256/jku/key_ops
//     and the members of other key types, and a kid twice in a set.
//     Unknown other members are ignored (RFC 7517 §4, §5). Errors wrap
//     ErrInvalidJWK.
//
// # Concurrency
//
// Verify is a pure function of its arguments: no I/O, no clock, no global
// state; it is safe for concurrent use given a KeyLookup that is. Signer
// and KeySet are immutable and safe for concurrent use.
//
// Imports: protocol and lestrrat-go/jwx (this package is its only
// importer).
package jws
