package attest_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol/attest"
	"github.com/ecrn/crvsx/schemas"
)

var t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

// TestBuild is SPEC §11.2's answer rules and the schema's, refused before
// anything is signed.
func TestBuild(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(a *attest.Answer)
		fault string // "" for ok; else a fragment of the refusal
	}{
		{"ok/unique-match", func(*attest.Answer) {}, ""},
		{"ok/refused-with-reason", func(a *attest.Answer) {
			a.MatchResult, a.Answers, a.RefusalReason = attest.MatchRefused, nil, "subject-protected"
		}, ""},
		{"ok/requester-in-a-member-country", func(a *attest.Answer) { a.Recipient.NodeID, a.Recipient.Country = "KG-BORDER", "KG" }, ""},
		{"fail/answers-only-with-unique-match", func(a *attest.Answer) { a.MatchResult = attest.MatchMultiple }, "only with unique-match"},
		{"fail/refusalReason-only-with-refused", func(a *attest.Answer) { a.RefusalReason = "policy" }, "only with refused"},
		{"fail/refused-needs-a-reason", func(a *attest.Answer) { a.MatchResult, a.Answers = attest.MatchRefused, nil }, "needs a refusalReason"},
		{"fail/refusalReason-outside-the-schema", func(a *attest.Answer) {
			a.MatchResult, a.Answers, a.RefusalReason = attest.MatchRefused, nil, "bored"
		}, "not one of"},
		{"fail/matchResult-outside-the-schema", func(a *attest.Answer) { a.MatchResult = "maybe" }, "not one of"},
		{"fail/answer-member-outside-the-schema", func(a *attest.Answer) { a.Answers["fullName"] = "yes" }, `"fullName" is not one of`},
		{"fail/answer-value-outside-the-schema", func(a *attest.Answer) { a.Answers["vitalStatus"] = "alive" }, `"alive" is not one of`},
		{"fail/validUntil-not-after-attestedAt", func(a *attest.Answer) { a.ValidUntil = a.AttestedAt }, "is not after attestedAt"},
		{"fail/no-attestedAt", func(a *attest.Answer) { a.AttestedAt = time.Time{} }, "attestedAt is required"},
		{"fail/sender-is-not-the-issuer", func(a *attest.Answer) { a.Sender.Country = "KZ" }, "own member's records"},
		{"fail/inResponseTo-not-a-uuid", func(a *attest.Answer) { a.InResponseTo = "query-1" }, "SCHEMA_VALIDATION_FAILED"},
		{"fail/authority-not-nfc", func(a *attest.Answer) { a.Issuer.Authority = "Registre civil de Tadjikistan e\u0301tat" }, "NFC"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := answer(t0)
			tc.edit(&a)
			msg, err := attest.Build(a, "6b5a4f3e-2d1c-4b0a-9f8e-7d6c5b4a3f2e")
			if tc.fault == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := schemas.Default().Validate(msg); err != nil {
					t.Fatalf("Build wrote an invalid message: %v", err)
				}
				return
			}
			if !errors.Is(err, attest.ErrInvalidAnswer) || !strings.Contains(err.Error(), tc.fault) {
				t.Fatalf("err %v, want ErrInvalidAnswer with %q", err, tc.fault)
			}
			if msg != nil {
				t.Fatal("a refused answer returned a message")
			}
		})
	}
}

func TestBuildWritesTheEnvelope(t *testing.T) {
	a := answer(t0.Add(123 * time.Millisecond))
	msg, err := attest.Build(a, "6b5a4f3e-2d1c-4b0a-9f8e-7d6c5b4a3f2e")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		MessageType, MessageID, CorrelationID, CreatedAt, Purpose string
		Sender, Recipient                                         map[string]string
		Payload                                                   struct{ AttestedAt, ValidUntil string }
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.MessageType != "status.attestation", m.MessageID != "6b5a4f3e-2d1c-4b0a-9f8e-7d6c5b4a3f2e", m.CorrelationID != "":
		t.Fatalf("envelope %+v", m)
	case m.CreatedAt != "2026-12-04T10:00:00Z" || m.Payload.AttestedAt != m.CreatedAt:
		t.Fatalf("createdAt %s attestedAt %s: both the signing time, to the second", m.CreatedAt, m.Payload.AttestedAt)
	case m.Payload.ValidUntil != "2027-01-03T10:00:00Z":
		t.Fatalf("validUntil %s, want 30 days later by default", m.Payload.ValidUntil)
	case m.Sender["country"] != "TJ" || m.Sender["nodeId"] != "TJ-MOJ-CRVS":
		t.Fatalf("sender %v", m.Sender)
	case m.Recipient["nodeId"] != "INT-UNHCR" || m.Recipient["country"] != "":
		t.Fatalf("recipient %v: an international requester has no country", m.Recipient)
	case m.Purpose != "humanitarian-verification":
		t.Fatalf("purpose %s", m.Purpose)
	}
	if !strings.Contains(string(msg), `"answers":{"isRegistered":"yes","vitalStatus":"no-death-registered","civilStatus":"married"}`) {
		t.Fatalf("answers not in the schema's order: %s", msg)
	}
}
