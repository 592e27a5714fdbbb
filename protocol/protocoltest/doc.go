// Package protocoltest is a virtual member of the network for tests and
// for the conformance suite: it holds keys, signs valid messages through
// protocol/jws like production code does, and mints bad messages on
// purpose, one per refusal of protocol/SPEC.md §6.1–§6.4 (Appendix A).
//
// Vectors lists every kind of message with the code a verifier must
// answer; Member.Mint makes it. Each bad message passes every check before
// the one it is about — a real signature by a registered key, a correct
// header, canonical encoding — so it fails for its reason alone; the
// tests of protocol/jws assert exactly that. Member.TrustView is the trust
// view the vectors expect (it also holds a key registered with use "enc"
// and one whose registered alg does not fit its material, which a
// checked jws.KeySet would refuse to hold).
//
// NewMemberFromSeed makes the keys, and with them every minted vector,
// reproducible (RFC 6979 ECDSA), so vectors can be committed as data.
// BirthMessage is a realistic event.live-birth payload for tests and
// benchmarks.
//
// It does not import the testing package. Members are immutable and safe
// for concurrent use. Nothing here may be used with real keys.
//
// Imports: protocol and protocol/jws.
package protocoltest
