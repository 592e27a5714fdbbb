// Package pintls is the one home of the node's TLS (like rqlite's
// internal/rtls): every TLS listener and client of a crvsx node is built
// here, and every check of a peer's key is a pin check done here.
//
// There is no certificate authority in the network (protocol/SPEC.md §8.1,
// node/registry DESIGN.md §13). A node's TLS key is pinned in the registry
// by the SHA-256 of its DER SubjectPublicKeyInfo (protocol.SPKIPin); the
// certificate around it is self-signed, carries only the key, and may be
// re-issued freely. TLS 1.3's CertificateVerify proves possession of the
// key; the pin decides who it is. So every configuration here is TLS 1.3
// only, turns the standard chain verification off and checks the pin in
// VerifyConnection, which runs on every handshake (session tickets are
// off, so every connection proves possession again).
//
// The package generates, encodes and loads node keys (ECDSA P-256 or
// Ed25519), and builds three configurations: ServerConfig (the peer
// listener: a client key requested, checked per request by the API that
// needs it), MutualConfig (both ends of a pinned mutual-TLS connection:
// the Raft transport and a node dialling another node's API) and
// ClientConfig (a client that knows the pin of the server it calls). Who
// a pin belongs to is the caller's question (the registry's trust view);
// this package only computes and compares pins.
//
// NewListener is the peer listener's front door: it does every TLS
// handshake itself within a Budget — a short handshake deadline, a limit
// per source address on handshakes in progress, eviction of the oldest
// pending handshake when all slots are taken, and separate capacity for
// connections whose client key is a registered node's, for those whose key
// is a registered requester's (NewClassListener) and for the rest — so
// that hosts that never authenticate cannot keep registered peers or
// requesters waiting, nor requesters the nodes.
//
// Its functions are safe for concurrent use; a *tls.Config it returns must
// not be modified.
//
// Imports: the standard library and protocol.
package pintls
