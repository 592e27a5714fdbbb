// Package store is the member node's persistent state in one bbolt file:
// the inbox of accepted inbound messages with the receipts answered for
// them, the national system's read cursors, the outbox of signed messages
// queued per peer with their delivery status and receipts, and an audit
// chain — a hash-chained log of every accepted and refused message and
// every delivery outcome. It implements the storage side of
// protocol/SPEC.md §8: a durable write before the answer (§8.1), and
// idempotency on (sender.country, messageId) comparing payload digests,
// returning the original receipt byte for byte (§8.2).
//
// Guarantees (DESIGN.md is normative):
//
//   - When a write method returns nil, its effect is committed and
//     fdatasynced (unless Options.NoSync): a SIGKILL or a power cut after
//     that loses nothing. Every method's change and its audit entry are one
//     transaction: a crash at any moment leaves whole records only.
//   - Accept stores a (sender, messageId) once; concurrent identical calls
//     give one record and all return its receipt.
//   - NextDue returns a peer's deliveries in Enqueue order; a later one never
//     overtakes an earlier pending one; a dead one is never returned.
//   - Reads see only durable state.
//   - A failed commit poisons the Store (ErrUnavailable) until it is
//     reopened.
//   - A write whose ctx ends before it returns may or may not commit: the
//     caller answers 5xx and the sender's retry is idempotent.
//
// Concurrency: a *Store is safe for concurrent use. Reads run in parallel
// in read transactions; writes go to one committer goroutine that groups
// concurrent operations into one transaction and one fsync (group commit).
// The returned values are copies the caller owns.
//
// Errors wrap one of ErrNotFound, ErrConflict, ErrInvalid, ErrUnavailable,
// ErrCorrupt (or none: an internal failure).
//
// Imports: protocol and bbolt (shared with node/registry's state file).
package store
