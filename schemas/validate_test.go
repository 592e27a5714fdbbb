package schemas

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ecrn/crvsx/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A case mutates a decoded copy of a fixture (or supplies raw bytes) and
// states the verdict: the refusal's code ("" = valid) and one issue that
// must be among the issues, as "ISSUE_CODE /pointer". only: it must be the
// only issue.
type ruleCase struct {
	name  string
	base  string // key of allFixtures
	edit  func(t *testing.T, d map[string]any)
	raw   []byte // instead of base+edit
	code  protocol.Code
	issue string
	only  bool
}

const (
	birth   = "bench/birth"
	mPtr    = "/payload/mother/person"
	fPtr    = "/payload/father/person"
	idsPtr  = mPtr + "/identifiers"
	invalid = protocol.CodeSchemaInvalid
)

// addID appends an identifier to the mother of the bench birth.
func addID(scheme, value string, more ...string) func(t *testing.T, d map[string]any) {
	return func(t *testing.T, d map[string]any) {
		id := map[string]any{"scheme": scheme, "value": value}
		for i := 0; i+1 < len(more); i += 2 {
			id[more[i]] = more[i+1]
		}
		set(t, d, idsPtr+"/2", id)
	}
}

func setTo(ptr string, v any) func(t *testing.T, d map[string]any) {
	return func(t *testing.T, d map[string]any) { set(t, d, ptr, v) }
}

func deleteAt(ptr string) func(t *testing.T, d map[string]any) {
	return func(t *testing.T, d map[string]any) { del(t, d, ptr) }
}

func edits(fns ...func(t *testing.T, d map[string]any)) func(t *testing.T, d map[string]any) {
	return func(t *testing.T, d map[string]any) {
		for _, fn := range fns {
			fn(t, d)
		}
	}
}

