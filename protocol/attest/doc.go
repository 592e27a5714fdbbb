// Package attest is the pure core of status attestations (protocol/SPEC.md
// §11): Build writes the status.attestation message a member node signs in
// answer to a status.query (§11.2), and Verify checks a signed attestation
// offline against a trust view replayed from a pinned genesis (§11.3) and
// returns a Verdict a field officer can read.
//
// It does no I/O and reads no clock: the caller passes the time of
// checking. Verify never panics on any input and bounds the token's size
// before parsing it (SPEC §5).
//
// The order of Verify's steps and their codes are SPEC §11.3's. Steps that
// every message shares (§6.1–§6.6) keep their protocol codes (KEY_UNKNOWN,
// JWS_SIGNATURE_INVALID, SCHEMA_VALIDATION_FAILED, KEY_NOT_VALID, …); the
// attestation's own are the ATTESTATION_* codes of this package, which a
// verifier reports and a node never sends (SPEC §7).
//
// An expired attestation is not a false one: Verify checks validUntil last,
// so the outcome OutcomeExpired means "genuine, but no longer current".
//
// Imports: protocol, protocol/jws, protocol/trust and schemas.
package attest
