// Package trust is the pure core of the network's trust root: the registry
// format crvsx-registry/1, specified normatively in protocol/REGISTRY.md
// (protocol/SPEC.md §10 points there). It holds the genesis document and
// its endorsements, the registry State, the signed commands and the
// deterministic Apply that is every replica's only authority, the hash
// chain, canonical checksummed snapshots, the View the message verifier
// reads, the join transcript, and the offline Replay of a trust bundle.
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
// Concurrency: State, Genesis and View are immutable once built and safe
// for concurrent use; View.LookupKey neither locks nor allocates.
// Publishing a new View after each apply is the caller's job.
//
// Imports: the standard library, protocol and protocol/jws only — no Raft,
// no bbolt, no network (cmd/archtest keeps it so). This is what an offline
// verifier, the conformance suite or another member's implementation needs;
// the Raft shell that replicates it is node/registry.
package trust
