// Package node is the composition root of a member node as a library:
// Config (with DefaultConfig, Validate and LoadConfig), New, which opens the
// registry replica, the store and the keys, and Run, which serves the four
// listeners (peer, local, admin, health) and the delivery and webhook
// workers until its context ends, then stops cleanly: listeners first,
// in-flight requests finished, workers stopped with their work safely
// queued, stores closed.
//
// A *Node is safe for concurrent use; it is started once.
package node
