// Package semantic is the Go layer that runs after JSON Schema validation
// has passed: the rules of the data dictionary's "What the schema cannot
// check" (dates against each other and against createdAt, check digits and
// encoded data of national identifiers, purpose and non-refoulement, text
// hygiene). RULES.md beside this file lists every rule with its stable code,
// severity and JSON Pointer, and the choices made where the dictionary
// leaves room (time zones, age bounds, who a message is about).
//
// Guarantees:
//
//   - Check is pure: no clock, no I/O, no global state it writes. The time
//     it judges against is the message's own createdAt.
//   - Check never panics, whatever encoding/json decoded (it is fuzzed with
//     arbitrary JSON). It relies on the schema for shapes and types, and
//     what it cannot read it does not judge: a value of the wrong type or
//     shape is the schema's finding, never reported twice here.
//   - Findings are protocol.Issues with a code from Codes, the severity
//     Severity gives (except IIN/PINFL_BIRTH_DATE_MISMATCH, a warning when
//     the person's birthDate is marked estimated), an RFC 6901 pointer to a
//     value that exists in the message, sorted by (pointer, code), one per
//     (pointer, code).
//   - Partial dates are compared only on the precision both have and never
//     padded: a year-only date is any day of that year.
//   - Names are judged, never rewritten: FoldName makes matching keys and is
//     never applied to what is stored or sent.
//
// Check expects what the inbound pipeline hands it: the payload decoded with
// json.Decoder.UseNumber and every string NFC-normalised. Attestation rules
// that need the query it answers are in CheckAttestationAnswers, for the
// node that holds the query.
//
// It implements protocol/SPEC.md §6.6 step 3 ("The semantic rules of
// schemas/semantic/RULES.md hold … Warnings do not refuse a message; they
// are reported in the receipt"). All functions are safe for concurrent use.
//
// Imports: protocol and x/text (NFC, Turkish case rules).
package semantic
