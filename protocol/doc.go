// Package protocol is the wire contract of the crvsx network: message kinds
// and their JWS "typ" values, the envelope of every message, the stable
// problem codes and their RFC 9457 problem documents, the I-JSON hygiene
// checks on payloads, and the protocol's limits.
//
// It imports only the standard library, so that every other package (and
// every other implementation) can depend on it. protocol/SPEC.md is the
// normative text; code here quotes the section it implements.
//
// All types are plain values and safe for concurrent use once built.
//
// Imports: the standard library only.
package protocol
