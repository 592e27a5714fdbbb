// Package query answers status queries: POST /v1/queries on a member node's
// peer API (protocol/SPEC.md §11.2, normative; every check quotes it). A
// registered requester (INT-UNHCR, KG-BORDER, …) sends a signed
// status.query over pinned mutual TLS; the Handler runs SPEC §11.2's six
// steps in order, the first failure being the answer (a problem document
// through node/internal/httpio.WriteProblem), then asks Records whom the
// subject is and answers a signed minimal-disclosure status.attestation:
// answers only on a unique match and only for the questions asked, never a
// name, date, identifier or record number.
//
// State: the answered attestations (replay, §11.2.6) and the audit chain
// are the node's store (node/store AnswerQuery, AuditQuery); the audit
// chain holds the subject only as an HMAC-SHA-256 under the node's query
// audit key (LoadOrCreateAuditKey). The rate limiters and the probing
// Detector are in memory, per requester, and start empty at every start.
//
// The registry's requester view, the records' decision and the
// attestation's builder come from other packages through the small
// interfaces of this one (Registry, Records); FromView adapts
// protocol/trust's View to Registry; the attestation is built by
// protocol/attest.
//
// Pure parts: Detector and ProbeKeys (probing), scope and the step checks
// take no clock and do no I/O. A Handler is safe for concurrent use.
//
// Imports: node/internal/httpio, node/pintls, node/records/match,
// node/store, protocol, protocol/attest, protocol/jws, protocol/trust
// (FromView), schemas, schemas/semantic, and x/time (the per-requester
// rate limit).
package query