var ruleCases = []ruleCase{
	{name: "ok/birth-realistic", base: birth},
	{name: "ok/stateless-empty-citizenships", base: birth, edit: edits(
		setTo(mPtr+"/citizenships", []any{}),
		setTo(mPtr+"/nationalityStatus", "stateless"),
		deleteAt(idsPtr),
		setTo(mPtr+"/documents", []any{map[string]any{"documentType": "soviet-passport", "issuingFormerCountry": "SUHH", "series": "IV-ЛО", "number": "512347"}}))},
	{name: "ok/year-only-birth-date", base: birth, edit: setTo(mPtr+"/birthDate", "1996")},
	{name: "ok/year-month-birth-date", base: birth, edit: setTo(mPtr+"/birthDate", "1996-07")},
	{name: "ok/leap-day", base: birth, edit: edits(setTo("/payload/child/birthDate", "2024-02-29"), setTo("/payload/event/dateOfOccurrence", "2024-02-29"))},
	{name: "ok/unknown-father", base: birth, edit: setTo("/payload/father", map[string]any{"status": "unknown"})},
	{name: "ok/unidentified-without-names", base: birth, edit: edits(deleteAt(mPtr+"/names"), setTo(mPtr+"/identityStatus", "unidentified"))},
	{name: "ok/twin-with-birth-order", base: birth, edit: edits(setTo("/payload/event/typeOfBirth", "twin"), setTo("/payload/event/birthOrderInDelivery", 2))},
	{name: "ok/amend-with-amendment", base: birth, edit: edits(setTo("/payload/action", "amend"),
		setTo("/payload/amendment", map[string]any{"supersedesMessageId": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "reason": "clerical-error", "effectiveDate": "2024-04-01", "changedPaths": []any{"/payload/child/names/0/givenNames"}}))},
	{name: "ok/mononym", base: birth, edit: setTo(fPtr+"/names/1", map[string]any{"script": "Latn", "fullName": "Rahim", "givenNames": "Rahim", "familyNameAbsentReason": "mononym"})},
	{name: "ok/uzbek-okina", base: birth, edit: setTo(fPtr+"/names/1/fullName", "Gʻayrat Oʻrinboyev")},
	{name: "ok/arabic-script-with-zwnj", base: birth, edit: setTo(fPtr+"/names/2", map[string]any{"use": "native-script", "script": "Arab", "language": "fa", "fullName": "رحیم\u200cالله نظرزاده"})},
	{name: "ok/sex-1.0-is-the-integer-1", base: birth, raw: nil, edit: setTo("/payload/child/sex", jsonNumber("1.0"))},
	{name: "ok/international-recipient", base: birth, edit: setTo("/recipient", map[string]any{"nodeId": "INT-UNHCR-TR"})},
	{name: "ok/every-identifier-scheme", base: birth, edit: setTo(idsPtr, []any{
		map[string]any{"scheme": "TR-TCKN", "value": "10000000146"},
		map[string]any{"scheme": "KZ-IIN", "value": "960714400123"},
		map[string]any{"scheme": "UZ-PINFL", "value": "41407961234567"},
		map[string]any{"scheme": "KG-PIN", "value": "21407199600123"},
		map[string]any{"scheme": "TJ-INN", "value": "470912385"},
		map[string]any{"scheme": "AZ-FIN", "value": "5ZX81K2"},
		map[string]any{"scheme": "GE-PN", "value": "01024012345"},
		map[string]any{"scheme": "AM-PSN", "value": "1407960123"},
		map[string]any{"scheme": "MN-RD", "value": "УБ96071412"},
		map[string]any{"scheme": "PASSPORT", "value": "401562984", "issuingCountry": "TJ"},
	})},

	// Primitives.
	{name: "fail/partial-date-padded", base: birth, edit: setTo(mPtr+"/birthDate", "1996-00-00"), issue: "SCHEMA_FORMAT " + mPtr + "/birthDate", only: true},
	{name: "fail/partial-date-month-padded", base: birth, edit: setTo(mPtr+"/birthDate", "1996-00"), issue: "SCHEMA_PATTERN " + mPtr + "/birthDate", only: true},
	{name: "fail/partial-date-not-a-string", base: birth, edit: setTo(mPtr+"/birthDate", 1996), issue: "SCHEMA_TYPE " + mPtr + "/birthDate", only: true},
	{name: "fail/partial-date-feb-30", base: birth, edit: setTo("/payload/event/dateOfOccurrence", "2024-02-30"), issue: "SCHEMA_FORMAT /payload/event/dateOfOccurrence", only: true},
	{name: "fail/date-feb-30", base: birth, edit: setTo("/payload/registration/registrationDate", "2023-02-30"), issue: "SCHEMA_FORMAT /payload/registration/registrationDate", only: true},
	{name: "fail/date-1995-02-29", base: birth, edit: setTo("/payload/registration/registrationDate", "1995-02-29"), issue: "SCHEMA_FORMAT /payload/registration/registrationDate", only: true},
	{name: "fail/date-without-padding", base: birth, edit: setTo("/payload/registration/registrationDate", "2024-3-18"), issue: "SCHEMA_PATTERN /payload/registration/registrationDate"},
	{name: "fail/uuid-uppercase", base: birth, edit: setTo("/messageId", "5F0C6A52-3B8E-4D1A-9C47-2E81B6F0D9A3"), issue: "SCHEMA_PATTERN /messageId", only: true},
	{name: "fail/uuid-version-0", base: birth, edit: setTo("/messageId", "5f0c6a52-3b8e-0d1a-9c47-2e81b6f0d9a3"), issue: "SCHEMA_PATTERN /messageId", only: true},
	{name: "fail/timestamp-bare-date", base: birth, edit: setTo("/createdAt", "2024-03-18"), issue: "SCHEMA_PATTERN /createdAt", only: true},
	{name: "fail/timestamp-without-offset", base: birth, edit: setTo("/createdAt", "2024-03-18T09:41:27"), issue: "SCHEMA_PATTERN /createdAt"},
	{name: "fail/timestamp-hour-25", base: birth, edit: setTo("/createdAt", "2024-03-18T25:41:27Z"), issue: "SCHEMA_FORMAT /createdAt", only: true},
	{name: "fail/local-time-24", base: birth, edit: setTo("/payload/event/timeOfOccurrence", "24:00"), issue: "SCHEMA_PATTERN /payload/event/timeOfOccurrence", only: true},
	{name: "fail/country-not-iso-3166-1", base: birth, edit: setTo("/payload/child/citizenships/0", "SU"), issue: "SCHEMA_ENUM /payload/child/citizenships/0", only: true},
	{name: "fail/former-country-as-country", base: birth, edit: setTo(mPtr+"/documents/0/issuingCountry", "SUHH"), issue: "SCHEMA_ENUM " + mPtr + "/documents/0/issuingCountry", only: true},
	{name: "fail/script-not-iso-15924", base: birth, edit: setTo("/payload/child/names/0/script", "cyrl"), issue: "SCHEMA_ENUM /payload/child/names/0/script", only: true},
	{name: "fail/language-tag-case", base: birth, edit: setTo("/payload/child/names/1/language", "tg-latn"), issue: "SCHEMA_PATTERN /payload/child/names/1/language", only: true},
	{name: "fail/subdivision-pattern", base: birth, edit: setTo("/payload/child/birthPlace/subdivision", "TR34"), issue: "SCHEMA_PATTERN /payload/child/birthPlace/subdivision", only: true},
	{name: "fail/sex-not-iso-5218", base: birth, edit: setTo("/payload/child/sex", 3), issue: "SCHEMA_ENUM /payload/child/sex", only: true},
	{name: "fail/sex-as-string", base: birth, edit: setTo("/payload/child/sex", "1"), issue: "SCHEMA_TYPE /payload/child/sex", only: true},
	{name: "fail/text-leading-space", base: birth, edit: setTo("/payload/event/placeOfOccurrence/facilityName", " Hastane"), issue: "SCHEMA_PATTERN /payload/event/placeOfOccurrence/facilityName", only: true},
	{name: "fail/text-trailing-nbsp", base: birth, edit: setTo("/payload/event/placeOfOccurrence/facilityName", "Hastane\u00a0"), issue: "SCHEMA_PATTERN /payload/event/placeOfOccurrence/facilityName", only: true},
	{name: "fail/text-control-character", base: birth, edit: setTo("/payload/child/names/0/fullName", "Фарҳод\u0007Раҳимзода"), issue: "SCHEMA_PATTERN /payload/child/names/0/fullName", only: true},
	{name: "fail/text-empty", base: birth, edit: setTo("/payload/child/names/0/fullName", ""), issue: "SCHEMA_MIN_LENGTH /payload/child/names/0/fullName"},
	{name: "fail/name-part-101", base: birth, edit: setTo("/payload/child/names/0/familyName", strings.Repeat("ж", 101)), issue: "SCHEMA_MAX_LENGTH /payload/child/names/0/familyName", only: true},
	{name: "fail/text-201", base: birth, edit: setTo("/payload/child/names/0/fullName", strings.Repeat("ж", 201)), issue: "SCHEMA_MAX_LENGTH /payload/child/names/0/fullName", only: true},
	{name: "fail/iso-duration", base: "fixture/event.death", edit: setTo("/payload/causeOfDeath/partI/0/interval", "PT"), issue: "SCHEMA_PATTERN /payload/causeOfDeath/partI/0/interval", only: true},
	{name: "fail/icd10-pattern", base: "fixture/event.death", edit: setTo("/payload/causeOfDeath/partI/0/icd10", "s06.9"), issue: "SCHEMA_PATTERN /payload/causeOfDeath/partI/0/icd10", only: true},
	{name: "fail/icd11-pattern", base: "fixture/event.death", edit: setTo("/payload/causeOfDeath/partI/0/icd11", "NA07.Z&"), issue: "SCHEMA_PATTERN /payload/causeOfDeath/partI/0/icd11", only: true},

	// Structure.
	{name: "fail/additional-property", base: birth, edit: setTo("/payload/child/nickname", "Farik"), issue: "SCHEMA_ADDITIONAL_PROPERTY /payload/child/nickname", only: true},
	{name: "fail/additional-envelope-member", base: birth, edit: setTo("/signature", "x"), issue: "SCHEMA_ADDITIONAL_PROPERTY /signature", only: true},
	{name: "fail/member-name-with-slash", base: birth, edit: setTo("/payload/a~1b", 1), issue: "SCHEMA_ADDITIONAL_PROPERTY /payload/a~1b", only: true},
	{name: "fail/missing-sex", base: birth, edit: deleteAt("/payload/child/sex"), issue: "SCHEMA_REQUIRED /payload/child/sex", only: true},
	{name: "fail/child-without-birth-date", base: birth, edit: deleteAt("/payload/child/birthDate"), issue: "SCHEMA_REQUIRED /payload/child/birthDate", only: true},
	{name: "fail/spouse-without-birth-date", base: "fixture/event.marriage", edit: deleteAt("/payload/spouses/1/person/birthDate"), issue: "SCHEMA_REQUIRED /payload/spouses/1/person/birthDate", only: true},
	{name: "fail/one-spouse", base: "fixture/event.marriage", edit: deleteAt("/payload/spouses/1"), issue: "SCHEMA_MIN_ITEMS /payload/spouses", only: true},
	{name: "fail/citizenships-repeated", base: birth, edit: setTo("/payload/child/citizenships", []any{"TJ", "TR", "TJ"}), issue: "SCHEMA_UNIQUE_ITEMS /payload/child/citizenships/2", only: true},
	{name: "fail/citizenships-six", base: birth, edit: setTo("/payload/child/citizenships", []any{"TJ", "TR", "KZ", "UZ", "KG", "AF"}), issue: "SCHEMA_MAX_ITEMS /payload/child/citizenships", only: true},
	{name: "fail/weight-below-minimum", base: birth, edit: setTo("/payload/event/weightAtBirthGrams", 150), issue: "SCHEMA_MINIMUM /payload/event/weightAtBirthGrams", only: true},
	{name: "fail/gestation-above-maximum", base: birth, edit: setTo("/payload/event/gestationWeeks", 47), issue: "SCHEMA_MAXIMUM /payload/event/gestationWeeks", only: true},
	{name: "fail/weight-not-integer", base: birth, edit: setTo("/payload/event/weightAtBirthGrams", jsonNumber("3350.5")), issue: "SCHEMA_TYPE /payload/event/weightAtBirthGrams", only: true},
	{name: "fail/document-without-issuer", base: birth, edit: deleteAt(mPtr + "/documents/0/issuingCountry"), issue: "SCHEMA_REQUIRED " + mPtr + "/documents/0/issuingCountry", only: true},
	{name: "fail/sender-without-country", base: birth, edit: deleteAt("/sender/country"), issue: "SCHEMA_REQUIRED /sender/country", only: true},
	{name: "fail/node-id-pattern", base: birth, edit: setTo("/recipient/nodeId", "tj-moj"), issue: "SCHEMA_PATTERN /recipient/nodeId", only: true},
	{name: "fail/purpose-unknown", base: birth, edit: setTo("/purpose", "curiosity"), issue: "SCHEMA_ENUM /purpose", only: true},
	{name: "fail/payload-not-an-object", base: birth, edit: setTo("/payload", []any{}), issue: "SCHEMA_TYPE /payload", only: true},
	{name: "fail/payload-missing", base: birth, edit: deleteAt("/payload"), issue: "SCHEMA_REQUIRED /payload", only: true},
	{name: "fail/other-type-payload", base: birth, edit: setTo("/messageType", "event.death"), issue: "SCHEMA_REQUIRED /payload/deceased"},
	// Neither identifiers nor names+birthDate: gojsonschema reports the closest
	// alternative, names+birthDate.
	{name: "fail/status-query-subject-unidentifiable", base: "fixture/status.query", edit: deleteAt("/payload/subject/birthDate"), issue: "SCHEMA_REQUIRED /payload/subject/birthDate", only: true},
	{name: "fail/status-query-question-repeated", base: "fixture/status.query", edit: setTo("/payload/questions/2", "is-registered"), issue: "SCHEMA_UNIQUE_ITEMS /payload/questions/2", only: true},
	{name: "fail/marriage-religious-only", base: "fixture/event.marriage", edit: setTo("/payload/event/marriageForm", "religious"), issue: "SCHEMA_ENUM /payload/event/marriageForm", only: true},

	// The conditional rules (hoisted to Go on the fast path).
	{name: "fail/tckn-pattern", base: birth, edit: addID("TR-TCKN", "01000000146"), issue: "SCHEMA_PATTERN " + idsPtr + "/2/value", only: true},
	{name: "fail/iin-pattern", base: birth, edit: addID("KZ-IIN", "960714700123"), issue: "SCHEMA_PATTERN " + idsPtr + "/2/value", only: true},
	{name: "fail/pinfl-pattern", base: birth, edit: addID("UZ-PINFL", "71407961234567"), issue: "SCHEMA_PATTERN " + idsPtr + "/2/value", only: true},
	{name: "fail/kg-pin-pattern", base: birth, edit: addID("KG-PIN", "31407199600123"), issue: "SCHEMA_PATTERN " + idsPtr + "/2/value", only: true},
	{name: "fail/tj-inn-pattern", base: birth, edit: setTo(idsPtr+"/0/value", "47091238"), issue: "SCHEMA_PATTERN " + idsPtr + "/0/value", only: true},
	{name: "fail/az-fin-pattern", base: birth, edit: addID("AZ-FIN", "5zx81k2"), issue: "SCHEMA_PATTERN " + idsPtr + "/2/value", only: true},
	{name: "fail/ge-pn-pattern", base: birth, edit: addID("GE-PN", "0102401234"), issue: "SCHEMA_PATTERN " + idsPtr + "/2/value", only: true},
	{name: "fail/am-psn-pattern", base: birth, edit: addID("AM-PSN", "14079601234"), issue: "SCHEMA_PATTERN " + idsPtr + "/2/value", only: true},
	{name: "fail/mn-rd-latin-letters", base: birth, edit: addID("MN-RD", "UB96071412"), issue: "SCHEMA_PATTERN " + idsPtr + "/2/value", only: true},
	{name: "fail/passport-pattern", base: birth, edit: setTo(idsPtr+"/1/value", "40 1562984"), issue: "SCHEMA_PATTERN " + idsPtr + "/1/value", only: true},
	{name: "fail/passport-without-issuing-country", base: birth, edit: deleteAt(idsPtr + "/1/issuingCountry"), issue: "SCHEMA_REQUIRED " + idsPtr + "/1/issuingCountry", only: true},
	{name: "ok/other-scheme-free-value", base: birth, edit: addID("OTHER", "any value, even lower case")},
	{name: "fail/names-required-unless-unidentified", base: birth, edit: deleteAt("/payload/child/names"), issue: "SCHEMA_REQUIRED /payload/child/names", only: true},
	{name: "fail/provisional-identity-without-names", base: birth, edit: edits(deleteAt(mPtr+"/names"), setTo(mPtr+"/identityStatus", "provisional")), issue: "SCHEMA_REQUIRED " + mPtr + "/names", only: true},
	{name: "fail/stateless-with-citizenship", base: birth, edit: setTo(mPtr+"/nationalityStatus", "stateless"), issue: "SCHEMA_MAX_ITEMS " + mPtr + "/citizenships", only: true},
	{name: "fail/known-parent-without-person", base: birth, edit: deleteAt(fPtr), issue: "SCHEMA_REQUIRED " + fPtr, only: true},
	{name: "fail/unknown-parent-with-person", base: birth, edit: setTo("/payload/father/status", "withheld"), issue: "SCHEMA_FORBIDDEN " + fPtr, only: true},
	{name: "fail/twin-without-birth-order", base: birth, edit: setTo("/payload/event/typeOfBirth", "twin"), issue: "SCHEMA_REQUIRED /payload/event/birthOrderInDelivery", only: true},
	{name: "ok/single-with-birth-order", base: birth, edit: setTo("/payload/event/birthOrderInDelivery", 1)},
	{name: "fail/amend-without-amendment/live-birth", base: birth, edit: setTo("/payload/action", "amend"), issue: "SCHEMA_REQUIRED /payload/amendment", only: true},
	{name: "fail/amend-without-amendment/death", base: "fixture/event.death", edit: setTo("/payload/action", "amend"), issue: "SCHEMA_REQUIRED /payload/amendment", only: true},
	{name: "fail/amend-without-amendment/fetal-death", base: "fixture/event.fetal-death", edit: setTo("/payload/action", "amend"), issue: "SCHEMA_REQUIRED /payload/amendment", only: true},
	{name: "fail/amend-without-amendment/marriage", base: "fixture/event.marriage", edit: setTo("/payload/action", "amend"), issue: "SCHEMA_REQUIRED /payload/amendment", only: true},
	{name: "fail/amend-without-amendment/divorce", base: "fixture/event.divorce", edit: setTo("/payload/action", "amend"), issue: "SCHEMA_REQUIRED /payload/amendment", only: true},
	{name: "fail/amend-without-amendment/annulment", base: "fixture/event.annulment", edit: setTo("/payload/action", "amend"), issue: "SCHEMA_REQUIRED /payload/amendment", only: true},
	{name: "fail/amend-without-amendment/adoption", base: "fixture/event.adoption", edit: setTo("/payload/action", "amend"), issue: "SCHEMA_REQUIRED /payload/amendment", only: true},
	{name: "fail/amend-without-amendment/legitimation", base: "fixture/event.legitimation", edit: setTo("/payload/action", "amend"), issue: "SCHEMA_REQUIRED /payload/amendment", only: true},
	{name: "fail/amend-without-amendment/recognition", base: "fixture/event.recognition", edit: setTo("/payload/action", "amend"), issue: "SCHEMA_REQUIRED /payload/amendment", only: true},
	{name: "fail/sealed-adoption-with-birth-parents", base: "fixture/event.adoption", edit: setTo("/payload/originalRecordSealed", true), issue: "SCHEMA_FORBIDDEN /payload/birthParents", only: true},
	{name: "ok/sealed-adoption-without-birth-parents", base: "fixture/event.adoption", edit: edits(setTo("/payload/originalRecordSealed", true), deleteAt("/payload/birthParents"))},
	{name: "fail/dissolved-marriage-without-date", base: "fixture/event.judicial-separation", edit: deleteAt("/payload/dissolvedMarriage/registrationDate"), issue: "SCHEMA_REQUIRED /payload/dissolvedMarriage/registrationDate", only: true},
	{name: "fail/cancellation-record-without-event-type", base: "fixture/record.cancellation", edit: deleteAt("/payload/record/eventType"), issue: "SCHEMA_REQUIRED /payload/record/eventType", only: true},
	{name: "fail/attestation-answers-without-unique-match", base: "fixture/status.attestation", edit: setTo("/payload/matchResult", "multiple-candidates"), issue: "SCHEMA_FORBIDDEN /payload/answers", only: true},
	{name: "fail/attestation-refused-without-reason", base: "fixture/status.attestation", edit: edits(setTo("/payload/matchResult", "refused"), deleteAt("/payload/answers")), issue: "SCHEMA_REQUIRED /payload/refusalReason", only: true},
	{name: "ok/attestation-refused-with-reason", base: "fixture/status.attestation", edit: edits(setTo("/payload/matchResult", "refused"), deleteAt("/payload/answers"), setTo("/payload/refusalReason", "subject-protected"))},
	{name: "fail/attestation-alive", base: "fixture/status.attestation", edit: setTo("/payload/answers/vitalStatus", "alive"), issue: "SCHEMA_ENUM /payload/answers/vitalStatus", only: true},
	{name: "fail/attestation-echoes-a-name", base: "fixture/status.attestation", edit: setTo("/payload/answers/fullName", "Dilnoza Karimova"), issue: "SCHEMA_ADDITIONAL_PROPERTY /payload/answers/fullName", only: true},
	{name: "fail/receipt-rejected-without-issues", base: "fixture/receipt", edit: deleteAt("/payload/issues"), issue: "SCHEMA_REQUIRED /payload/issues", only: true},
	{name: "fail/receipt-rejected-with-no-issue", base: "fixture/receipt", edit: setTo("/payload/issues", []any{}), issue: "SCHEMA_MIN_ITEMS /payload/issues", only: true},
	{name: "ok/receipt-accepted-without-issues", base: "fixture/receipt", edit: edits(setTo("/payload/status", "accepted"), deleteAt("/payload/issues"))},

	// Version and type.
	{name: "fail/schema-version-unsupported", base: birth, edit: setTo("/schemaVersion", "2.0.0"), code: protocol.CodeSchemaVersion, issue: "SCHEMA_ENUM /schemaVersion", only: true},
	{name: "fail/schema-version-missing", base: birth, edit: deleteAt("/schemaVersion"), issue: "SCHEMA_REQUIRED /schemaVersion", only: true},
	{name: "fail/schema-version-not-a-string", base: birth, edit: setTo("/schemaVersion", 1), issue: "SCHEMA_TYPE /schemaVersion", only: true},
	{name: "fail/message-type-unknown", base: birth, edit: setTo("/messageType", "event.baptism"), code: protocol.CodeMessageType, issue: "SCHEMA_ENUM /messageType", only: true},
	{name: "fail/message-type-not-a-string", base: birth, edit: setTo("/messageType", 7), code: protocol.CodeMessageType, issue: "SCHEMA_TYPE /messageType", only: true},
	{name: "fail/message-type-missing", base: birth, edit: deleteAt("/messageType"), issue: "SCHEMA_REQUIRED /messageType", only: true},

	// Bytes.
	{name: "fail/duplicate-member", raw: []byte(`{"schemaVersion":"1.0.0","schemaVersion":"1.0.0"}`), code: protocol.CodePayloadDup},
	{name: "fail/duplicate-member-after-nfc", raw: []byte(`{"schemaVersion":"1.0.0","payload":{"Caf\u00e9":1,"Cafe\u0301":2}}`), code: protocol.CodePayloadDup},
	{name: "fail/trailing-data", raw: []byte(`{"schemaVersion":"1.0.0"} {}`), code: protocol.CodePayloadJSON},
	{name: "fail/not-an-object", raw: []byte(`["schemaVersion"]`), code: protocol.CodePayloadJSON},
	{name: "fail/invalid-utf8", raw: []byte("{\"a\":\"\xff\"}"), code: protocol.CodePayloadUTF8},
	{name: "fail/too-large", raw: []byte(`{"a":"` + strings.Repeat("x", protocol.MaxMessageBytes) + `"}`), code: protocol.CodeTooLarge},
}

