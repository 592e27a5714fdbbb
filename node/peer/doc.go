// Package peer is a member node's client of other members' nodes: it
// submits a signed message to a peer's POST /v1/messages (protocol/SPEC.md
// §8.1) and returns the body of its answer, the receipt, for the exchange to
// check (SPEC §8.3). It is the only package of crvsx that imports
// github.com/go-resty/resty.
//
// # Transport identity
//
// The connection is mutual TLS (1.3) without any certificate authority:
// this node presents its node certificate, and the peer's certificate is
// accepted only if the SHA-256 of its SubjectPublicKeyInfo is the pin the
// registry holds for that node (Config.PinFor, read at every handshake). A
// key with another pin fails the handshake, before a byte of the message is
// written (pintls.ErrPinMismatch). Each node gets its own keep-alive connection
// pool; when its pin or URL changes in the registry, the pool is replaced,
// so a connection made under an old pin is never reused.
//
// # Answers
//
// A 200 with Content-Type application/jose is the receipt. A problem
// document (RFC 9457) or any other status is a *protocol.ProblemError whose
// Retryable method (SPEC §8.1) tells the delivery worker whether to try
// again: 5xx, 408, 429, and the
// problems KEY_UNKNOWN, UNAVAILABLE, NODE_PIN_MISMATCH and
// MESSAGE_FROM_FUTURE (which time or registry replication can cure) are
// retryable; any other 4xx problem document is the peer's verdict on the
// message and is permanent. A 4xx without a problem document did not come
// from a node's exchange (a proxy, a misrouted URL) and is retryable.
// Network errors and timeouts are retryable errors that are not
// *protocol.ProblemError. Resty's own retries are off: the delivery worker
// (node/exchange) owns the retry schedule.
//
// Answers are bounded (Config.MaxResponseBytes): a Content-Length over the
// limit is refused before the body is read, and a body that grows past it
// is refused after reading at most one byte more than the limit
// (ErrResponseTooLarge).
//
// A Client is safe for concurrent use.
//
// Imports: node/pintls, protocol and go-resty/resty (this package is its
// only importer).
package peer
