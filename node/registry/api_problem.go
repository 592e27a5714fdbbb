package registry

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/ecrn/crvsx/node/internal/httpio"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/trust"
)

// apiError is an error of the registry API that knows its problem
// document (protocol.Problemer): problemOf(err), with the extension members
// only the handler knows — the leader, the result of a rejected command.
// httpio.WriteProblem writes it.
type apiError struct {
	err            error
	leader, result json.RawMessage
}

func (e *apiError) Error() string { return e.err.Error() }
func (e *apiError) Unwrap() error { return e.err }

// Problem implements protocol.Problemer.
func (e *apiError) Problem() protocol.Problem {
	p := problemOf(e.err)
	p.Leader, p.Result = e.leader, e.result
	return p
}

// problemOf maps an error to the registry API's problem document (the one
// place the API classifies errors; httpio.WriteProblem writes it).
func problemOf(err error) protocol.Problem {
	var (
		le  *lookupError
		re  *trust.RejectedError
		se  *StaleError
		pe  *protocol.Error
		out protocol.Problem
	)
	switch {
	case errors.As(err, &le):
		out = protocol.ProblemFor(&protocol.Error{Code: protocol.CodeNotFound, Detail: le.rej.Detail})
		out.Reason = string(le.rej.Reason)
	case errors.As(err, &pe):
		out = protocol.ProblemFor(pe)
	case errors.As(err, &se) || errors.Is(err, ErrStale):
		// A fixed detail: the cause (transport, forwarding) is logged, not
		// sent to a client that may not be a member.
		out = protocol.ProblemFor(&protocol.Error{Code: protocol.CodeRegistryStale, Detail: "this node's registry replica is past its staleness bound; retry later or on another node"})
	case errors.As(err, &re):
		code := protocol.CodeRegistryRejected
		if re.Reason == trust.ReasonNodePinMismatch {
			code = protocol.CodeNodePinMismatch
		}
		out = protocol.ProblemFor(&protocol.Error{Code: code, Detail: re.Error()})
		out.Reason = string(re.Reason)
	case errors.Is(err, ErrNotLeader):
		// Not a fault of this node: the request belongs at the leader,
		// which the "leader" member names (SPEC §7: 4xx).
		out = protocol.ProblemFor(&protocol.Error{Code: protocol.CodeNotLeader, Detail: "this node is not the registry leader; ask the leader"})
		out.Cause = causeNotLeader
	case errors.Is(err, ErrUnavailable):
		cause := causeOf(err)
		detail := "the registry cannot take this now; retry the same command"
		if cause != "" {
			detail = "the registry cannot take this now (" + cause + "); retry the same command"
		}
		out = protocol.ProblemFor(&protocol.Error{Code: protocol.CodeUnavailable, Detail: detail})
		out.Cause = cause
	case errors.Is(err, ErrNodeNotRegistered):
		out = protocol.ProblemFor(&protocol.Error{Code: protocol.CodeRegistryRejected, Detail: err.Error()})
		out.Reason = string(trust.ReasonNodeUnknown)
	default:
		out = protocol.ProblemFor(err) // INTERNAL, generic detail
	}
	return out
}

// problem answers err; extra sets the extension members that only the
// handler knows (result, leader).
func (a *API) problem(w http.ResponseWriter, r *http.Request, err error, extra func(*apiError)) {
	e := &apiError{err: err}
	if extra != nil {
		extra(e)
	}
	httpio.WriteProblem(w, r, a.cfg.Logger, e)
}

// withLeader sets the "leader" member to this replica's idea of the leader.
func (a *API) withLeader(e *apiError) {
	if l := a.leader(); l != nil {
		e.leader, _ = json.Marshal(l)
	}
}

// lookupError is a read of something the registry does not hold: 404
// NOT_FOUND, with the registry's reason (NOT_FOUND, PROPOSAL_UNKNOWN) as
// the "reason" member. Not a refused command.
type lookupError struct{ rej *trust.RejectedError }

func (e *lookupError) Error() string { return e.rej.Error() }

// Unwrap makes ReasonOf work.
func (e *lookupError) Unwrap() error { return e.rej }

func notFound(r trust.Reason, format string, args ...any) error {
	return &lookupError{trust.Rejectf(r, format, args...)}
}

// The "cause" member of an UNAVAILABLE problem: which shell error it was.
const (
	causeNotLeader   = "not-leader"
	causeNoLeader    = "no-leader"
	causeTimeout     = "timeout"
	causeClockBehind = "leader-clock-behind"
)

func causeOf(err error) string {
	switch {
	case errors.Is(err, ErrNotLeader):
		return causeNotLeader
	case errors.Is(err, ErrNoLeader):
		return causeNoLeader
	case errors.Is(err, ErrTimeout):
		return causeTimeout
	case errors.Is(err, ErrLeaderClockBehind):
		return causeClockBehind
	}
	return ""
}
