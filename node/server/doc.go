// Package server is the HTTP shell of a member node: the handlers of its
// listeners (the peer API, whose mTLS peer is resolved by pin on every
// request, the local API for the national system with bearer tokens, the
// admin API, and the health listener with /livez, /readyz and /metrics)
// and the middleware every request goes through (panic recovery, request
// ids, access logs, metrics). Problem documents are written by
// node/internal/httpio.WriteProblem, the one writer (protocol/SPEC.md §7);
// TLS configurations come from node/pintls.
//
// Handlers here only translate HTTP to calls on small interfaces declared
// next to them (the consumer owns the interface); the exchange and the
// registry implement them. It is the only importer of
// github.com/prometheus/client_golang. Its types are safe for concurrent use
// once built.
//
// Imports: node/exchange, node/query and node/store (the types its handlers translate),
// node/internal/httpio, node/pintls, protocol, prometheus/client_golang
// (this package is its only importer) and x/time (ClientLimiter, the
// console's login and verify rate limits).
package server
