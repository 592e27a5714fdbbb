package semantic

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ecrn/crvsx/protocol"
)

// TestCheck: each case edits a clean base message and lists every issue it
// must produce ("CODE /pointer", warnings as "warn:CODE /pointer"), no more.
func TestCheck(t *testing.T) {
	tests := []struct {
		name  string
		base  string
		edits func(t testing.TB) []edit
		want  []string
	}{
		// Clean bases.
		{name: "ok/birth-minimal", base: baseBirth},
		{name: "ok/death-minimal", base: baseDeath},
		{name: "ok/marriage-minimal", base: baseMarriage},
		{name: "ok/divorce-of-marriage-registered-in-another-country", base: baseDivorce},
		{name: "ok/adoption-sealed", base: baseAdoption},
		{name: "ok/cancellation-duplicate", base: baseCancellation},
		{name: "ok/attestation-unique-match", base: baseAttestation},
		{name: "ok/status-query", base: baseQuery},
		{name: "ok/receipt", base: baseReceipt},

		// SPEC §1, §4: an international organisation's node (INT-…) has
		// no country; a query from one is judged like any other.
		{name: "ok/status-query-from-int-sender-without-country", base: baseQuery,
			edits: e(set("/sender", map[string]any{"nodeId": "INT-UNHCR"}), set("/payload/requester/organization", "INT-UNHCR"), set("/payload/requester/organizationType", "humanitarian-un"))},
		// A node attests only its own country's records: a sender without a
		// country (INT-…) is never the issuer.
		{name: "fail/attestation-from-int-sender-without-country", base: baseAttestation,
			edits: e(set("/sender", map[string]any{"nodeId": "INT-UNHCR"})),
			want:  []string{"ATTESTATION_ISSUER_NOT_SENDER /payload/issuer/country"}},

		// registration.registrationDate ≥ event.dateOfOccurrence, at the precision both have.
		{name: "fail/registration-before-event", base: baseBirth,
			edits: e(set("/payload/registration/registrationDate", "2024-03-13")),
			want:  []string{"REGISTRATION_BEFORE_EVENT /payload/registration/registrationDate"}},
		{name: "ok/registration-on-event-day", base: baseBirth,
			edits: e(set("/payload/registration/registrationDate", "2024-03-14"))},
		{name: "fail/registration-before-year-month-event", base: baseDeath,
			edits: e(set("/createdAt", "2025-03-05T09:00:00+05:00"), set("/payload/event/dateOfOccurrence", "2025-02"), set("/payload/registration/registrationDate", "2025-01-31"), del("/payload/event/ageAtDeath")),
			want:  []string{"REGISTRATION_BEFORE_EVENT /payload/registration/registrationDate"}},
		{name: "ok/year-only-event-not-padded", base: baseDeath,
			// "2025" is not 2025-01-01 nor 2025-12-31: any day of 2025 registered on 2025-01-21 is undecidable, so no finding.
			edits: e(set("/payload/event/dateOfOccurrence", "2025"), del("/payload/event/ageAtDeath"))},
		{name: "ok/year-month-event-same-month", base: baseDeath,
			edits: e(set("/payload/event/dateOfOccurrence", "2025-01"))},

		// No date after createdAt (its date in the easternmost zone, UTC+14).
		{name: "fail/date-after-created-at", base: baseBirth,
			edits: e(set("/payload/mother/person/identifiers/0/validUntil", "2031-01-01"), set("/payload/registration/registrationDate", "2024-03-22")),
			want:  []string{"DATE_AFTER_CREATED_AT /payload/registration/registrationDate"}},
		{name: "fail/year-only-birth-date-after-created-at", base: baseBirth,
			edits: e(set("/payload/father/person/birthDate", "2025"), del("/payload/father/person/identifiers")),
			want:  []string{"DATE_AFTER_CREATED_AT /payload/father/person/birthDate", "EVENT_BEFORE_BIRTH /payload/father/person/birthDate"}},
		{name: "ok/date-next-day-late-evening", base: baseBirth,
			// 23:30 in İstanbul is already the 21st east of UTC+03:30 (Tashkent, Dushanbe, Almaty).
			edits: e(set("/createdAt", "2024-03-20T23:30:00+03:00"), set("/payload/registration/registrationDate", "2024-03-21"))},
		{name: "fail/date-next-day-early-morning", base: baseBirth,
			// 08:00 in İstanbul is 19:00 in UTC+14: the 21st has begun nowhere.
			edits: e(set("/createdAt", "2024-03-20T08:00:00+03:00"), set("/payload/registration/registrationDate", "2024-03-21")),
			want:  []string{"DATE_AFTER_CREATED_AT /payload/registration/registrationDate"}},
		{name: "fail/date-two-days-after-created-at", base: baseBirth,
			edits: e(set("/createdAt", "2024-03-20T23:59:59+03:00"), set("/payload/registration/registrationDate", "2024-03-22")),
			want:  []string{"DATE_AFTER_CREATED_AT /payload/registration/registrationDate"}},
		{name: "ok/identifier-valid-until-in-future", base: baseBirth,
			edits: e(set("/payload/mother/person/identifiers/0/validUntil", "2031-01-01"))},

		// Timestamps in the payload.
		{name: "fail/receipt-received-after-created", base: baseReceipt,
			edits: e(set("/payload/receivedAt", "2024-03-20T12:30:00+05:00")),
			want:  []string{"TIMESTAMP_AFTER_CREATED_AT /payload/receivedAt"}},
		{name: "ok/consent-within-clock-skew", base: baseQuery,
			edits: e(set("/payload/consent/obtainedAt", "2024-07-15T03:13:00Z"))},
		{name: "fail/consent-after-created", base: baseQuery,
			edits: e(set("/payload/consent/obtainedAt", "2024-07-15T03:20:00Z")),
			want:  []string{"TIMESTAMP_AFTER_CREATED_AT /payload/consent/obtainedAt"}},

		// legalDecision.finalDate ≥ decisionDate.
		{name: "fail/decision-final-before-decision", base: baseDivorce,
			edits: e(set("/payload/decision/finalDate", "2024-09-26")),
			want:  []string{"DECISION_FINAL_BEFORE_DECISION /payload/decision/finalDate"}},
		{name: "fail/dissolution-before-decision", base: baseDivorce,
			edits: e(set("/payload/decision/decisionDate", "2024-10-29"), del("/payload/decision/finalDate")),
			want:  []string{"EVENT_BEFORE_DECISION /payload/event/dateOfOccurrence"}},
		{name: "fail/adoption-before-decision", base: baseAdoption,
			edits: e(set("/payload/decision/decisionDate", "2024-05-25"), del("/payload/decision/finalDate")),
			want:  []string{"EVENT_BEFORE_DECISION /payload/event/dateOfOccurrence"}},
		{name: "fail/dissolution-before-marriage", base: baseDivorce,
			edits: e(set("/payload/dissolvedMarriage/registrationDate", "2024-10-29")),
			want:  []string{"DISSOLUTION_BEFORE_MARRIAGE /payload/event/dateOfOccurrence"}},

		// Events after the births of their persons.
		{name: "fail/marriage-before-spouse-birth", base: baseMarriage,
			edits: e(set("/payload/spouses/1/person/birthDate", "2024-09-08"), del("/payload/spouses/1/person/identifiers")),
			want:  []string{"EVENT_BEFORE_BIRTH /payload/spouses/1/person/birthDate"}},
		{name: "fail/marriage-on-spouse-birth-day", base: baseMarriage,
			edits: e(set("/payload/spouses/1/person/birthDate", "2024-09-07"), del("/payload/spouses/1/person/identifiers")),
			want:  []string{"EVENT_BEFORE_BIRTH /payload/spouses/1/person/birthDate"}},
		{name: "warn/spouse-age-unusual", base: baseMarriage,
			edits: e(set("/payload/spouses/1/person/birthDate", "2009-02-11"), del("/payload/spouses/1/person/identifiers")),
			want:  []string{"warn:SPOUSE_AGE_UNUSUAL /payload/spouses/1/person/birthDate"}},
		{name: "ok/death-on-day-of-birth", base: baseDeath,
			edits: e(set("/payload/deceased/birthDate", "2025-01-19"), del("/payload/deceased/identifiers"), set("/payload/event/ageAtDeath", raw(t, `{"value": 5, "unit": "hours"}`)))},
		{name: "fail/death-before-birth", base: baseDeath,
			edits: e(set("/payload/deceased/birthDate", "2025-01-20"), del("/payload/deceased/identifiers"), del("/payload/event/ageAtDeath")),
			want:  []string{"EVENT_BEFORE_BIRTH /payload/deceased/birthDate"}},
		{name: "fail/father-born-after-child", base: baseBirth,
			edits: e(set("/payload/father/person/birthDate", "2024-03-16"), del("/payload/father/person/identifiers")),
			want:  []string{"EVENT_BEFORE_BIRTH /payload/father/person/birthDate"}},
		{name: "ok/recognition-before-birth-not-compared", base: baseBirth,
			edits: func(t testing.TB) []edit {
				return []edit{set("/messageType", "event.recognition"), set("/payload/child/birthDate", "2024-03-18")}
			}},

		// A live birth's child is born on the event's date.
		{name: "fail/child-birth-date-mismatch", base: baseBirth,
			edits: e(set("/payload/child/birthDate", "2024-03-15")),
			want:  []string{"CHILD_BIRTH_DATE_MISMATCH /payload/child/birthDate"}},
		{name: "ok/child-birth-date-year-month", base: baseBirth,
			edits: e(set("/payload/child/birthDate", "2024-03"))},
		{name: "ok/leap-day-birth-to-leap-day-mother", base: baseBirth,
			edits: e(set("/payload/event/dateOfOccurrence", "2024-02-29"), set("/payload/child/birthDate", "2024-02-29"),
				set("/payload/mother/person/birthDate", "1996-02-29"))},

		// Mother's age at the birth: error outside 5–80, warning outside 13–55.
		{name: "fail/mother-age-implausible-child-date-copied", base: baseBirth,
			edits: e(set("/payload/mother/person/birthDate", "2024-03-13")),
			want:  []string{"MOTHER_AGE_IMPLAUSIBLE /payload/mother/person/birthDate"}},
		{name: "fail/mother-age-implausible-wrong-century", base: baseBirth,
			edits: e(set("/payload/mother/person/birthDate", "1896-07-02")),
			want:  []string{"MOTHER_AGE_IMPLAUSIBLE /payload/mother/person/birthDate"}},
		{name: "warn/mother-age-unusual-young", base: baseBirth,
			edits: e(set("/payload/mother/person/birthDate", "2011-07-02")),
			want:  []string{"warn:MOTHER_AGE_UNUSUAL /payload/mother/person/birthDate"}},
		{name: "warn/mother-age-unusual-old", base: baseBirth,
			edits: e(set("/payload/mother/person/birthDate", "1966")),
			want:  []string{"warn:MOTHER_AGE_UNUSUAL /payload/mother/person/birthDate"}},
		{name: "ok/mother-age-13-on-birthday", base: baseBirth,
			edits: e(set("/payload/mother/person/birthDate", "2011-03-14"))},
		{name: "ok/mother-age-undecidable-at-year-precision", base: baseBirth,
			// Born some day of 1968, the mother is 55 or 56 on 2024-03-14: not surely over 55.
			edits: e(set("/payload/mother/person/birthDate", "1968"))},
		{name: "fail/fetal-death-mother-age", base: baseBirth,
			edits: e(set("/messageType", "event.fetal-death"), del("/payload/child"), set("/payload/mother/person/birthDate", "2021-01-01")),
			want:  []string{"MOTHER_AGE_IMPLAUSIBLE /payload/mother/person/birthDate"}},

		// estimatedAgeYears and ageAtDeath.
		{name: "fail/estimated-age-range-inverted", base: baseDeath,
			edits: e(del("/payload/deceased/birthDate"), set("/payload/deceased/estimatedAgeYears", raw(t, `{"min": 45, "max": 30}`))),
			want:  []string{"ESTIMATED_AGE_RANGE_INVERTED /payload/deceased/estimatedAgeYears"}},
		{name: "ok/estimated-age-single-year", base: baseDeath,
			edits: e(del("/payload/deceased/birthDate"), set("/payload/deceased/estimatedAgeYears", raw(t, `{"min": 40, "max": 40}`)))},
		{name: "warn/age-at-death-inconsistent", base: baseDeath,
			edits: e(set("/payload/event/ageAtDeath/value", num(35))),
			want:  []string{"warn:AGE_AT_DEATH_INCONSISTENT /payload/event/ageAtDeath/value"}},
		{name: "ok/age-at-death-year-only-birth", base: baseDeath,
			edits: e(set("/payload/deceased/birthDate", "1991"), set("/payload/event/ageAtDeath/value", num(34)), del("/payload/deceased/identifiers"))},

		// Amendments and cancellations.
		{name: "fail/amendment-before-event", base: baseBirth,
			edits: func(t testing.TB) []edit {
				return []edit{set("/payload/action", "amend"), set("/payload/amendment", raw(t,
					`{"supersedesMessageId": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "reason": "clerical-error", "effectiveDate": "2024-03-13"}`))}
			},
			want: []string{"AMENDMENT_BEFORE_EVENT /payload/amendment/effectiveDate"}},
		{name: "fail/cancellation-before-registration", base: baseCancellation,
			edits: e(set("/payload/effectiveDate", "2024-03-10")),
			want:  []string{"CANCELLATION_BEFORE_REGISTRATION /payload/effectiveDate"}},

		// Identifiers.
		{name: "fail/tckn-check-digit", base: baseMarriage,
			edits: e(set("/payload/spouses/1/person/identifiers/0/value", "17463529031")),
			want:  []string{"TCKN_CHECK_DIGIT /payload/spouses/1/person/identifiers/0/value"}},
		{name: "fail/tckn-tenth-digit", base: baseMarriage,
			edits: e(set("/payload/spouses/1/person/identifiers/0/value", "17463529041")),
			want:  []string{"TCKN_CHECK_DIGIT /payload/spouses/1/person/identifiers/0/value"}},
		{name: "ok/tckn-of-foreign-resident-99", base: baseBirth},
		{name: "ok/iin-female-1990s", base: baseDeath},
		{name: "ok/iin-second-weights", base: baseDeath,
			edits: e(set("/payload/deceased/identifiers/0/value", "061211600012"), set("/payload/deceased/birthDate", "2006-12-11"), del("/payload/event/ageAtDeath"))},
		{name: "fail/iin-check-digit", base: baseDeath,
			edits: e(set("/payload/deceased/identifiers/0/value", "910423403184")),
			want:  []string{"IIN_CHECK_DIGIT /payload/deceased/identifiers/0/value"}},
		{name: "fail/iin-sex-mismatch", base: baseDeath,
			edits: e(set("/payload/deceased/sex", num(1))),
			want:  []string{"IIN_SEX_MISMATCH /payload/deceased/identifiers/0/value"}},
		{name: "ok/iin-sex-unknown-not-compared", base: baseDeath,
			edits: e(set("/payload/deceased/sex", num(9)))},
		{name: "fail/iin-birth-date-mismatch", base: baseDeath,
			edits: e(set("/payload/deceased/birthDate", "1991-04-24")),
			want:  []string{"IIN_BIRTH_DATE_MISMATCH /payload/deceased/identifiers/0/value"}},
		{name: "warn/iin-birth-date-estimated", base: baseDeath,
			edits: e(set("/payload/deceased/birthDate", "1991-01-01"), set("/payload/deceased/birthDateEstimated", true), set("/payload/event/ageAtDeath/value", num(34))),
			want:  []string{"warn:IIN_BIRTH_DATE_MISMATCH /payload/deceased/identifiers/0/value"}},
		{name: "ok/iin-year-only-birth-date", base: baseDeath,
			edits: e(set("/payload/deceased/birthDate", "1991"))},
		{name: "fail/iin-year-only-birth-date-other-year", base: baseDeath,
			edits: e(set("/payload/deceased/birthDate", "1990"), del("/payload/event/ageAtDeath")),
			want:  []string{"IIN_BIRTH_DATE_MISMATCH /payload/deceased/identifiers/0/value"}},
		{name: "fail/iin-date-invalid", base: baseBirth,
			edits: e(set("/payload/father/person/identifiers/0/value", "931305304572")),
			want:  []string{"IIN_DATE_INVALID /payload/father/person/identifiers/0/value"}},
		{name: "fail/iin-in-status-query-subject", base: baseQuery,
			edits: e(set("/payload/subject/birthDate", "1992-04-23")),
			want:  []string{"IIN_BIRTH_DATE_MISMATCH /payload/subject/identifiers/0/value"}},
		{name: "ok/pinfl-male-1990s", base: baseMarriage},
		{name: "fail/pinfl-check-digit", base: baseMarriage,
			edits: e(set("/payload/spouses/0/person/identifiers/0/value", "31505902610018")),
			want:  []string{"PINFL_CHECK_DIGIT /payload/spouses/0/person/identifiers/0/value"}},
		{name: "fail/pinfl-sex-mismatch", base: baseMarriage,
			edits: e(set("/payload/spouses/0/person/sex", num(2))),
			want:  []string{"PINFL_SEX_MISMATCH /payload/spouses/0/person/identifiers/0/value"}},
		{name: "fail/pinfl-birth-date-mismatch", base: baseMarriage,
			edits: e(set("/payload/spouses/0/person/birthDate", "1990-06")),
			want:  []string{"PINFL_BIRTH_DATE_MISMATCH /payload/spouses/0/person/identifiers/0/value"}},
		{name: "fail/identifier-country-mismatch", base: baseMarriage,
			edits: e(set("/payload/spouses/0/person/identifiers/0/issuingCountry", "TJ")),
			want:  []string{"IDENTIFIER_COUNTRY_MISMATCH /payload/spouses/0/person/identifiers/0/issuingCountry"}},

		// Purpose and protection.
		{name: "fail/citizenship-notification-to-non-citizen-country", base: baseDeath,
			edits: e(set("/recipient", raw(t, `{"nodeId": "KG-GRS-CRVS", "country": "KG"}`))),
			want:  []string{"PURPOSE_RECIPIENT_NOT_CITIZENSHIP /purpose"}},
		{name: "fail/citizenship-notification-to-international-node", base: baseDeath,
			edits: e(set("/recipient", raw(t, `{"nodeId": "INT-UNHCR-UZ"}`))),
			want:  []string{"PURPOSE_RECIPIENT_NOT_CITIZENSHIP /purpose"}},
		{name: "ok/citizenship-notification-to-father-country", base: baseBirth,
			edits: e(set("/recipient", raw(t, `{"nodeId": "KZ-MOJ-CRVS", "country": "KZ"}`)))},
		{name: "ok/other-purpose-to-other-country", base: baseDeath,
			edits: e(set("/recipient", raw(t, `{"nodeId": "KG-GRS-CRVS", "country": "KG"}`)), set("/purpose", "statistics"))},
		{name: "fail/refugee-reported-to-citizenship-country", base: baseBirth,
			edits: e(set("/payload/mother/person/nationalityStatus", "refugee")),
			want:  []string{"REFUGEE_REPORTED_TO_CITIZENSHIP_COUNTRY /payload/mother/person/nationalityStatus"}},
		{name: "fail/asylum-seeker-reported-to-citizenship-country", base: baseDeath,
			edits: e(set("/payload/deceased/nationalityStatus", "asylum-seeker"), set("/purpose", "statistics")),
			want:  []string{"REFUGEE_REPORTED_TO_CITIZENSHIP_COUNTRY /payload/deceased/nationalityStatus"}},
		{name: "ok/refugee-reported-to-international-node", base: baseDeath,
			edits: e(set("/payload/deceased/nationalityStatus", "refugee"), set("/purpose", "protection-notification"),
				set("/recipient", raw(t, `{"nodeId": "INT-UNHCR-UZ"}`)))},

		// Attestation alone.
		{name: "fail/attestation-validity-inverted", base: baseAttestation,
			edits: e(set("/payload/validUntil", "2024-07-15T09:30:00+06:00")),
			want:  []string{"ATTESTATION_VALIDITY_INVERTED /payload/validUntil"}},
		{name: "fail/attestation-issuer-not-sender", base: baseAttestation,
			edits: e(set("/payload/issuer/country", "UZ")),
			want:  []string{"ATTESTATION_ISSUER_NOT_SENDER /payload/issuer/country"}},
		{name: "fail/attestation-attested-after-created", base: baseAttestation,
			edits: e(set("/payload/attestedAt", "2024-07-15T09:40:00+06:00")),
			want:  []string{"TIMESTAMP_AFTER_CREATED_AT /payload/attestedAt"}},

		// Text hygiene.
		{name: "fail/text-bidi-override", base: baseBirth,
			edits: e(set("/payload/event/placeOfOccurrence/locality", "İstanbul\u202E")),
			want:  []string{"TEXT_BIDI_CONTROL /payload/event/placeOfOccurrence/locality"}},
		{name: "fail/text-bidi-isolate-in-name", base: baseBirth,
			edits: e(set("/payload/child/names/1/givenNames", "\u2067Madina\u2069")),
			want:  []string{"warn:NAME_PART_NOT_IN_FULL_NAME /payload/child/names/1/givenNames", "TEXT_BIDI_CONTROL /payload/child/names/1/givenNames"}},
		{name: "ok/zwnj-in-dari-name", base: baseBirth,
			edits: e(set("/payload/child/names/1", raw(t, `{"use": "native-script", "script": "Arab", "language": "fa", "fullName": "مدینه رحیم\u200cزاده", "familyName": "رحیم\u200cزاده", "givenNames": "مدینه"}`)))},
		{name: "ok/right-to-left-mark-allowed", base: baseBirth,
			edits: e(set("/payload/event/placeOfOccurrence/addressLine", "Fatih \u200Fİstanbul"))},
		{name: "warn/name-mixed-script-cyrillic-a-in-latin", base: baseBirth,
			edits: e(set("/payload/child/names/1/givenNames", "M\u0430dina"), set("/payload/child/names/1/fullName", "M\u0430dina Rahimzoda")),
			want:  []string{"warn:NAME_MIXED_SCRIPT /payload/child/names/1/fullName", "warn:NAME_MIXED_SCRIPT /payload/child/names/1/givenNames"}},
		{name: "ok/uzbek-okina-not-mixed", base: baseMarriage},
		{name: "warn/name-script-mismatch", base: baseBirth,
			edits: e(set("/payload/child/names/0/script", "Latn")),
			want: []string{"warn:NAME_SCRIPT_MISMATCH /payload/child/names/0/familyName", "warn:NAME_SCRIPT_MISMATCH /payload/child/names/0/fullName",
				"warn:NAME_SCRIPT_MISMATCH /payload/child/names/0/givenNames"}},
		{name: "warn/name-part-not-in-full-name", base: baseBirth,
			edits: e(set("/payload/child/names/1/familyName", "Saidova")),
			want:  []string{"warn:NAME_PART_NOT_IN_FULL_NAME /payload/child/names/1/familyName"}},
		{name: "ok/name-part-turkish-capitals", base: baseMarriage,
			edits: e(set("/payload/spouses/1/person/names/0/givenNames", "AYŞE"))},
		{name: "warn/mixed-script-family-name-after-event", base: baseMarriage,
			edits: e(set("/payload/spouses/1/familyNameAfterEvent", "Gʻul\u043Emova")),
			want:  []string{"warn:NAME_MIXED_SCRIPT /payload/spouses/1/familyNameAfterEvent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := mustDecode(t, tt.base)
			if tt.edits != nil {
				apply(t, doc, tt.edits(t))
			}
			got := Check(doc)
			if want := tt.want; !slices.Equal(summary(got), append([]string{}, want...)) {
				t.Errorf("got %q, want %q%s", summary(got), want, dump(got))
			}
			checkIssues(t, doc, got)
		})
	}
}

