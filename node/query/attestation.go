package query

import (
	"fmt"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/attest"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/schemas"
	"github.com/ecrn/crvsx/schemas/semantic"
)

// The attestation is protocol/attest's (attest.Build); this file adds the
// node's own checks against the query and signs it.

// Refusal reasons of a status.attestation (schema enum refusalReason).
const RefusalSubjectProtected = "subject-protected"

// answer is what the node attests about one query.
type answer struct {
	query       map[string]any // the decoded query (for the semantic cross-check)
	queryID     string
	purpose     string
	self        protocol.Endpoint // this node: sender, issuer.country
	authority   string
	to          protocol.Endpoint // the requester
	matchResult string
	refusal     string
	answers     map[string]string // by attestation member
	attestedAt  time.Time
	validUntil  time.Time
}

// buildAttestation builds, validates and signs the status.attestation of
// SPEC §11.2 with the member's signing key: inResponseTo the query's
// messageId (an attestation has no correlationId), sender and issuer this node and
// member, recipient the requester. It is validated against the schemas
// and the cross-check with the query (semantic.CheckAttestationAnswers:
// answers only for the questions asked) before it is signed: a node never
// emits an invalid attestation. An error is the node's fault.
func buildAttestation(signer *jws.Signer, a answer) ([]byte, error) {
	if signer == nil || signer.Member() != a.self.Country {
		return nil, fmt.Errorf("query: attestation: no signing key of member %q", a.self.Country)
	}
	payload, err := attest.Build(attest.Answer{
		InResponseTo: a.queryID, Sender: a.self, Recipient: a.to,
		Issuer:      attest.Issuer{Country: a.self.Country, Authority: a.authority},
		MatchResult: a.matchResult, RefusalReason: a.refusal, Answers: a.answers,
		AttestedAt: a.attestedAt, ValidUntil: a.validUntil, Purpose: a.purpose,
	}, protocol.NewUUID())
	if err != nil {
		return nil, fmt.Errorf("query: attestation for %s: %w", a.queryID, err)
	}
	res, err := schemas.Default().Validate(payload)
	if err != nil {
		return nil, fmt.Errorf("query: attestation for %s is not valid: %w", a.queryID, err)
	}
	if is := semantic.CheckAttestationAnswers(res.Doc, a.query); len(is) > 0 {
		return nil, fmt.Errorf("query: attestation for %s does not fit its query: %v", a.queryID, is)
	}
	out, err := signer.Sign(protocol.TypAttestation, payload)
	if err != nil {
		return nil, fmt.Errorf("query: attestation: %w", err)
	}
	return out, nil
}
