package protocol

import (
	"errors"
	"fmt"
)

// ErrRejected is the family of every refusal of a message by the protocol's
// checks: errors.Is(err, ErrRejected) tells a refusal (answer with a problem
// document, store nothing) from an internal failure (retry later).
var ErrRejected = errors.New("message rejected")

// Error is a refusal with a stable Code. Detail is safe to send to the peer;
// Err (optional) is the internal cause, logged and never sent. Issues carries
// the leaf findings of schema and semantic validation.
type Error struct {
	Code    Code
	Detail  string
	Pointer string
	Issues  []Issue
	Err     error
}

// Errorf builds an *Error with a formatted detail. A %w verb in format wraps
// the cause as with fmt.Errorf.
func Errorf(code Code, format string, args ...any) *Error {
	wrapped := fmt.Errorf(format, args...)
	return &Error{Code: code, Detail: wrapped.Error(), Err: errors.Unwrap(wrapped)}
}

func (e *Error) Error() string {
	s := string(e.Code)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Pointer != "" {
		s += " (at " + e.Pointer + ")"
	}
	if len(e.Issues) > 0 && e.Detail == "" {
		s += ": " + e.Issues[0].String()
		if len(e.Issues) > 1 {
			s += fmt.Sprintf(" (and %d more)", len(e.Issues)-1)
		}
	}
	return s
}

// Unwrap returns ErrRejected and the cause, so both errors.Is(err,
// ErrRejected) and errors.Is(err, cause) hold.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrRejected, e.Err}
	}
	return []error{ErrRejected}
}

// CodeOf returns the code of the first *Error in err's chain, or "" if there
// is none (an internal failure).
func CodeOf(err error) Code {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