type jsonNumber string

// prepare returns the message bytes of a case.
func (c ruleCase) prepare(t *testing.T, fx map[string][]byte) []byte {
	t.Helper()
	if c.raw != nil {
		return c.raw
	}
	base, ok := fx[c.base]
	require.True(t, ok, "no fixture %q", c.base)
	if c.edit == nil {
		return base
	}
	doc := decodeForTest(t, base)
	c.edit(t, doc)
	return mustMarshal(t, numbersAsJSON(doc))
}

// numbersAsJSON turns the test's jsonNumber values into json.Number.
func numbersAsJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = numbersAsJSON(x)
		}
	case []any:
		for i, x := range t {
			t[i] = numbersAsJSON(x)
		}
	case jsonNumber:
		return jsonNumberValue(string(t))
	}
	return v
}

func issueStrings(issues []protocol.Issue) []string {
	out := make([]string, len(issues))
	for i, is := range issues {
		out[i] = is.Code + " " + is.Pointer
	}
	return out
}

// verdictOf splits Validate's answer into (code, issues); it fails the test
// on an internal error.
func verdictOf(t *testing.T, res *Result, err error) (protocol.Code, []protocol.Issue) {
	t.Helper()
	if err == nil {
		require.NotNil(t, res)
		return "", nil
	}
	var pe *protocol.Error
	require.True(t, errors.As(err, &pe), "internal error, not a verdict: %v", err)
	require.ErrorIs(t, err, protocol.ErrRejected)
	return pe.Code, pe.Issues
}

