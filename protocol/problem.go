package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"unicode"
)

const (
	// ProblemContentType is the media type of a problem document (RFC
	// 9457 §3).
	ProblemContentType = "application/problem+json"
	// MaxProblemBytes bounds a problem document a client reads from an
	// answer.
	MaxProblemBytes = 64 << 10
)

// Problem is an RFC 9457 problem document with the network's extension
// members (SPEC §7): "code" (the stable Code), "pointer" and "issues"
// (leaf findings) on every API, and on the registry API "reason" (the
// registry's stable reason), "cause" (the class of an UNAVAILABLE answer),
// "leader" and "result" (JSON objects of the registry API, kept raw here).
type Problem struct {
	Type     string  `json:"type"`
	Title    string  `json:"title"`
	Status   int     `json:"status"`
	Detail   string  `json:"detail,omitempty"`
	Instance string  `json:"instance,omitempty"`
	Code     Code    `json:"code"`
	Pointer  string  `json:"pointer,omitempty"`
	Issues   []Issue `json:"issues,omitempty"`

	Reason string          `json:"reason,omitempty"`
	Cause  string          `json:"cause,omitempty"`
	Leader json.RawMessage `json:"leader,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
}

// Problemer is an error that knows the problem document it is answered
// with. ProblemFor uses the first one in an error's chain; the one problem
// writer of the node (node/internal/httpio) calls ProblemFor.
type Problemer interface {
	error
	Problem() Problem
}

// ProblemFor turns any error into the problem document sent to a client:
// the Problem of the first Problemer in err's chain; else, for a refusal
// (*Error), its code, detail and issues; anything else becomes INTERNAL
// with a generic detail, because an internal cause is logged, never sent
// (SPEC §7). Type, Title and Status always agree with Code.
func ProblemFor(err error) Problem {
	var pr Problemer
	if errors.As(err, &pr) {
		p := pr.Problem()
		if p.Code == "" {
			p.Code = CodeInternal
		}
		p.Type, p.Status, p.Title = p.Code.TypeURI(), p.Code.Status(), StatusTitle(p.Code.Status())
		return p
	}
	var pe *Error
	if !errors.As(err, &pe) {
		return Problem{
			Type:   CodeInternal.TypeURI(),
			Title:  StatusTitle(500),
			Status: 500,
			Detail: "internal error; the request can be retried",
			Code:   CodeInternal,
		}
	}
	st := pe.Code.Status()
	return Problem{
		Type:    pe.Code.TypeURI(),
		Title:   StatusTitle(st),
		Status:  st,
		Detail:  pe.Detail,
		Code:    pe.Code,
		Pointer: pe.Pointer,
		Issues:  pe.Issues,
	}
}

// ProblemError is an answer of a node that is not a success, as a client
// sees it: who answered, the HTTP status, and the problem document when
// the body was one. It is the one client-side type for the problems of
// every API of the network (messages, receipts, the local, admin and
// registry APIs); build it with DecodeProblem.
type ProblemError struct {
	From    string  // who answered: a node id or a base URL ("" if unknown)
	Status  int     // the HTTP status
	Problem Problem // Code is "" when the body was not a problem document
}

// DecodeProblem reads the answer of a failed request: body (at most
// MaxProblemBytes of it are looked at) is decoded as a problem document if
// the content type says it is one and it has a code; otherwise Problem
// stays empty but for a short, printable excerpt of the body in Detail.
func DecodeProblem(from string, status int, contentType string, body []byte) *ProblemError {
	e := &ProblemError{From: from, Status: status}
	if len(body) > MaxProblemBytes {
		body = body[:MaxProblemBytes]
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	var p Problem
	if mt == ProblemContentType && json.Unmarshal(body, &p) == nil && p.Code != "" {
		e.Problem = p
		return e
	}
	if ex := printable(string(body), 200); ex != "" {
		e.Problem.Detail = fmt.Sprintf("%q", ex)
	}
	return e
}

// Error renders "CODE (REASON): FROM answered STATUS: DETAIL", then the
// first issues, one per line; a missing part is left out.
func (e *ProblemError) Error() string {
	var b strings.Builder
	p := e.Problem
	if p.Code != "" {
		b.WriteString(string(p.Code))
		if p.Reason != "" && p.Reason != string(p.Code) {
			b.WriteString(" (" + p.Reason + ")")
		}
		b.WriteString(": ")
	}
	who := e.From
	if who == "" {
		who = "the node"
	}
	fmt.Fprintf(&b, "%s answered %d", who, e.Status)
	if p.Code == "" {
		b.WriteString(" without a problem document")
	}
	if d := printable(p.Detail, 300); d != "" {
		b.WriteString(": ")
		b.WriteString(d)
	}
	for i, is := range p.Issues {
		if i == 20 {
			fmt.Fprintf(&b, "\n  … and %d more", len(p.Issues)-i)
			break
		}
		b.WriteString("\n  " + printable(is.String(), 300))
	}
	return b.String()
}

// Retryable reports whether the same request may succeed later (SPEC §8.1,
// node/exchange DESIGN §5): a refusal that time or replication can cure
// (the receiver has not seen a new key or pin yet, clocks disagree, the
// node is unavailable), any 5xx, 408 and 429, and a 4xx that is not a
// node's verdict (no problem document). Any other problem is permanent.
func (e *ProblemError) Retryable() bool {
	switch e.Problem.Code {
	case CodeKeyUnknown, // the receiver's registry replica has not seen the key yet
		CodeUnavailable, CodeInternal, CodeRegistryStale,
		CodeStorageFull,     // the receiver's volume is full; space returns
		CodeNodePinMismatch, // the receiver's replica has not seen a new TLS key yet
		CodeNotLeader,       // at the leader the "leader" member names
		CodeFromFuture:      // clocks disagree; time cures it
		return true
	}
	switch {
	case e.Status >= 500, e.Status == 429, e.Status == 408:
		return true
	case e.Status >= 400:
		return e.Problem.Code == ""
	}
	return true // 1xx, 2xx that is not the expected answer, 3xx: not a verdict
}

// Permanent is !Retryable (node/exchange.Permanent: a dead letter).
func (e *ProblemError) Permanent() bool { return !e.Retryable() }

// printable shortens s to at most n runes and replaces control and
// invisible characters, so that what a peer sent cannot forge log lines
// or terminal output.
func printable(s string, n int) string {
	var b strings.Builder
	i := 0
	for _, r := range s {
		if i == n {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) || r == unicode.ReplacementChar || !unicode.IsPrint(r) && r != ' ' {
			r = '?'
		}
		b.WriteRune(r)
		i++
	}
	return strings.TrimSpace(b.String())
}

// StatusTitle is the problem "title" of an HTTP status: the reason phrase
// net/http's StatusText gives it (so one status always has one title, RFC
// 9457 §3.1.4). The package keeps its own table to stay free of net/http;
// a test holds the two equal.
func StatusTitle(status int) string {
	switch status {
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 406:
		return "Not Acceptable"
	case 408:
		return "Request Timeout"
	case 409:
		return "Conflict"
	case 411:
		return "Length Required"
	case 413:
		return "Request Entity Too Large"
	case 415:
		return "Unsupported Media Type"
	case 421:
		return "Misdirected Request"
	case 422:
		return "Unprocessable Entity"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 507:
		return "Insufficient Storage"
	}
	return "HTTP " + strconv.Itoa(status)
}
