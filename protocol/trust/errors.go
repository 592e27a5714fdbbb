package trust

import (
	"errors"
	"fmt"
)

// Reason is the stable code of a rejected registry command (REGISTRY.md §8).
// Reasons never change meaning and are never reused. They are hashed into
// the chain, so their spelling is part of the format.
type Reason string

// Rejection reasons, in the order Apply checks them (REGISTRY.md §5).
const (
	ReasonMalformedEntry    Reason = "MALFORMED_ENTRY"             // not 1…64 compact JWS over one payload
	ReasonMalformedCommand  Reason = "MALFORMED_COMMAND"           // payload or args do not decode strictly
	ReasonWrongNetwork      Reason = "WRONG_NETWORK"               // "network" is not this genesis hash
	ReasonUnknownType       Reason = "UNKNOWN_COMMAND_TYPE"        // type not in REGISTRY.md §7
	ReasonUnknownKey        Reason = "UNKNOWN_KEY"                 // a kid neither in the state nor introduced by args
	ReasonBadSignature      Reason = "BAD_SIGNATURE"               // a signature jws.Verify refuses
	ReasonReplayedID        Reason = "REPLAYED_ID"                 // the command id was used before
	ReasonFromFuture        Reason = "COMMAND_FROM_FUTURE"         // issuedAt > consensus time + skew
	ReasonTooOld            Reason = "COMMAND_TOO_OLD"             // issuedAt < consensus time − max age − skew
	ReasonKeyNotGovernance  Reason = "KEY_NOT_GOVERNANCE"          // a signing key signed a command
	ReasonAlgNotAllowed     Reason = "ALG_NOT_ALLOWED"             // alg not in the policy
	ReasonKeyNotValid       Reason = "KEY_NOT_VALID"               // key expired, not yet valid, retired or revoked at t
	ReasonSignerNotActive   Reason = "SIGNER_NOT_ACTIVE"           // signer's member suspended or withdrawn
	ReasonIssuerNotSigner   Reason = "ISSUER_NOT_SIGNER"           // no signature by the issuing member
	ReasonMissingPoP        Reason = "MISSING_PROOF_OF_POSSESSION" // an introduced key did not sign
	ReasonNotAuthorized     Reason = "NOT_AUTHORIZED"              // acting on another member's object
	ReasonBelowThreshold    Reason = "BELOW_THRESHOLD"             // too few approving members
	ReasonProposalUnknown   Reason = "PROPOSAL_UNKNOWN"            // no open proposal with that id
	ReasonProposalExpired   Reason = "PROPOSAL_EXPIRED"            // approval at or after expiresAt
	ReasonDigestMismatch    Reason = "DIGEST_MISMATCH"             // approval names other payload bytes
	ReasonAlreadyApproved   Reason = "ALREADY_APPROVED"            // every signer already approved
	ReasonNotFound          Reason = "NOT_FOUND"                   // the target does not exist
	ReasonConflict          Reason = "CONFLICT"                    // the state forbids it (exists, wrong status, last key)
	ReasonInvalidArgument   Reason = "INVALID_ARGUMENT"            // an argument breaks a rule of its own
	ReasonCertificateNeeded Reason = "CERTIFICATE_REQUIRED"        // admission without a valid certificate
)

// Sentinel errors. Each is returned wrapped with details; test with errors.Is.
var (
	// ErrRejected is the family of every refused command: the state did
	// not change (beyond the journal). Use errors.As with *RejectedError
	// for the Reason.
	ErrRejected = errors.New("registry command rejected")

	// ErrInvalidGenesis: the genesis document or its endorsements are not
	// acceptable. The node must not start.
	ErrInvalidGenesis = errors.New("invalid genesis")

	// ErrGenesisPin: the genesis document's SHA-256 is not the pinned one.
	// The node must not start or join.
	ErrGenesisPin = errors.New("genesis hash does not match the pin")

	// ErrCorruptSnapshot: a snapshot failed its checksum, canonical form or
	// invariants. The caller keeps its previous state and must not install
	// anything from this snapshot.
	ErrCorruptSnapshot = errors.New("corrupt registry snapshot")

	// ErrIndexOrder: an entry's index is not above the state's applied
	// index. A bug in the caller (or a bundle out of order); nothing was
	// applied.
	ErrIndexOrder = errors.New("registry entry out of order")

	// ErrInvalidBundle: a trust bundle does not decode or is out of order.
	ErrInvalidBundle = errors.New("invalid trust bundle")

	// ErrChainMismatch: a replayed bundle did not reach the chain head it
	// states. Do not trust the resulting state.
	ErrChainMismatch = errors.New("trust bundle chain head mismatch")
)

// RejectedError is a refused command with its Reason. Detail is for humans
// and may change between versions; it is never hashed.
type RejectedError struct {
	Reason Reason
	Detail string
}

func (e *RejectedError) Error() string {
	if e.Detail == "" {
		return "registry: " + string(e.Reason)
	}
	return "registry: " + string(e.Reason) + ": " + e.Detail
}

// Unwrap makes errors.Is(err, ErrRejected) hold.
func (e *RejectedError) Unwrap() error { return ErrRejected }

// Rejectf returns a *RejectedError with reason r and a formatted detail.
// The shell uses it for refusals of its own (a peer's pin, a join
// challenge) so that they carry the same stable reasons.
func Rejectf(r Reason, format string, args ...any) *RejectedError {
	return &RejectedError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the Reason of a *RejectedError in err's chain, or "".
func ReasonOf(err error) Reason {
	var re *RejectedError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}