func TestRules(t *testing.T) {
	v := Default()
	fx := allFixtures(t)
	covered := make(map[string]bool)
	for _, c := range ruleCases {
		t.Run(c.name, func(t *testing.T) {
			msg := c.prepare(t, fx)
			res, err := v.validateSchema(msg)
			code, issues := verdictOf(t, res, err)
			want := c.code
			if want == "" && c.issue != "" {
				want = invalid
			}
			require.Equal(t, want, code, "issues: %v", issueStrings(issues))
			if strings.HasPrefix(c.name, "ok/") {
				require.Empty(t, issues)
				return
			}
			if c.issue != "" {
				require.Contains(t, issueStrings(issues), c.issue)
				if c.only {
					require.Len(t, issues, 1, "issues: %v", issueStrings(issues))
				}
			}
			for _, is := range issues {
				assert.Equal(t, protocol.SeverityError, is.Severity)
				assert.Regexp(t, `^[A-Z][A-Z0-9_]{2,40}$`, is.Code)
				assert.NotEmpty(t, is.Message)
			}
			for _, id := range failingRules(t, v, msg) {
				covered[id] = true
			}
		})
	}
	// Every rule evaluated in Go on the fast path has a case that breaks it.
	for id := range v.latest.rules {
		assert.True(t, covered[id], "no case breaks the hoisted rule %s", id)
	}
}

