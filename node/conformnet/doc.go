// Package conformnet is the suite's side of the conformance network
// (conformance/DESIGN.md §2): Init writes a suite directory — the suite's
// synthetic members A, B, R and C, a genesis that includes the candidate,
// the candidate's keys and a complete node configuration for it — and
// Start runs the suite's members A and B (the registry's voters) and R as
// real crvsx nodes in this process, implementing conformance.Network for
// the plans: registry commands, the trust bundle, cutting the candidate off
// its leader, and the answers of A's peer endpoint to what the candidate
// delivers.
//
// The conformance package never imports node; this package is where the
// suite borrows a network of real nodes to play the other members.
//
// Imports: conformance, node, node/internal/scaffold, node/pintls,
// node/registry, protocol,
// protocol/jws and protocol/trust.
package conformnet
