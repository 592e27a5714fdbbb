package schemas

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Small valid messages of every type, beside the realistic birth of
// testdata/bench. Each carries what its type's conditional rules look at,
// so that mutations can break every rule.

const envelope = `"schemaVersion": "1.0.0",
  "messageId": "7d1e4f0a-9b2c-4e3d-8a5f-0c6b1d2e3f40",
  "createdAt": "2025-06-02T10:15:00Z",
  "sender": {"nodeId": "KZ-MOJ-CRVS", "country": "KZ"},
  "recipient": {"nodeId": "UZ-MOJ-CRVS", "country": "UZ"},
  "purpose": "citizenship-notification",`

const registration = `"registration": {"registrationNumber": "AL-2025-000731", "registeringCountry": "KZ", "registrationDate": "2025-05-30", "registrationType": "timely"}`

const personUZ = `{"names": [{"script": "Latn", "language": "uz-Latn", "fullName": "Dilnoza Karimova"}], "sex": 2, "birthDate": "1990-04-12",
      "citizenships": ["UZ"], "nationalityStatus": "citizen",
      "identifiers": [{"scheme": "UZ-PINFL", "value": "41204901234567"}]}`

const personKZ = `{"names": [{"script": "Cyrl", "language": "kk", "fullName": "Ерлан Сапаров"}], "sex": 1, "birthDate": "1988-09",
      "citizenships": ["KZ"], "identifiers": [{"scheme": "KZ-IIN", "value": "880915300123"}]}`

