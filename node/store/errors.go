package store

import "errors"

// The store's error classes. Every error a method returns wraps at most one
// of them (test with errors.Is); an error that wraps none is an internal
// failure (HTTP 500, retry later).
var (
	// ErrNotFound: no such message, submission, delivery or entry. An API
	// answers 404.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: the identifier is taken by other content (the same
	// (sender, messageId) with another payload, SPEC §8.2 →
	// MESSAGE_ID_CONFLICT 409), or the state forbids the change (a delivered
	// delivery cannot be dead-lettered). Nothing was written.
	ErrConflict = errors.New("store: conflict")
	// ErrInvalid: the caller's input breaks a limit or a precondition (an
	// identifier too long, an ack beyond the last sequence). Nothing was
	// written. A local API answers 400; from the exchange it is a bug.
	ErrInvalid = errors.New("store: invalid input")
	// ErrUnavailable: the store takes no writes now — it is closed, opened
	// read-only, or a commit failed and the process must reopen the file
	// (DESIGN.md §6). Answer 503; readiness should go false.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrFull: the volume is full — a commit failed with ENOSPC before it
	// wrote the meta page, so bbolt rolled it back whole and the file still
	// holds exactly the last committed state. Nothing of the operation was
	// written; the store takes writes again as soon as one commits (Full,
	// DESIGN.md §6). Answer 507 STORAGE_FULL (SPEC §7); readiness is false
	// while Full reports it.
	ErrFull = errors.New("store: storage full")
	// ErrCorrupt: stored data fails an integrity check (an undecodable
	// record, a broken audit link, an index that disagrees). Stop writing,
	// keep the file, investigate or restore (DESIGN.md §8).
	ErrCorrupt = errors.New("store: corrupt")
)

// AuditError names the first broken link VerifyAudit found. It wraps
// ErrCorrupt.
type AuditError struct {
	Seq    uint64 // the audit entry that fails (0: the head record)
	Reason string
}

func (e *AuditError) Error() string {
	if e.Seq == 0 {
		return "store: audit chain: head: " + e.Reason
	}
	return "store: audit chain: entry " + uitoa(e.Seq) + ": " + e.Reason
}

func (e *AuditError) Unwrap() error { return ErrCorrupt }
