package attest

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/schemas"
)

// Outcome is the plain answer of a verification.
type Outcome string

// The three outcomes. Expired is not "false": the attestation passed every
// other check and was true until ValidUntil.
const (
	OutcomeValid    Outcome = "valid"
	OutcomeExpired  Outcome = "expired"
	OutcomeNotValid Outcome = "not-valid"
)

// Verdict is what Verify learned. The members after Detail are filled only
// from a payload whose signature verified: a verdict never repeats what an
// unverified token claims.
type Verdict struct {
	Outcome Outcome
	// Code is "" when valid, CodeExpired when expired, else the code of
	// the first failed step of SPEC §11.3.
	Code protocol.Code
	// Detail is the failed step's detail (for people; it may change).
	Detail string
	// Issues are the schema or semantic findings of a refusal.
	Issues []protocol.Issue

	Kid           string            // the signing key
	MessageID     string            // the attestation's messageId
	InResponseTo  string            // the query's messageId
	Issuer        Issuer            // who attests
	Sender        protocol.Endpoint // the issuing node
	Recipient     protocol.Endpoint // the requester the answer is for
	Purpose       string            // the query's purpose
	MatchResult   string
	RefusalReason string
	Answers       map[string]string
	AttestedAt    time.Time
	ValidUntil    time.Time

	CheckedAt  time.Time // the time of checking Verify was given
	BundleTime time.Time // the consensus time of the trust view's last entry
	// Warnings do not change the outcome: an attestation made after the
	// bundle's last entry, the semantic layer's warnings.
	Warnings []string
}

// Valid reports whether the attestation is genuine and current.
func (v *Verdict) Valid() bool { return v != nil && v.Outcome == OutcomeValid }