var fixtures = map[string]string{
	"event.live-birth": `{` + envelope + `
  "messageType": "event.live-birth",
  "payload": {"action": "register", ` + registration + `,
    "event": {"dateOfOccurrence": "2025-05-28", "placeOfOccurrence": {"country": "KZ", "locality": "Алматы"}, "typeOfBirth": "twin", "birthOrderInDelivery": 1},
    "child": {"names": [{"script": "Latn", "fullName": "Aziz Karimov"}], "sex": 1, "birthDate": "2025-05-28"},
    "mother": {"status": "known", "person": ` + personUZ + `},
    "father": {"status": "unknown"}}}`,

	"event.death": `{` + envelope + `
  "messageType": "event.death",
  "payload": {"action": "register", ` + registration + `,
    "event": {"dateOfOccurrence": "2025-05", "placeOfOccurrence": {"country": "KZ"}, "ageAtDeath": {"value": 35, "unit": "years"}},
    "deceased": {"identityStatus": "unidentified", "sex": 1, "estimatedAgeYears": {"min": 30, "max": 40}},
    "causeOfDeath": {"partI": [{"line": "a", "text": "Head injury", "interval": "PT2H", "icd10": "S06.9", "icd11": "NA07.Z&XK9K"}],
      "mannerOfDeath": "accident"}}}`,

	"event.fetal-death": `{` + envelope + `
  "messageType": "event.fetal-death",
  "payload": {"action": "register", ` + registration + `,
    "event": {"dateOfOccurrence": "2025-05-28", "placeOfOccurrence": {"country": "KZ"}, "gestationWeeks": 30, "sexOfFetus": 0},
    "mother": {"status": "known", "person": ` + personUZ + `}}}`,

	"event.marriage": `{` + envelope + `
  "messageType": "event.marriage",
  "payload": {"action": "register", ` + registration + `,
    "event": {"dateOfOccurrence": "2025-05-28", "placeOfOccurrence": {"country": "KZ"}, "marriageForm": "civil"},
    "spouses": [{"person": ` + personUZ + `}, {"person": ` + personKZ + `}]}}`,

	"event.divorce": `{` + envelope + `
  "messageType": "event.divorce",
  "payload": {"action": "register", ` + registration + `,
    "event": {"dateOfOccurrence": "2025-05-28", "placeOfOccurrence": {"country": "KZ"}},
    "dissolvedMarriage": {"registeringCountry": "UZ", "registrationNumber": "T-2015-77", "registrationDate": "2015-06-20"},
    "decision": {"authorityType": "court", "decisionDate": "2025-04-20", "finalDate": "2025-05-28"},
    "spouses": [{"person": ` + personUZ + `}, {"person": ` + personKZ + `}]}}`,

	"event.adoption": `{` + envelope + `
  "messageType": "event.adoption",
  "payload": {"action": "register", ` + registration + `,
    "event": {"dateOfOccurrence": "2025-05-28", "placeOfOccurrence": {"country": "KZ"}, "adoptionType": "full"},
    "adoptee": {"names": [{"script": "Cyrl", "fullName": "Айгерим"}], "sex": 2, "birthDate": "2021"},
    "adoptiveParents": [` + personKZ + `],
    "decision": {"authorityType": "court", "decisionDate": "2025-05-20"},
    "originalRecordSealed": false,
    "birthParents": [{"status": "unknown"}]}}`,

	"event.legitimation": `{` + envelope + `
  "messageType": "event.legitimation",
  "payload": {"action": "register", ` + registration + `,
    "event": {"dateOfOccurrence": "2025-05-28", "placeOfOccurrence": {"country": "KZ"}, "basis": "subsequent-marriage"},
    "child": {"names": [{"script": "Latn", "fullName": "Aziz Karimov"}], "sex": 1, "birthDate": "2020-01-10"},
    "parents": [` + personUZ + `, ` + personKZ + `],
    "birthRecord": {"registeringCountry": "KZ", "registrationNumber": "AL-2020-000011"}}}`,

	"event.recognition": `{` + envelope + `
  "messageType": "event.recognition",
  "payload": {"action": "register", ` + registration + `,
    "event": {"dateOfOccurrence": "2025-05-28", "placeOfOccurrence": {"country": "KZ"}, "recognitionType": "voluntary", "recognizedParentRole": "father"},
    "child": {"names": [{"script": "Latn", "fullName": "Aziz Karimov"}], "sex": 1},
    "recognizingParent": ` + personKZ + `,
    "otherParent": {"status": "known", "person": ` + personUZ + `},
    "birthRecord": {"registeringCountry": "KZ", "registrationNumber": "AL-2020-000011"}}}`,

	"record.cancellation": `{` + envelope + `
  "messageType": "record.cancellation",
  "payload": {"record": {"registeringCountry": "KZ", "registrationNumber": "AL-2025-000731", "eventType": "live-birth"},
    "cancelsMessageId": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "reason": "duplicate-registration", "effectiveDate": "2025-06-01",
    "instruction": "mark-cancelled"}}`,

	"status.query": `{` + envelope + `
  "messageType": "status.query",
  "payload": {"requester": {"organization": "UNHCR Almaty", "organizationType": "humanitarian-un"},
    "consent": {"basis": "data-subject-consent", "obtainedAt": "2025-06-01T08:00:00+05:00", "method": "written"},
    "subject": {"names": [{"script": "Latn", "fullName": "Dilnoza Karimova"}], "birthDate": "1990-04-12", "sex": 2},
    "questions": ["is-registered", "vital-status"]}}`,

	"status.attestation": `{` + envelope + `
  "messageType": "status.attestation",
  "payload": {"inResponseTo": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "matchResult": "unique-match",
    "answers": {"isRegistered": "yes", "vitalStatus": "no-death-registered"},
    "attestedAt": "2025-06-02T10:15:00Z", "validUntil": "2025-09-02T10:15:00Z",
    "issuer": {"country": "KZ", "authority": "Ministry of Justice"}}}`,

	"receipt": `{` + envelope + `
  "messageType": "receipt",
  "payload": {"inResponseTo": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "status": "rejected", "receivedAt": "2025-06-02T10:15:00.25+05:00",
    "issues": [{"severity": "error", "code": "SCHEMA_REQUIRED", "path": "/payload/child/sex"}]}}`,
}

