package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/ecrn/crvsx/conformance"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/protocol"
)

// The one exit-code rule of every command (stated in the root command's
// help and the README). exitCode applies it to a command's error, so that
// no command picks a code for a refusal or a network failure by itself.
const (
	exitOK          = 0 // success; for verify and validate: the input is valid
	exitInvalid     = 1 // refused or not valid: a check failed, or the node answered with a problem
	exitUsage       = 2 // usage or local error: flags, arguments, files, internal errors
	exitUnreachable = 3 // no answer from a crvsx node: connection, DNS, TLS or pin, timeout, not crvsx
)

// exitCodes is the rule as the root command's help and the README state it.
const exitCodes = `Exit codes (every command):
  0  success (verify, validate: the input is valid)
  1  refused or not valid: the input failed a check, or the node answered
     with a problem document (its code is printed: UNAUTHORIZED, SCHEMA_…;
     UNAVAILABLE and REGISTRY_STALE are worth retrying)
  2  usage or local error: flags, arguments, unreadable files
  3  the node could not be reached: connection refused, DNS, TLS handshake
     or pin mismatch, timeout, or an HTTP error without a problem document
     (not a crvsx API: a proxy's page, or the wrong listener)`

// exitError carries an exit code out of a cobra RunE, for a command that
// decided it (a local check that refused the input). Its message, if any,
// has already been printed by the command when silent is true.
type exitError struct {
	code   int
	err    error
	silent bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// invalid reports "the input is not valid" (exit 1); the command has
// printed the details.
func invalid(err error) error { return &exitError{code: exitInvalid, err: err, silent: true} }

// refused reports a local check that refused the input (exit 1) with err
// as the message.
func refused(err error) error { return &exitError{code: exitInvalid, err: err} }

// exitCode is the exit code of a command's error: the code a command set
// with an exitError, else 1 for a problem document a node answered, 3 for
// a node that could not be reached or answered without one, 2 for the
// rest.
func exitCode(err error) int {
	var xe *exitError
	if errors.As(err, &xe) {
		return xe.code
	}
	var pe *protocol.ProblemError
	if errors.As(err, &pe) {
		if pe.Problem.Code == "" {
			return exitUnreachable
		}
		return exitInvalid
	}
	if unreachable(err) {
		return exitUnreachable
	}
	return exitUsage
}

// unreachable reports whether err is a failure to get an answer from a
// node: a request that never had one (an *url.Error of the HTTP client,
// but not the parse error of a bad URL), a dial or DNS failure, a TLS key
// that is not the pinned one, a timeout. An interrupt is not.
func unreachable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Op != "parse" {
		return true
	}
	var ne net.Error
	return errors.As(err, new(*net.OpError)) || errors.As(err, new(*net.DNSError)) ||
		errors.Is(err, pintls.ErrPinMismatch) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// describe is the message of a command's error, with a hint of what to do
// where the error has a usual cause.
func describe(err error) string {
	msg := err.Error()
	if h := hint(err); h != "" {
		msg += "\n  " + h
	}
	return msg
}

func hint(err error) string {
	var pe *protocol.ProblemError
	if !errors.As(err, &pe) {
		var ne net.Error
		switch {
		case errors.Is(err, conformance.ErrTarget):
			return "" // conform run says it on the same line

		case errors.Is(err, pintls.ErrPinMismatch):
			return "the node's TLS key is not the pinned one: check --node-pin (the node's registered tlsSpkiSha256)"
		case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
			return "no answer in time: is the node busy or behind a slow link? --timeout sets the limit"
		case unreachable(err):
			return "is the node running, and is --node its URL (crvsx devnet prints them)?"
		}
		return ""
	}
	p := pe.Problem
	switch {
	case p.Code == "":
		return "that is not a crvsx API: --node is the node's local API (send, inbox), its admin listener or peer API (registry)"
	case p.Cause == "timeout":
		return "the outcome is unknown: resubmit the SAME signed command (crvsx registry submit --entry FILE); it applies at most once"
	case p.Code == protocol.CodeUnauthorized:
		return "--token-file: the national system's tokens file for the local API, the operators' (admin tokens) for the admin listener"
	case p.Code == protocol.CodeConflict:
		return "the node holds another message with this messageId: give the message a new messageId (a lowercase UUID), or remove it and the node assigns one"
	case p.Code == protocol.CodeUnavailable, p.Code == protocol.CodeRegistryStale:
		return "the node cannot do it now: try again later"
	}
	return ""
}

// nodeURL checks a --node flag: a base URL with an http or https scheme
// and a host, as "127.0.0.1:8080" without a scheme is not.
func nodeURL(flag, v string) (string, error) {
	if v == "" {
		return "", fmt.Errorf("--%s URL is required", flag)
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--%s %q: want http://host:port or https://host:port", flag, v)
	}
	return strings.TrimSuffix(v, "/"), nil
}
