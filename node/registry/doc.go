// Package registry is the pure core of the network's trust root
// (protocol/SPEC.md §10; the normative rules are in this directory's
// DESIGN.md): the genesis document and its endorsements, the registry
// State, the signed commands and the deterministic Apply that is the
// FSM's only authority, the hash chain, canonical checksummed snapshots,
// the TrustView the message verifier reads, and the offline Replay of a
// trust bundle.
//
// Guarantees:
//   - Apply is a pure function of a State and an Entry: no clock, no I/O,
//     no randomness, no map-order dependence. Every replica and every
//     offline replay of the same genesis and entries reaches the same
//     State.Hash, ChainHead and snapshot bytes.
//   - Every signature is verified with protocol/jws against keys of the
//     State itself (or, for proof of possession, keys the command
//     introduces); nothing outside the genesis pin is trusted.
//   - A rejected command changes no content (State.Hash is unchanged); it
//     is recorded with a stable Reason in the journal and the chain, and
//     its id, once authenticated, is never accepted again.
//
// Concurrency: State, Genesis and TrustView are immutable once built and
// safe for concurrent use; TrustView.LookupKey neither locks nor allocates.
// Publishing a new TrustView after each apply (atomic.Pointer) is the
// caller's job, as are Raft, bbolt and the network: that shell lives beside
// this core and decides nothing about trust itself.
//
// The shell is Open and *Registry (DESIGN.md §11–§15, API in §17.1): the
// hashicorp/raft node, the bbolt state file, forwarding, staleness and
// membership. A *Registry is safe for concurrent use; its View never blocks
// on Raft.
package registry
