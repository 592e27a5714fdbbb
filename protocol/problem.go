package protocol

import (
	"errors"
	"net/http"
)

// ProblemContentType is the media type of a problem document (RFC 9457 §3).
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem document with the network's extension
// members "code" (the stable Code) and "issues" (leaf findings).
type Problem struct {
	Type     string  `json:"type"`
	Title    string  `json:"title"`
	Status   int     `json:"status"`
	Detail   string  `json:"detail,omitempty"`
	Instance string  `json:"instance,omitempty"`
	Code     Code    `json:"code"`
	Pointer  string  `json:"pointer,omitempty"`
	Issues   []Issue `json:"issues,omitempty"`
}

// ProblemFor turns any error into the problem document sent to a peer. A
// refusal (*Error) keeps its code, detail and issues; anything else becomes
// INTERNAL with a generic detail, because an internal cause is logged, never
// sent (SPEC.md §7).
func ProblemFor(err error) Problem {
	var pe *Error
	if !errors.As(err, &pe) {
		return Problem{
			Type:   CodeInternal.TypeURI(),
			Title:  http.StatusText(500),
			Status: 500,
			Detail: "internal error; the request can be retried",
			Code:   CodeInternal,
		}
	}
	st := pe.Code.Status()
	return Problem{
		Type:    pe.Code.TypeURI(),
		Title:   http.StatusText(st),
		Status:  st,
		Detail:  pe.Detail,
		Code:    pe.Code,
		Pointer: pe.Pointer,
		Issues:  pe.Issues,
	}
}
