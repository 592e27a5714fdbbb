// Package node is the composition root of a member node as a library:
// Config (with DefaultConfig, Validate and LoadConfig), New, which opens the
// keys, the pinned genesis, the store, the registry replica and the
// listeners and wires the pipelines, and Run, which serves the four
// listeners (peer, local, admin, health) and the delivery and webhook
// workers until its context ends, then stops cleanly: listeners first,
// in-flight requests finished, workers stopped with their work safely
// queued, stores closed.
//
// It composes and decides nothing else: node.go builds and runs, files.go
// reads the files a configuration names, serve.go fills in
// node/server.Routes and the health report, deliver.go asks the registry's
// trust view where a message goes, join.go joins the registry cluster,
// console.go adapts the node to the web console (node/console.Backend). The
// handlers are node/server's, the pipelines node/exchange's, the trust
// rules protocol/trust's.
//
// A *Node is safe for concurrent use; it is started once.
//
// Imports: the node packages it composes (node/console, node/console/view,
// whose Data console_data.go implements, node/exchange, node/peer,
// node/pintls, node/query, node/records, node/records/match,
// node/registry, node/server, node/store, node/internal/ratelog,
// node/internal/failpoint for the test builds fake clock offset,
// node/internal/clockskew), protocol, protocol/attest (the console's
// verify), protocol/jws and protocol/trust; no third-party library
// directly.
package node