func e(edits ...edit) func(testing.TB) []edit {
	return func(testing.TB) []edit { return edits }
}

var codeRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]{2,40}$`)

// checkIssues asserts the properties every result has: known codes with
// their severity, sorted by (pointer, code), no duplicates, pointers that
// resolve in the document, a message for humans.
func checkIssues(t testing.TB, doc map[string]any, issues []protocol.Issue) {
	t.Helper()
	for i, is := range issues {
		if !codeRE.MatchString(is.Code) || !slices.Contains(Codes, is.Code) {
			t.Errorf("issue %d: code %q is not a listed code", i, is.Code)
		}
		if want := Severity(is.Code); is.Severity != want && !(is.Severity == protocol.SeverityWarning && strings.HasSuffix(is.Code, "_BIRTH_DATE_MISMATCH")) {
			t.Errorf("issue %d: severity %q, want %q", i, is.Severity, want)
		}
		if is.Message == "" {
			t.Errorf("issue %d: no message", i)
		}
		if _, _, _, ok := resolve(doc, is.Pointer); !ok {
			t.Errorf("issue %d: pointer %q does not resolve", i, is.Pointer)
		}
		if i > 0 {
			p := issues[i-1]
			if p.Pointer > is.Pointer || (p.Pointer == is.Pointer && p.Code >= is.Code) {
				t.Errorf("issues %d, %d not sorted or duplicated: %v, %v", i-1, i, p, is)
			}
		}
	}
}

func TestCodes(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Codes {
		if !codeRE.MatchString(c) {
			t.Errorf("code %q does not match %s", c, codeRE)
		}
		if seen[c] {
			t.Errorf("code %q listed twice", c)
		}
		seen[c] = true
	}
}

// TestAttestationAnswers: the rules that need the query.
func TestAttestationAnswers(t *testing.T) {
	tests := []struct {
		name  string
		edits []edit
		want  []string
	}{
		{name: "ok/answers-subset-of-questions"},
		{name: "ok/no-answers-no-match", edits: []edit{del("/payload/answers"), set("/payload/matchResult", "no-match")}},
		{name: "fail/answer-not-asked", edits: []edit{set("/payload/answers/civilStatus", "married")},
			want: []string{"ATTESTATION_ANSWER_NOT_ASKED /payload/answers/civilStatus"}},
		{name: "fail/attestation-of-other-query", edits: []edit{set("/payload/inResponseTo", "9f8e7d6c-5b4a-4f3e-8d2c-1b0a9f8e7d6c")},
			want: []string{"ATTESTATION_QUERY_MISMATCH /payload/inResponseTo"}},
		{name: "fail/attestation-to-other-node", edits: []edit{set("/recipient/nodeId", "INT-UNHCR-TR")},
			want: []string{"ATTESTATION_QUERY_MISMATCH /recipient/nodeId"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			att := mustDecode(t, baseAttestation)
			apply(t, att, tt.edits)
			got := CheckAttestationAnswers(att, mustDecode(t, baseQuery))
			if !slices.Equal(summary(got), append([]string{}, tt.want...)) {
				t.Errorf("got %q, want %q%s", summary(got), tt.want, dump(got))
			}
			checkIssues(t, att, got)
		})
	}
}
