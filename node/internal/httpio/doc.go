// Package httpio holds the node's rules for HTTP input and output that
// every API shares (the peer, local, admin and health listeners, and the
// registry API mounted on the peer listener): the one function that writes
// a problem document (WriteProblem, protocol/SPEC.md §7), how a request
// body is read (ReadBody: size limit first, an unreadable body is the
// sender's fault), how JSON answers are written, and the request id that a
// problem's "instance" and the logs share.
//
// Its functions are safe for concurrent use.
//
// Imports: protocol only, so that node/server and node/registry both use
// it without depending on each other.
package httpio