// Verify is SPEC §11.3: it checks a compact JWS attestation offline
// against view (a trust view replayed from a pinned genesis) as of now, the
// time of checking, in the order of the section, and stops at the first
// failure.
//
// It returns a verdict in every case but an internal fault (a nil view, a
// bug caught in the schema layer), which is an error without a protocol
// code and no verdict. A valid attestation has a nil error; a refused or
// expired one has the *protocol.Error of its step (CodeExpired when
// expired), and the verdict says which. It never panics.
func Verify(token []byte, view *trust.View, now time.Time) (*Verdict, error) {
	if view == nil {
		return nil, errors.New("attest: Verify needs a trust view")
	}
	v := &Verdict{Outcome: OutcomeNotValid, CheckedAt: now.UTC(), BundleTime: view.ConsensusTime().Time()}
	refuse := func(err error) (*Verdict, error) {
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			return nil, err
		}
		v.Code, v.Detail, v.Issues = pe.Code, pe.Detail, pe.Issues
		return v, err
	}

	// > SPEC §11.3 step 1: §6.1–§6.4 with typ crvs-attestation+jws, the key
	// > looked up among the members' signing keys of the replayed registry
	// > (KEY_UNKNOWN otherwise). The size is bounded before any parsing.
	if len(token) > MaxTokenBytes {
		return refuse(protocol.Errorf(protocol.CodeTooLarge, "attestation of %d bytes exceeds the limit of %d", len(token), MaxTokenBytes))
	}
	tok, err := jws.Verify(token, view, jws.Options{Typ: protocol.TypAttestation, MaxBytes: MaxTokenBytes})
	if err != nil {
		return refuse(err)
	}
	v.Kid = tok.Kid
	// > … the key is a signing key of a member country, never a requester's
	// > or a governance key (ATTESTATION_ISSUER_NOT_MEMBER).
	info, ok := view.KeyInfo(tok.Kid)
	if !ok || info.Role != trust.RoleSigning || !protocol.IsMemberID(tok.Key.Member) {
		return refuse(protocol.Errorf(CodeIssuerNotMember, "key %s (of %q) is not a member country's signing key", tok.Kid, tok.Key.Member))
	}

	// > SPEC §11.3 step 2: §6.5 and §6.6.1–§6.6.4: hygiene, NFC, schema,
	// > semantic rules, and messageType status.attestation.
	if !schemas.IsNFC(tok.Payload) {
		return refuse(protocol.Errorf(protocol.CodePayloadNotNFC, "the payload is not in Unicode normalisation form C"))
	}
	res, err := schemas.Default().Validate(tok.Payload)
	if err != nil {
		return refuse(err)
	}
	if res.MessageType != protocol.MTStatusAttestation {
		return refuse(protocol.Errorf(protocol.CodeTypeMismatch, "typ %q does not carry messageType %q (expected %q)", tok.Typ, res.MessageType, protocol.MTStatusAttestation))
	}
	for _, w := range res.Warnings {
		v.Warnings = append(v.Warnings, w.String())
	}
	var m struct {
		MessageID string            `json:"messageId"`
		CreatedAt string            `json:"createdAt"`
		Sender    protocol.Endpoint `json:"sender"`
		Recipient protocol.Endpoint `json:"recipient"`
		Purpose   string            `json:"purpose"`
		Payload   struct {
			InResponseTo  string            `json:"inResponseTo"`
			MatchResult   string            `json:"matchResult"`
			Answers       map[string]string `json:"answers"`
			AttestedAt    string            `json:"attestedAt"`
			ValidUntil    string            `json:"validUntil"`
			Issuer        Issuer            `json:"issuer"`
			RefusalReason string            `json:"refusalReason"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(tok.Payload, &m); err != nil { // the schema makes this unreachable; refuse anyway
		return refuse(&protocol.Error{Code: protocol.CodeSchemaInvalid, Detail: "the attestation does not decode", Err: err})
	}
	p := m.Payload
	createdAt, err1 := time.Parse(time.RFC3339Nano, m.CreatedAt)
	attestedAt, err2 := time.Parse(time.RFC3339Nano, p.AttestedAt)
	validUntil, err3 := time.Parse(time.RFC3339Nano, p.ValidUntil)
	if err := errors.Join(err1, err2, err3); err != nil { // the schema's pattern makes this unreachable
		return refuse(&protocol.Error{Code: protocol.CodeSchemaInvalid, Detail: "a timestamp is not RFC 3339", Err: err})
	}
	v.MessageID, v.InResponseTo, v.Issuer, v.Sender, v.Recipient, v.Purpose = m.MessageID, p.InResponseTo, p.Issuer, m.Sender, m.Recipient, m.Purpose
	v.MatchResult, v.RefusalReason, v.Answers = p.MatchResult, p.RefusalReason, p.Answers
	v.AttestedAt, v.ValidUntil = attestedAt.UTC(), validUntil.UTC()

	// > SPEC §11.3 step 3: §6.6.5: the key's member is sender.country, and
	// > so issuer.country (SENDER_MISMATCH).
	if tok.Key.Member != m.Sender.Country {
		return refuse(protocol.Errorf(protocol.CodeSenderMismatch, "attestation signed by a key of member %s claims sender %q", tok.Key.Member, m.Sender.Country))
	}
	if tok.Key.Member != p.Issuer.Country { // the semantic rule ATTESTATION_ISSUER_NOT_SENDER makes this unreachable
		return refuse(protocol.Errorf(protocol.CodeSenderMismatch, "attestation signed by a key of member %s claims issuer %q", tok.Key.Member, p.Issuer.Country))
	}

	// > SPEC §11.3 step 4: createdAt and attestedAt are the same instant
	// > (ATTESTATION_TIME_MISMATCH).
	if !createdAt.Equal(attestedAt) {
		return refuse(protocol.Errorf(CodeTimeMismatch, "createdAt %s and attestedAt %s differ", m.CreatedAt, p.AttestedAt))
	}

	// > SPEC §11.3 step 5: the key was valid at attestedAt (§2): KEY_NOT_VALID;
	// > and its member was active at attestedAt: ATTESTATION_ISSUER_NOT_ACTIVE.
	if err := view.ValidAt(tok.Kid, attestedAt); err != nil {
		// ValidAt decides; the key's own half (KeyInfo.ValidAt) only tells which of its two
		// conditions failed, for the code.
		if protocol.CodeOf(err) == protocol.CodeKeyNotValid && info.ValidAt(trust.TimestampOf(attestedAt)) == nil {
			return refuse(protocol.Errorf(CodeIssuerNotActive, "member %s was not an active member of the network at %s", tok.Key.Member, v.AttestedAt.Format(time.RFC3339)))
		}
		return refuse(err)
	}

	// > SPEC §11.3 step 6: attestedAt is at most the clock skew ahead of the
	// > verifier's clock (MESSAGE_FROM_FUTURE); no maximum age applies.
	if err := protocol.CheckTimeWindow(attestedAt, now, Skew, 0); err != nil {
		return refuse(err)
	}
	// > SPEC §11.3: an attestedAt after the bundle's last entry is verified,
	// > with a warning.
	if attestedAt.After(v.BundleTime) {
		v.Warnings = append(v.Warnings, fmt.Sprintf("attested at %s, after the trust bundle's last entry (%s): a revocation decided since is not in this bundle; update it when you can",
			v.AttestedAt.Format(time.RFC3339), v.BundleTime.Format(time.RFC3339)))
	}

	// > SPEC §11.3 step 7: validUntil is after the time of checking:
	// > otherwise ATTESTATION_EXPIRED — genuine, but no longer current.
	if !now.Before(validUntil) {
		v.Outcome = OutcomeExpired
		return refuse(protocol.Errorf(CodeExpired, "valid until %s, checked at %s: genuine but no longer current; ask for a new attestation",
			v.ValidUntil.Format(time.RFC3339), v.CheckedAt.Format(time.RFC3339)))
	}
	v.Outcome = OutcomeValid
	return v, nil
}
