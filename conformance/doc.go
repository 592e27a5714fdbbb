// Package conformance is the suite that certifies a member's node
// (DESIGN.md in this directory): test plans of modules of conditions, each
// citing the requirement it tests, run against a candidate node over the
// wire only. Run returns the full Report — it never stops at the first
// failure — and RunT runs the same under go test.
//
// The suite plays the other members of a test network that `crvsx conform
// init` generates (Suite, LoadSuite); the part of that network that runs
// in the suite's process — its registry voters and its members' peer
// endpoints — is given to Run as a Network (node/conformnet implements
// it). The package never imports node: another member's implementation is
// tested exactly as ours is.
//
// A Report is written as text, canonical JSON (ParseReport reads it back
// strictly; its SHA-256 is what a certificate names), JUnit XML or HTML;
// SaveReport keeps each run's report in the suite directory with its hash
// in a ledger, which `crvsx conform certify` consults. ExportVectors writes
// the JWS vectors as language-neutral files.
//
// Reports and suites are safe for concurrent reads once built.
//
// Imports: protocol, protocol/jws, protocol/protocoltest, protocol/trust
// and schemas.
package conformance
