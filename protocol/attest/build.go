package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/schemas"
)

// ErrInvalidAnswer is the family of Build's refusals: the answer is not
// one a node may sign. It is the caller's bug, never the requester's.
var ErrInvalidAnswer = errors.New("attest: invalid answer")

// Issuer is the member that attests (payload.issuer).
type Issuer struct {
	Country   string `json:"country"`   // the member's country code; the signing key's member
	Authority string `json:"authority"` // the authority's name, as it wants to be read (1–200 code points)
}

// Answer is what a member node answers to a status.query (SPEC §11.2).
type Answer struct {
	// InResponseTo is the query's messageId.
	InResponseTo string
	// Sender is this node: its node id and its member's country
	// (Country may be left empty: it is Issuer.Country).
	Sender protocol.Endpoint
	// Recipient is the requester: NodeID is the requester id
	// (INT-UNHCR, KG-BORDER) and Country its country, empty for an
	// international organisation.
	Recipient protocol.Endpoint
	// Issuer is the attesting member.
	Issuer Issuer
	// MatchResult is unique-match, no-match, multiple-candidates,
	// insufficient-data or refused.
	MatchResult string
	// RefusalReason is required with refused and forbidden otherwise.
	RefusalReason string
	// Answers maps the schema's answer members (isRegistered,
	// hasBirthRecord, vitalStatus, civilStatus, citizenshipConfirmed,
	// identityDocumentValid) to their values; only with unique-match,
	// only for the questions asked.
	Answers map[string]string
	// AttestedAt is when the node signs; it is also the message's
	// createdAt (SPEC §11.3 step 4). It is written to the second.
	AttestedAt time.Time
	// ValidUntil is the end of validity; zero means AttestedAt +
	// DefaultValidity.
	ValidUntil time.Time
	// Purpose is the query's purpose, copied.
	Purpose string
}

// message is the status.attestation, in the order of the data dictionary.
type message = protocol.Outgoing[payload]

type payload struct {
	InResponseTo  string          `json:"inResponseTo"`
	MatchResult   string          `json:"matchResult"`
	Answers       json.RawMessage `json:"answers,omitempty"`
	AttestedAt    string          `json:"attestedAt"`
	ValidUntil    string          `json:"validUntil"`
	Issuer        Issuer          `json:"issuer"`
	RefusalReason string          `json:"refusalReason,omitempty"`
}

// Build returns the status.attestation message JSON (envelope and
// payload) of an answer, with messageId messageID and no correlationId
// (payload.inResponseTo names the query; every byte counts in a QR code).
// The caller signs it with the member's signing key and
// typ protocol.TypAttestation. Build refuses (ErrInvalidAnswer) an answer
// that is inconsistent or that the schemas and semantic rules refuse:
// answers without unique-match, a refusalReason without refused (or
// refused without one), ValidUntil not after AttestedAt, an answer member
// or value outside the schema's, a sender that is not the issuer.
func Build(a Answer, messageID string) ([]byte, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidAnswer, fmt.Sprintf(format, args...))
	}
	if !contains(matchResults, a.MatchResult) {
		return nil, bad("matchResult %q is not one of %v", a.MatchResult, matchResults)
	}
	// > SPEC §11.2 answers only on unique-match.
	if len(a.Answers) > 0 && a.MatchResult != MatchUnique {
		return nil, bad("answers are given only with %s, not %s", MatchUnique, a.MatchResult)
	}
	// > SPEC §11.2 refused with refusalReason.
	switch {
	case a.MatchResult == MatchRefused && a.RefusalReason == "":
		return nil, bad("%s needs a refusalReason", MatchRefused)
	case a.MatchResult != MatchRefused && a.RefusalReason != "":
		return nil, bad("refusalReason %q is given only with %s, not %s", a.RefusalReason, MatchRefused, a.MatchResult)
	case a.RefusalReason != "" && !contains(refusalReasons, a.RefusalReason):
		return nil, bad("refusalReason %q is not one of %v", a.RefusalReason, refusalReasons)
	}
	answers, err := marshalAnswers(a.Answers)
	if err != nil {
		return nil, bad("%v", err)
	}
	if a.AttestedAt.IsZero() {
		return nil, bad("attestedAt is required")
	}
	at := a.AttestedAt.UTC().Truncate(time.Second)
	until := a.ValidUntil
	if until.IsZero() {
		until = at.Add(DefaultValidity)
	}
	until = until.UTC().Truncate(time.Second)
	if !until.After(at) {
		return nil, bad("validUntil %s is not after attestedAt %s", until.Format(time.RFC3339), at.Format(time.RFC3339))
	}
	sender := a.Sender
	if sender.Country == "" {
		sender.Country = a.Issuer.Country
	}
	if sender.Country != a.Issuer.Country {
		return nil, bad("a node attests only its own member's records: sender %s, issuer %s", sender.Country, a.Issuer.Country)
	}
	msg := message{
		SchemaVersion: protocol.SchemaVersion,
		MessageType:   protocol.MTStatusAttestation,
		MessageID:     messageID,
		// > SPEC §11.3 step 4: createdAt and attestedAt are the same instant.
		CreatedAt: at.Format(time.RFC3339),
		Sender:    sender,
		Recipient: a.Recipient,
		Purpose:   a.Purpose,
		Payload: payload{
			InResponseTo:  a.InResponseTo,
			MatchResult:   a.MatchResult,
			Answers:       answers,
			AttestedAt:    at.Format(time.RFC3339),
			ValidUntil:    until.Format(time.RFC3339),
			Issuer:        a.Issuer,
			RefusalReason: a.RefusalReason,
		},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(msg); err != nil {
		return nil, fmt.Errorf("attest: encode: %w", err)
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	// > SPEC §6.5 the payload is in Unicode NFC; §6.6 valid against the
	// > schema and the semantic rules: what a verifier will check.
	if !schemas.IsNFC(out) {
		return nil, bad("the message is not in Unicode NFC (normalise the authority's name)")
	}
	if _, err := schemas.Default().Validate(out); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidAnswer, err)
	}
	return out, nil
}

// marshalAnswers checks every member and value against the schema's enums
// and writes them in the schema's order.
func marshalAnswers(m map[string]string) (json.RawMessage, error) {
	if len(m) == 0 {
		return nil, nil
	}
	for name, v := range m {
		ok := false
		for _, a := range answerValues {
			if a.name == name {
				if !contains(a.values, v) {
					return nil, fmt.Errorf("answer %s: %q is not one of %v", name, v, a.values)
				}
				ok = true
			}
		}
		if !ok {
			names := make([]string, 0, len(answerValues))
			for _, a := range answerValues {
				names = append(names, a.name)
			}
			sort.Strings(names)
			return nil, fmt.Errorf("answer %q is not one of %v", name, names)
		}
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	for _, a := range answerValues {
		v, ok := m[a.name]
		if !ok {
			continue
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&buf, "%q:%q", a.name, v) // enum values: ASCII, no escaping needed
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