func init() {
	// The dissolutions share one payload definition.
	for _, mt := range []string{"event.annulment", "event.judicial-separation"} {
		fixtures[mt] = strings.Replace(fixtures["event.divorce"], `"event.divorce"`, strconv.Quote(mt), 1)
	}
}

// mustBenchBirth returns the realistic birth, compact as on the wire.
func mustBenchBirth(tb testing.TB) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "bench", "birth.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// allFixtures returns every fixture by name: the bench birth, one per
// message type, and the valid and invalid examples of testdata (written by
// the semantic layer's author) when there are any.
func allFixtures(tb testing.TB) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{"bench/birth": mustBenchBirth(tb)}
	for mt, s := range fixtures {
		out["fixture/"+mt] = []byte(s)
	}
	for _, dir := range []string{"valid", "invalid"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				tb.Fatal(err)
			}
			out[dir+"/"+strings.TrimSuffix(filepath.Base(f), ".json")] = b
		}
	}
	return out
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// decodeForTest decodes JSON as the validator's callers would: exact
// numbers.
func decodeForTest(tb testing.TB, b []byte) map[string]any {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		tb.Fatal(err)
	}
	return m
}

func mustMarshal(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// ptrTokens splits an RFC 6901 pointer.
func ptrTokens(ptr string) []string {
	if ptr == "" {
		return nil
	}
	toks := strings.Split(ptr[1:], "/")
	for i, t := range toks {
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return toks
}

// set puts v at ptr (creating nothing but the last member; an index equal
// to the length appends). del removes the member or item at ptr.
func set(tb testing.TB, doc any, ptr string, v any) any {
	tb.Helper()
	return edit(tb, doc, ptrTokens(ptr), func(parent any, last string) any {
		switch p := parent.(type) {
		case map[string]any:
			p[last] = v
			return p
		case []any:
			i, err := strconv.Atoi(last)
			if err != nil || i > len(p) {
				tb.Fatalf("set %s: bad index", ptr)
			}
			if i == len(p) {
				return append(p, v)
			}
			p[i] = v
			return p
		}
		tb.Fatalf("set %s: parent is a scalar", ptr)
		return nil
	})
}

func del(tb testing.TB, doc any, ptr string) any {
	tb.Helper()
	return edit(tb, doc, ptrTokens(ptr), func(parent any, last string) any {
		switch p := parent.(type) {
		case map[string]any:
			if _, ok := p[last]; !ok {
				tb.Fatalf("del %s: no such member", ptr)
			}
			delete(p, last)
			return p
		case []any:
			i, err := strconv.Atoi(last)
			if err != nil || i >= len(p) {
				tb.Fatalf("del %s: bad index", ptr)
			}
			return slices.Delete(p, i, i+1)
		}
		tb.Fatalf("del %s: parent is a scalar", ptr)
		return nil
	})
}

// edit applies fn to the parent of the last token and stores the possibly
// new parent (slices grow and shrink) back into its own parent.
func edit(tb testing.TB, doc any, toks []string, fn func(parent any, last string) any) any {
	tb.Helper()
	if len(toks) == 0 {
		tb.Fatal("edit of the root")
	}
	if len(toks) == 1 {
		return fn(doc, toks[0])
	}
	var child any
	switch p := doc.(type) {
	case map[string]any:
		c, ok := p[toks[0]]
		if !ok {
			tb.Fatalf("edit: no member %q", toks[0])
		}
		child = c
		p[toks[0]] = edit(tb, child, toks[1:], fn)
	case []any:
		i, err := strconv.Atoi(toks[0])
		if err != nil || i >= len(p) {
			tb.Fatalf("edit: bad index %q", toks[0])
		}
		p[i] = edit(tb, p[i], toks[1:], fn)
	default:
		tb.Fatalf("edit: cannot descend into %T", doc)
	}
	return doc
}

func jsonNumberValue(s string) json.Number { return json.Number(s) }
