// Package view is what the web console's pages show, as data: view models
// built from the store's console reads (node/store), the registry's state
// and status (protocol/trust, node/registry) with an explicit now, and
// server-side SVG line charts. It is pure: no HTTP, no templates, no
// clock, no I/O.
//
// Every text a person reads is a message key (MessageKeys lists each with
// its English default), never English: the console's catalogues translate
// them. Names, identifiers, codes and times are data. Times are shown with
// their offset (FormatTime).
//
// Data is the interface the console package depends on; *node.Node
// implements it (node/console_data.go).
//
// Imports: node/store, node/registry, protocol, protocol/attest and
// protocol/trust (their types); no third-party library.
package view
