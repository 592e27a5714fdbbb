package attest

import (
	"time"

	"github.com/ecrn/crvsx/protocol"
)

// The attestation's own codes (SPEC §11.3, §7). A verifier reports them;
// a node never sends them. The steps every message shares keep their
// protocol codes.
const (
	// CodeIssuerNotMember: the signing key is not a member country's
	// signing key (a requester's key, say): SPEC §11.3 step 1.
	CodeIssuerNotMember protocol.Code = "ATTESTATION_ISSUER_NOT_MEMBER"
	// CodeTimeMismatch: createdAt and attestedAt are not the same
	// instant: SPEC §11.3 step 4.
	CodeTimeMismatch protocol.Code = "ATTESTATION_TIME_MISMATCH"
	// CodeIssuerNotActive: the issuing member was not active at
	// attestedAt: SPEC §11.3 step 5.
	CodeIssuerNotActive protocol.Code = "ATTESTATION_ISSUER_NOT_ACTIVE"
	// CodeExpired: validUntil has passed at the time of checking. The
	// attestation is genuine but no longer current: SPEC §11.3 step 7.
	CodeExpired protocol.Code = "ATTESTATION_EXPIRED"
)

// Limits and defaults.
const (
	// DefaultValidity is how long an attestation is valid when the
	// answer sets no ValidUntil (SPEC §11.2: by default 30 days).
	DefaultValidity = 30 * 24 * time.Hour
	// Skew bounds how far attestedAt may be ahead of the verifier's
	// clock (SPEC §6.7, §11.3 step 6).
	Skew = 5 * time.Minute
	// MaxTokenBytes bounds the compact JWS Verify accepts: far above any
	// real attestation (about 1 KB), far below protocol.MaxMessageBytes.
	// Over it: MESSAGE_TOO_LARGE, before any parsing.
	MaxTokenBytes = 16 << 10
)

// Match results (status-attestation.schema.json).
const (
	MatchUnique           = "unique-match"
	MatchNone             = "no-match"
	MatchMultiple         = "multiple-candidates"
	MatchInsufficientData = "insufficient-data"
	MatchRefused          = "refused"
)

// matchResults are the schema's values of matchResult.
var matchResults = []string{MatchUnique, MatchNone, MatchMultiple, MatchInsufficientData, MatchRefused}

// refusalReasons are the schema's values of refusalReason.
var refusalReasons = []string{"no-legal-basis", "consent-missing", "subject-protected", "policy", "other"}

// yesNo is the value set of the yes/no answers.
var yesNo = []string{"yes", "no", "unknown", "withheld"}

// answerValues maps each member of answers, in the schema's order, to its
// values (status-attestation.schema.json#/definitions/payload/answers).
var answerValues = []struct {
	name   string
	label  string
	values []string
}{
	{"isRegistered", "registered", yesNo},
	{"hasBirthRecord", "birth record", yesNo},
	{"vitalStatus", "vital status", []string{"no-death-registered", "death-registered", "unknown", "withheld"}},
	{"civilStatus", "civil status", []string{"never-married", "married", "widowed", "divorced", "annulled", "legally-separated", "unknown", "withheld"}},
	{"citizenshipConfirmed", "citizenship confirmed", yesNo},
	{"identityDocumentValid", "identity document valid", yesNo},
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
