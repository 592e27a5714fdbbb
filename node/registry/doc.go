// Package registry is the Raft shell around the trust root's pure core
// (protocol/trust; the format is protocol/REGISTRY.md, the shell's design
// this directory's DESIGN.md): the hashicorp/raft node and its FSM adapter,
// the bbolt state file, the pinned-mTLS Raft transport, join, promotion,
// write forwarding, staleness and membership, and the registry's HTTP API
// with its client.
//
// The shell feeds log entries to trust.Apply and persists what comes out
// (state and applied index in one bbolt transaction); it never decides
// anything about trust itself.
//
// Open returns a *Registry (DESIGN.md §11–§15, its Go API in §17.1). A
// *Registry is safe for concurrent use; its View never blocks on Raft.
//
// Imports: protocol, protocol/jws, protocol/trust, node/internal/httpio,
// node/pintls, hashicorp/raft, hashicorp/raft-boltdb, bbolt (the state
// file) and hashicorp/go-hclog (raft's logger, adapted to slog here and
// nowhere else).
package registry
