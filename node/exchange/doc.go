// Package exchange holds the network's message pipelines (DESIGN.md in this
// directory; the wire contract is protocol/SPEC.md §§6–8):
//
//   - Verifier: the inbound verification of SPEC §6 as a pure function —
//     bytes, a key view and a clock reading in, a verified message or a
//     *protocol.Error with its stable code out. A node's inbound endpoint
//     and `crvsx verify` both run it.
//   - Receiver: one inbound message end to end — verify, bind to the mTLS
//     peer, idempotency on (sender, messageId) by payload, a signed receipt
//     stored in the same durable transaction as the record.
//   - BuildReceipt and CheckReceipt: both sides of SPEC §8.3.
//   - Route, Prepare and Submitter: the outbox — recipients by the routing
//     rules (never a refugee's country of citizenship), one validated,
//     signed message per recipient, stored durably before the answer.
//   - Deliverer: one worker per peer, in order, with backoff, a circuit
//     breaker and dead-letter; delivered only with a checked receipt.
//   - Pusher: the webhook push to the national system, HMAC-signed.
//
// Storage is node/store's and transport node/peer's and node/server's:
// this package talks to them through small interfaces. Verifier and the
// pure functions are safe for concurrent use; Receiver, Submitter,
// Deliverer and Pusher are too once built.
//
// Imports: node/store, node/internal/failpoint, protocol, protocol/jws,
// schemas and x/time (rate limits of refusal audits); never the registry,
// the network or HTTP.
package exchange
