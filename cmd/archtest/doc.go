// Package archtest holds the repository-wide architecture tests: every
// package has a doc comment, and every third-party library is imported only
// by the one package that owns it (STYLE.md "One owner per third-party
// library"). It has no code of its own; run it with `go test ./...`.
package archtest