// failingRules lists the hoisted rules that fail on a message, by id.
func failingRules(t *testing.T, v *Validator, msg []byte) []string {
	t.Helper()
	if protocol.CheckJSON(msg, protocol.MaxJSONDepth) != nil {
		return nil
	}
	doc, err := decodeNFC(msg, v.names)
	if err != nil {
		return nil
	}
	mt, _ := doc["messageType"].(string)
	ts := v.latest.types[mt]
	if ts == nil || ts.rules == nil {
		return nil
	}
	var ids []string
	ts.rules.eval(doc, nil, func(r *rule, _ []string) bool {
		ids = append(ids, r.id)
		return true
	})
	return ids
}

func TestEveryFixtureIsValid(t *testing.T) {
	v := Default()
	fx := allFixtures(t)
	for _, name := range sortedKeys(fx) {
		if !strings.HasPrefix(name, "fixture/") && !strings.HasPrefix(name, "bench/") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			res, err := v.validateSchema(fx[name])
			require.NoError(t, err)
			assert.Equal(t, "1.0.0", res.SchemaVersion)
		})
	}
	for _, mt := range protocol.MessageTypes {
		assert.Contains(t, fx, "fixture/"+mt)
	}
}

func TestResultDoc(t *testing.T) {
	res, err := Default().validateSchema(mustBenchBirth(t))
	require.NoError(t, err)
	assert.Equal(t, protocol.MTLiveBirth, res.MessageType)
	assert.Equal(t, "1.0.0", res.SchemaVersion)
	child := res.Doc["payload"].(map[string]any)["child"].(map[string]any)
	assert.Equal(t, jsonNumberValue("1"), child["sex"], "numbers stay json.Number with their text")
	assert.Equal(t, "2024-03-02", child["birthDate"])
}

