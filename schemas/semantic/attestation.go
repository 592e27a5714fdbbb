package semantic

import (
	"github.com/ecrn/crvsx/protocol"
)

// CheckAttestationAnswers checks a status.attestation against the
// status.query it answers: the rules that need the query, which the
// attestation does not carry (it names it only by inResponseTo) and which
// only a node that holds the query can run. Both documents are decoded,
// schema-valid messages. It reports:
//
//   - ATTESTATION_QUERY_MISMATCH at /payload/inResponseTo when it is not the
//     query's messageId, and at /recipient/nodeId when the attestation is
//     not addressed to the node that sent the query;
//   - ATTESTATION_ANSWER_NOT_ASKED at /payload/answers/<member> for every
//     answer to a question the query did not ask ("answers are a subset of
//     the questions asked": minimal disclosure).
//
// The result is sorted like Check's. Pure: no clock, no I/O.
func CheckAttestationAnswers(attestation, query map[string]any) []protocol.Issue {
	c := checker{doc: attestation}
	p := obj(attestation["payload"])
	q := obj(query["payload"])
	if r, ok := p["inResponseTo"].(string); ok {
		if id := str(query["messageId"]); id != "" && r != id {
			c.add(CodeQueryMismatch, "/payload/inResponseTo", "the attestation answers %s, not this query %s", r, id)
		}
	}
	to, from := str(obj(attestation["recipient"])["nodeId"]), str(obj(query["sender"])["nodeId"])
	if to != "" && from != "" && to != from {
		c.add(CodeQueryMismatch, "/recipient/nodeId", "the attestation goes to %s, the query came from %s", to, from)
	}
	asked := make(map[string]bool, 6)
	for _, v := range arr(q["questions"]) {
		asked[str(v)] = true
	}
	for k := range obj(p["answers"]) {
		if q, _ := protocol.QuestionOf(k); !asked[q] {
			c.add(CodeAnswerNotAsked, protocol.Pointer("payload", "answers", k), "the query did not ask %q", q)
		}
	}
	return finish(c.issues)
}
