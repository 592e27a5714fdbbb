// Package exchange holds the network's message pipelines. This first part
// is the inbound verification pipeline of protocol/SPEC.md §6 as a pure
// function: bytes, a key view and a clock reading in, a verified message or
// a *protocol.Error with its stable code out — no network, no storage, no
// hidden clock. A node's inbound endpoint and `crvsx verify` both run it.
//
// A Verifier is immutable after construction and safe for concurrent use,
// provided its key view is.
package exchange
