package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/schemas"
	"github.com/ecrn/crvsx/schemas/semantic"
)

// This file is the attestation builder until protocol/attest exists
// (attest.Build, then signing with typ crvs-attestation+jws): the lead
// replaces buildAttestation with it.

// Refusal reasons of a status.attestation (schema enum refusalReason).
const RefusalSubjectProtected = "subject-protected"

// answerMember maps a question to its member of an attestation's answers.
var answerMember = map[string]string{
	"is-registered":           "isRegistered",
	"has-birth-record":        "hasBirthRecord",
	"vital-status":            "vitalStatus",
	"civil-status":            "civilStatus",
	"citizenship-confirmed":   "citizenshipConfirmed",
	"identity-document-valid": "identityDocumentValid",
}

// answer is what the node attests about one query.
type answer struct {
	query         map[string]any // the decoded query (for the semantic cross-check)
	schemaVersion string
	queryID       string
	purpose       string
	self          protocol.Endpoint // this node: sender, issuer.country
	authority     string
	to            protocol.Endpoint // the requester
	matchResult   string
	refusal       string
	answers       map[string]string // by attestation member
	attestedAt    time.Time
	validUntil    time.Time
}

type attestationMessage struct {
	SchemaVersion string             `json:"schemaVersion"`
	MessageType   string             `json:"messageType"`
	MessageID     string             `json:"messageId"`
	CorrelationID string             `json:"correlationId"`
	CreatedAt     string             `json:"createdAt"`
	Sender        protocol.Endpoint  `json:"sender"`
	Recipient     protocol.Endpoint  `json:"recipient"`
	Purpose       string             `json:"purpose"`
	Payload       attestationPayload `json:"payload"`
}

type attestationPayload struct {
	InResponseTo  string            `json:"inResponseTo"`
	MatchResult   string            `json:"matchResult"`
	Answers       map[string]string `json:"answers,omitempty"`
	AttestedAt    string            `json:"attestedAt"`
	ValidUntil    string            `json:"validUntil"`
	Issuer        issuer            `json:"issuer"`
	RefusalReason string            `json:"refusalReason,omitempty"`
}

type issuer struct {
	Country   string `json:"country"`
	Authority string `json:"authority"`
}

// buildAttestation builds, validates and signs the status.attestation of
// SPEC §11.2 with the member's signing key: inResponseTo (and
// correlationId) the query's messageId, sender and issuer this node and
// member, recipient the requester. It is validated against the schemas
// and the cross-check with the query (semantic.CheckAttestationAnswers:
// answers only for the questions asked) before it is signed: a node never
// emits an invalid attestation. An error is the node's fault.
func buildAttestation(signer *jws.Signer, a answer) ([]byte, error) {
	if signer == nil || signer.Member() != a.self.Country {
		return nil, fmt.Errorf("query: attestation: no signing key of member %q", a.self.Country)
	}
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	m := attestationMessage{
		SchemaVersion: a.schemaVersion,
		MessageType:   protocol.MTStatusAttestation,
		MessageID:     protocol.NewUUID(),
		CorrelationID: a.queryID,
		CreatedAt:     ts(a.attestedAt),
		Sender:        a.self,
		Recipient:     a.to,
		Purpose:       a.purpose,
		Payload: attestationPayload{
			InResponseTo:  a.queryID,
			MatchResult:   a.matchResult,
			Answers:       a.answers,
			AttestedAt:    ts(a.attestedAt),
			ValidUntil:    ts(a.validUntil),
			Issuer:        issuer{Country: a.self.Country, Authority: a.authority},
			RefusalReason: a.refusal,
		},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("query: attestation: %w", err)
	}
	payload := bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
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
