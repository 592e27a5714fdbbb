// Package records is the node's person records: what a status.query is
// matched against and answered from (DESIGN.md in this directory, R1–R7;
// the matching core is node/records/match, M1–M4).
//
//   - Record, ParseRecord: one person record and its strict parser (the
//     JSONL import line, the HTTP adapter's candidate).
//   - Source, Candidate, Facts, Lookup, Answer: what the query handler
//     calls — candidates from a backend, the decision by match.Match, the
//     facts of a unique match mapped to status.attestation answers.
//   - Embedded: the backend in the node's own store (node/store's records
//     buckets), with the JSONL import (Import, Handler for POST
//     /v1/records) and Follower, which applies accepted death, marriage,
//     divorce, annulment and separation events to uniquely matched records.
//   - HTTPSource: the backend of a national system reached over HTTP.
//   - Client: the import client of `crvsx records import`.
//
// Every type is safe for concurrent use once built (Follower: after Init).
// Nothing here panics on input; sizes are bounded before parsing.
//
// Imports: node/records/match, node/store (the records buckets),
// node/exchange (StoredPayload, the one reader of a stored message's
// payload), node/internal/httpio (the problem writer), protocol and
// schemas (I-JSON and NFC checks).
package records
