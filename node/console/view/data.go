package view

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/attest"
	"github.com/ecrn/crvsx/protocol/trust"
)

// Data is everything the console's pages read and do at this node; the
// console package depends on it and *node.Node implements it
// (node/console_data.go). Errors: ErrNotFound (404), ErrInvalid (400),
// ErrConflict (409: e.g. a retry of what is not a dead letter); anything
// else is a 5xx.
type Data interface {
	// Overview is the network view at now.
	Overview(ctx context.Context, now time.Time) (Overview, error)
	// Member is a member's page, with this node's traffic with it over
	// the last 24 hours before now.
	Member(ctx context.Context, id string, now time.Time) (Member, error)
	// Traffic is the traffic of the window ending at now (at most 31
	// days; BucketFor chooses the buckets). Dead letters carry their
	// reason text only when the node's console.showPersonalData is set.
	Traffic(ctx context.Context, window time.Duration, now time.Time) (Traffic, error)
	// Message is a message's timeline: id is a ref ("delivery/3",
	// "inbox/7", "audit/12") or a messageId; an id naming several
	// messages gives their refs as Candidates. A refused message carries
	// the peer's problem detail only when console.showPersonalData is set.
	Message(ctx context.Context, id string) (Message, error)
	// RetryDeadLetter moves the dead letter ref ("delivery/<key>") back
	// to its queue once and wakes its delivery worker; operator is named
	// in the audit entry.
	RetryDeadLetter(ctx context.Context, ref, operator string) error
	// SubmitApproval forwards a signed proposal.approve entry (the output
	// of `crvsx registry approve`) to the registry; anything else is
	// ErrInvalid. The console never holds a governance key.
	SubmitApproval(ctx context.Context, signed []byte) (trust.Result, error)
	// Bundle is this node's trust bundle (REGISTRY.md §12) and the
	// genesis hash to pin it with.
	Bundle(ctx context.Context) (bundle []byte, genesisSHA256 string, err error)
	// Verify checks an attestation against this node's registry view
	// (attest.Verify, SPEC §11.3). A verdict comes with a nil error or
	// the refusal's *protocol.Error; an error without a verdict is a
	// fault.
	Verify(token []byte, now time.Time) (*attest.Verdict, error)
	// VerifyMessage checks a signed message of the exchange (an event
	// such as a birth: any token that is not an attestation) against
	// this node's registry view as `crvsx verify --bundle` does: SPEC §6
	// by node/exchange's Verifier, the key's validity as of the message's
	// own createdAt (§6.6.6) and its time window against now (§6.7, no
	// age limit). A verdict comes with a nil error or the refusal's
	// *protocol.Error; an error without a verdict is a fault.
	VerifyMessage(token []byte, now time.Time) (*MessageVerdict, error)
	// GenesisSHA256 is the pin of the network's genesis (what Bundle
	// replays from), shown on the public verify page.
	GenesisSHA256() string
}

// MessageVerdict is the verdict on a signed message (Data.VerifyMessage):
// ids and types only, never the payload's personal data.
type MessageVerdict struct {
	Valid     bool
	Code      protocol.Code // the refusal's stable code; "" when Valid
	Detail    string        // the refusal's detail (English); "" when Valid
	CheckedAt time.Time
	// Set only when Valid: nothing learned from an unverified payload is
	// shown.
	Sender      protocol.Endpoint // sender.country and sender.nodeId
	MessageType string
	Typ         string
	MessageID   string
	CreatedAt   time.Time // with the offset the message states
}

// Errors the Data methods wrap.
var (
	ErrInvalid  = errors.New("view: invalid input")
	ErrConflict = errors.New("view: conflict")
)

// MaxApprovalBytes bounds an uploaded approval (a few signatures over one
// small command).
const MaxApprovalBytes = 64 << 10

// CheckApproval reads the first signature's payload of a signed registry
// entry (unverified: the registry verifies) and refuses anything but a
// proposal.approve, so that the console's upload cannot carry another
// command. It returns the proposal id.
func CheckApproval(signed []byte) (proposal string, err error) {
	if len(signed) == 0 || len(signed) > MaxApprovalBytes {
		return "", errors.Join(ErrInvalid, errors.New("an approval is 1 byte to 64 KiB"))
	}
	first, _, _ := bytes.Cut(bytes.TrimSpace(signed), []byte{'\n'})
	parts := bytes.Split(bytes.TrimSpace(first), []byte{'.'})
	if len(parts) != 3 {
		return "", errors.Join(ErrInvalid, errors.New("not a compact JWS"))
	}
	payload, err := base64.RawURLEncoding.DecodeString(string(parts[1]))
	if err != nil {
		return "", errors.Join(ErrInvalid, errors.New("the payload is not base64url"))
	}
	var cmd struct {
		Type string `json:"type"`
		Args struct {
			Proposal string `json:"proposal"`
		} `json:"args"`
	}
	if err := json.Unmarshal(payload, &cmd); err != nil {
		return "", errors.Join(ErrInvalid, errors.New("the payload is not a registry command"))
	}
	if cmd.Type != trust.CmdProposalApprove || cmd.Args.Proposal == "" {
		return "", errors.Join(ErrInvalid, errors.New("not a proposal.approve command"))
	}
	return cmd.Args.Proposal, nil
}
