package conformance

import "context"

// Network is the part of the suite's network that runs in the suite's
// process (DESIGN.md §2): the registry replicas of A, B (voters) and R,
// and the peer endpoints of A, B and R. The plans drive it; node/conformnet
// implements it. Every method is safe for concurrent use.
type Network interface {
	// Submit applies a registry command entry (compact JWS, LF-separated
	// signatures) through the suite's voters and returns once the suite's
	// replicas applied it: the outcome ("accepted", "rejected", …) and,
	// for a rejection, its reason.
	Submit(ctx context.Context, entry []byte) (outcome, reason string, err error)
	// Bundle returns the suite's trust bundle (REGISTRY.md §12).
	Bundle(ctx context.Context) ([]byte, error)
	// CutOff stops the suite's voters: the candidate's replica loses its
	// leader. Restore starts them again from their state.
	CutOff(ctx context.Context) error
	Restore(ctx context.Context) error
	// Answer installs how member's peer endpoint answers the messages the
	// candidate delivers to it (POST /v1/messages over pinned mTLS); nil
	// restores the default (a valid receipt). Delivered returns the
	// messages delivered there so far, oldest first.
	Answer(member string, a Answerer)
	Delivered(member string) []Delivery
}

// Delivery is a message the candidate delivered to a suite endpoint.
type Delivery struct {
	JWS    []byte
	Status int // what the endpoint answered
}

// Answerer decides a suite endpoint's answer to a delivered message: an
// HTTP status, a content type and a body (a receipt, a problem, or
// anything a module needs).
type Answerer func(jws []byte) (status int, contentType string, body []byte)