func TestNFC(t *testing.T) {
	v := Default()
	base := decodeForTest(t, mustBenchBirth(t))
	// "ё" decomposed is two code points; 200 of them are 400 before NFC
	// and 200 after: maxLength counts the NFC form.
	decomposed := strings.Repeat("е\u0308", 200)
	doc := decodeForTest(t, mustMarshal(t, base))
	set(t, doc, "/payload/child/names/0/fullName", decomposed)
	res, err := v.validateSchema(mustMarshal(t, doc))
	require.NoError(t, err)
	got := res.Doc["payload"].(map[string]any)["child"].(map[string]any)["names"].([]any)[0].(map[string]any)["fullName"]
	assert.Equal(t, strings.Repeat("ё", 200), got)

	set(t, doc, "/payload/child/names/0/fullName", decomposed+"е\u0308")
	_, err = v.validateSchema(mustMarshal(t, doc))
	code, issues := verdictOf(t, nil, err)
	assert.Equal(t, invalid, code)
	assert.Equal(t, []string{"SCHEMA_MAX_LENGTH /payload/child/names/0/fullName"}, issueStrings(issues))

	// Member names are normalised too: a decomposed "payload" key that is
	// NFC-equal to a defined name is that name.
	// Member names are normalised too: "h" + U+0308 is "ḧ" (U+1E27).
	raw := strings.Replace(string(mustBenchBirth(t)), `"parentsMarriedAtBirth"`, "\"parentsMarriedAtBirth\u0308\"", 1)
	_, err = v.validateSchema([]byte(raw))
	code, issues = verdictOf(t, nil, err)
	assert.Equal(t, invalid, code)
	assert.Equal(t, []string{"SCHEMA_ADDITIONAL_PROPERTY /payload/parentsMarriedAtBirt\u1e27"}, issueStrings(issues))
}

