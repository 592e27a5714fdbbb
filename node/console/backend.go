package console

import (
	"context"
	"errors"

	"github.com/ecrn/crvsx/protocol/attest"
)

// Backend is what the console asks of its node. *node.Node implements it
// (node/console.go's adapter); the tests use a fake. Every method is called
// with the request's context and must be safe for concurrent use.
type Backend interface {
	// Overview is the network's state at a glance (issue 12 §1).
	Overview(ctx context.Context) (Overview, error)
	// Member is one member's page (issue 12 §3); ErrNotFound if unknown.
	Member(ctx context.Context, id string) (Member, error)
	// Traffic is the operator's traffic view (issue 12 §2).
	Traffic(ctx context.Context) (Traffic, error)
	// Message is one message's timeline; ErrNotFound if unknown.
	Message(ctx context.Context, id string) (Message, error)
	// RetryDeadLetter makes a dead-lettered delivery due now; ErrNotFound
	// if there is no such dead letter.
	RetryDeadLetter(ctx context.Context, id string) error
	// SubmitApproval submits signed registry entry data (a
	// proposal.approve signed offline with "crvsx registry approve --out")
	// and returns what the registry did with it.
	SubmitApproval(ctx context.Context, data []byte) (ApprovalResult, error)
	// Bundle is the trust bundle (REGISTRY §12) and the genesis SHA-256 it
	// replays from.
	Bundle(ctx context.Context) (bundle []byte, genesisSHA256 string, err error)
	// GenesisSHA256 is the pin of the network's genesis (what a bundle
	// replays from), shown on the verify page.
	GenesisSHA256() string
	// Verify checks a compact JWS attestation against the node's trust
	// view as of now (attest.Verify); its errors are attest.Verify's.
	Verify(ctx context.Context, token []byte) (*attest.Verdict, error)
}

var (
	// ErrNotFound: no such member, message or dead letter (404 page).
	ErrNotFound = errors.New("console: not found")
	// ErrUnavailable: this build's node cannot give it yet (a page says
	// so; never made-up numbers).
	ErrUnavailable = errors.New("console: not available on this node")
)
