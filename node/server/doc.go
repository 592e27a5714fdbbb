// Package server is the HTTP shell of a member node: listeners and their TLS
// (the peer API over mutual TLS with node keys pinned in the registry, the
// local API for the national system with bearer tokens, the admin API, and
// the health listener with /livez, /readyz and /metrics), the middleware
// every request goes through (panic recovery, request ids, access logs,
// metrics), and the one place where an error becomes an RFC 9457 problem
// document (protocol/SPEC.md §7).
//
// Handlers here only translate HTTP to calls on small interfaces declared
// next to them (the consumer owns the interface); the exchange and the
// registry implement them. It is the only importer of
// github.com/prometheus/client_golang. Its types are safe for concurrent use
// once built.
package server