func TestIssuesSorted(t *testing.T) {
	v := Default()
	doc := decodeForTest(t, mustBenchBirth(t))
	del(t, doc, "/payload/child/sex")
	set(t, doc, "/messageId", "X")
	set(t, doc, "/payload/event/gestationWeeks", 99)
	set(t, doc, "/payload/aaa", true)
	_, err := v.validateSchema(mustMarshal(t, doc))
	_, issues := verdictOf(t, nil, err)
	assert.Equal(t, []string{
		"SCHEMA_PATTERN /messageId",
		"SCHEMA_ADDITIONAL_PROPERTY /payload/aaa",
		"SCHEMA_REQUIRED /payload/child/sex",
		"SCHEMA_MAXIMUM /payload/event/gestationWeeks",
	}, issueStrings(issues))
	assert.True(t, slices.IsSortedFunc(issues, func(a, b protocol.Issue) int { return strings.Compare(a.Pointer, b.Pointer) }))
}

func TestSemanticLayer(t *testing.T) {
	// Not parallel: it swaps the package's hook.
	saved := semanticCheck
	t.Cleanup(func() { semanticCheck = saved })
	v := Default()
	msg := mustBenchBirth(t)

	warn := protocol.Issue{Severity: protocol.SeverityWarning, Code: "MOTHER_AGE_UNUSUAL", Pointer: "/payload/mother/person/birthDate"}
	bad := protocol.Issue{Severity: protocol.SeverityError, Code: "REGISTRATION_BEFORE_EVENT", Pointer: "/payload/registration/registrationDate"}
	var seen map[string]any
	semanticCheck = func(doc map[string]any) []protocol.Issue { seen = doc; return []protocol.Issue{warn} }
	res, err := v.Validate(msg)
	require.NoError(t, err)
	assert.Equal(t, []protocol.Issue{warn}, res.Warnings)
	assert.Equal(t, res.Doc, seen, "the semantic layer sees the NFC document")

	semanticCheck = func(map[string]any) []protocol.Issue { return []protocol.Issue{warn, bad} }
	_, err = v.Validate(msg)
	code, issues := verdictOf(t, nil, err)
	assert.Equal(t, protocol.CodeSemanticInvalid, code)
	assert.Equal(t, []protocol.Issue{warn, bad}, issues)

	semanticCheck = func(map[string]any) []protocol.Issue { return []protocol.Issue{{Severity: "fatal", Code: "X_Y_Z"}} }
	_, err = v.Validate(msg)
	code, _ = verdictOf(t, nil, err)
	assert.Equal(t, protocol.CodeSemanticInvalid, code, "an unknown severity fails closed")

	called := false
	semanticCheck = func(map[string]any) []protocol.Issue { called = true; return nil }
	doc := decodeForTest(t, msg)
	del(t, doc, "/payload/child/sex")
	_, err = v.Validate(mustMarshal(t, doc))
	code, _ = verdictOf(t, nil, err)
	assert.Equal(t, invalid, code)
	assert.False(t, called, "the semantic layer only sees schema-valid messages")

	semanticCheck = func(map[string]any) []protocol.Issue { panic("bug") }
	_, err = v.Validate(msg)
	require.Error(t, err)
	assert.Equal(t, protocol.Code(""), protocol.CodeOf(err), "a panic is an internal error, not a verdict")
}

func TestConcurrentValidate(t *testing.T) {
	v := Default()
	fx := allFixtures(t)
	names := sortedKeys(fx)
	want := make(map[string]string)
	for _, n := range names {
		res, err := v.Validate(fx[n])
		want[n] = fmt.Sprint(res != nil, protocol.CodeOf(err))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				n := names[(g+i)%len(names)]
				res, err := v.Validate(fx[n])
				if got := fmt.Sprint(res != nil, protocol.CodeOf(err)); got != want[n] {
					t.Errorf("%s: %s, want %s", n, got, want[n])
				}
			}
		})
	}
	wg.Wait()
}
