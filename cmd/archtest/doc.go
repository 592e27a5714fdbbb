// Package archtest holds the repository-wide architecture tests: every
// package has a doc comment whose "Imports:" paragraph names what it
// imports; every third-party library is imported only by the one package
// that owns it (STYLE.md "One owner per third-party library"); the trust
// core (protocol/trust) holds no Raft, bbolt or net/http code; there is one
// writer and one reader of problem documents and one package that builds
// TLS configurations. Each rule has a second test that feeds it the kind
// of code it must catch. It has no code of its own; run it with
// `go test ./...`.
//
// Imports: the standard library only (it runs go list).
package archtest
