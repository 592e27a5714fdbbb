package semantic

import "github.com/ecrn/crvsx/protocol"

// The stable codes of the semantic rules (RULES.md describes each one, with
// its pointer). Codes never change meaning and are never reused. Every rule
// is an error unless Severity says warning.
const (
	// Dates.
	CodeRegistrationBeforeEvent   = "REGISTRATION_BEFORE_EVENT"        // registration.registrationDate < event.dateOfOccurrence
	CodeDateAfterCreatedAt        = "DATE_AFTER_CREATED_AT"            // a date later than any calendar date current at createdAt
	CodeTimestampAfterCreatedAt   = "TIMESTAMP_AFTER_CREATED_AT"       // receivedAt/attestedAt/obtainedAt later than createdAt + ClockSkew
	CodeFinalBeforeDecision       = "DECISION_FINAL_BEFORE_DECISION"   // legalDecision.finalDate < decisionDate
	CodeEventBeforeBirth          = "EVENT_BEFORE_BIRTH"               // the event precedes the birth of one of its persons
	CodeChildBirthDateMismatch    = "CHILD_BIRTH_DATE_MISMATCH"        // live birth: child.birthDate ≠ event.dateOfOccurrence
	CodeMotherAgeImplausible      = "MOTHER_AGE_IMPLAUSIBLE"           // mother's age at the birth < 5 or > 80 years
	CodeMotherAgeUnusual          = "MOTHER_AGE_UNUSUAL"               // warning: mother's age at the birth < 13 or > 55 years
	CodeSpouseAgeUnusual          = "SPOUSE_AGE_UNUSUAL"               // warning: a spouse younger than 16 at the marriage
	CodeEstimatedAgeInverted      = "ESTIMATED_AGE_RANGE_INVERTED"     // estimatedAgeYears.min > max
	CodeAgeAtDeathInconsistent    = "AGE_AT_DEATH_INCONSISTENT"        // warning: ageAtDeath (years) disagrees with birth and death dates
	CodeAmendmentBeforeEvent      = "AMENDMENT_BEFORE_EVENT"           // amendment.effectiveDate < event.dateOfOccurrence
	CodeEventBeforeDecision       = "EVENT_BEFORE_DECISION"            // dissolution/adoption dated before the decision that makes it
	CodeDissolutionBeforeMarriage = "DISSOLUTION_BEFORE_MARRIAGE"      // dissolution dated before the dissolved marriage's registration
	CodeCancellationBeforeRecord  = "CANCELLATION_BEFORE_REGISTRATION" // cancellation effective before the cancelled record's registration
	CodeAttestationValidity       = "ATTESTATION_VALIDITY_INVERTED"    // attestation validUntil ≤ attestedAt

	// Identifiers.
	CodeTCKNCheckDigit    = "TCKN_CHECK_DIGIT"            // TR-TCKN 10th or 11th digit wrong
	CodeIINCheckDigit     = "IIN_CHECK_DIGIT"             // KZ-IIN 12th digit wrong (or an unissuable number)
	CodeIINDateInvalid    = "IIN_DATE_INVALID"            // KZ-IIN digits 1–6 are not a calendar date
	CodeIINBirthDate      = "IIN_BIRTH_DATE_MISMATCH"     // KZ-IIN birth date ≠ the person's birthDate
	CodeIINSex            = "IIN_SEX_MISMATCH"            // KZ-IIN 7th digit sex ≠ the person's sex
	CodePINFLCheckDigit   = "PINFL_CHECK_DIGIT"           // UZ-PINFL 14th digit wrong
	CodePINFLDateInvalid  = "PINFL_DATE_INVALID"          // UZ-PINFL digits 2–7 are not a calendar date
	CodePINFLBirthDate    = "PINFL_BIRTH_DATE_MISMATCH"   // UZ-PINFL birth date ≠ the person's birthDate
	CodePINFLSex          = "PINFL_SEX_MISMATCH"          // UZ-PINFL 1st digit sex ≠ the person's sex
	CodeIdentifierCountry = "IDENTIFIER_COUNTRY_MISMATCH" // a national scheme with another issuingCountry

	// Purpose and protection.
	CodeNotCitizenshipCountry = "PURPOSE_RECIPIENT_NOT_CITIZENSHIP"       // citizenship-notification to a country no subject holds
	CodeRefoulement           = "REFUGEE_REPORTED_TO_CITIZENSHIP_COUNTRY" // a refugee/asylum-seeker reported to their own country
	CodeIssuerNotSender       = "ATTESTATION_ISSUER_NOT_SENDER"           // attestation issuer.country ≠ sender.country

	// Attestation against its query (CheckAttestationAnswers, run by the node).
	CodeAnswerNotAsked = "ATTESTATION_ANSWER_NOT_ASKED" // an answer to a question the query did not ask
	CodeQueryMismatch  = "ATTESTATION_QUERY_MISMATCH"   // inResponseTo is not the query's messageId

	// Text hygiene.
	CodeBidiControl        = "TEXT_BIDI_CONTROL"          // U+202A–U+202E or U+2066–U+2069 in a string
	CodeNameMixedScript    = "NAME_MIXED_SCRIPT"          // warning: one word of a name mixes scripts
	CodeNameScriptMismatch = "NAME_SCRIPT_MISMATCH"       // warning: a name's letters are not in its declared script
	CodeNamePartNotInFull  = "NAME_PART_NOT_IN_FULL_NAME" // warning: familyName/givenNames/patronymic not found in fullName
)

// Severity returns the severity of a rule's code: protocol.SeverityWarning
// for the warning rules, protocol.SeverityError for every other code.
func Severity(code string) string {
	switch code {
	case CodeMotherAgeUnusual, CodeSpouseAgeUnusual, CodeAgeAtDeathInconsistent,
		CodeNameMixedScript, CodeNameScriptMismatch, CodeNamePartNotInFull:
		return protocol.SeverityWarning
	}
	return protocol.SeverityError
}

// Codes lists every code this package can return, in the order above.
var Codes = []string{
	CodeRegistrationBeforeEvent, CodeDateAfterCreatedAt, CodeTimestampAfterCreatedAt,
	CodeFinalBeforeDecision, CodeEventBeforeBirth, CodeChildBirthDateMismatch,
	CodeMotherAgeImplausible, CodeMotherAgeUnusual, CodeSpouseAgeUnusual,
	CodeEstimatedAgeInverted, CodeAgeAtDeathInconsistent, CodeAmendmentBeforeEvent,
	CodeEventBeforeDecision, CodeDissolutionBeforeMarriage, CodeCancellationBeforeRecord,
	CodeAttestationValidity,
	CodeTCKNCheckDigit, CodeIINCheckDigit, CodeIINDateInvalid, CodeIINBirthDate, CodeIINSex,
	CodePINFLCheckDigit, CodePINFLDateInvalid, CodePINFLBirthDate, CodePINFLSex,
	CodeIdentifierCountry,
	CodeNotCitizenshipCountry, CodeRefoulement, CodeIssuerNotSender,
	CodeAnswerNotAsked, CodeQueryMismatch,
	CodeBidiControl, CodeNameMixedScript, CodeNameScriptMismatch, CodeNamePartNotInFull,
}
