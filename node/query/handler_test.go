package query

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/records/match"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol"
	"github.com/stretchr/testify/require"
)

func set(doc map[string]any, ptr string, v any) {
	toks := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	m := doc
	for _, k := range toks[:len(toks)-1] {
		m = m[k].(map[string]any)
	}
	if v == nil {
		delete(m, toks[len(toks)-1])
		return
	}
	m[toks[len(toks)-1]] = v
}

// TestAnswers is SPEC §11.2's answer: matchResult, answers only on a
// unique match and only for the questions asked, the envelope, and no
// name, date, identifier or record number of the subject anywhere in the
// attestation.
func TestAnswers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		outcome   match.Outcome
		protected bool
		questions []any
		want      string
		answers   map[string]any
		refusal   string
	}{
		{name: "unique-match/answers-only-the-asked-questions", outcome: match.UniqueMatch, questions: []any{"vital-status", "is-registered"},
			want: "unique-match", answers: map[string]any{"vitalStatus": "no-death-registered", "isRegistered": "yes"}},
		{name: "unique-match/one-question", outcome: match.UniqueMatch, questions: []any{"vital-status"},
			want: "unique-match", answers: map[string]any{"vitalStatus": "no-death-registered"}},
		{name: "no-match/no-answers", outcome: match.NoMatch, questions: []any{"vital-status"}, want: "no-match"},
		{name: "multiple-candidates/no-answers", outcome: match.MultipleCandidates, questions: []any{"vital-status"}, want: "multiple-candidates"},
		{name: "insufficient-data/no-answers", outcome: match.InsufficientData, questions: []any{"vital-status"}, want: "insufficient-data"},
		{name: "protected/refused-subject-protected", outcome: match.UniqueMatch, protected: true, questions: []any{"vital-status"},
			want: "refused", refusal: "subject-protected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.records.outcome, e.records.protected = tc.outcome, tc.protected
			doc := baseQuery(qid)
			set(doc, "/payload/questions", tc.questions)
			set(doc, "/payload/subject/identifiers", []any{map[string]any{"scheme": "UNHCR-IND", "value": "845-00193721"}})
			w := e.post(e.signQuery(doc), unhcrPin)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			require.Equal(t, protocol.MediaTypeJOSE, w.Header().Get("Content-Type"))
			raw := w.Body.Bytes()
			a := e.attestation(raw)
			p := a["payload"].(map[string]any)
			require.Equal(t, tc.want, p["matchResult"])
			require.Equal(t, qid, p["inResponseTo"])
			require.NotContains(t, a, "correlationId", "an attestation carries no correlationId (SPEC §11.2)")
			if tc.answers == nil {
				require.NotContains(t, p, "answers")
			} else {
				require.Equal(t, tc.answers, p["answers"])
			}
			if tc.refusal != "" {
				require.Equal(t, tc.refusal, p["refusalReason"])
			} else {
				require.NotContains(t, p, "refusalReason")
			}
			require.Equal(t, map[string]any{"nodeId": unhcr}, a["recipient"], "an INT- requester has no country")
			require.Equal(t, map[string]any{"nodeId": nodeID, "country": member}, a["sender"])
			require.Equal(t, map[string]any{"country": member, "authority": authority}, p["issuer"])
			require.Equal(t, t0.Format(time.RFC3339), p["attestedAt"])
			require.Equal(t, t0.Add(30*24*time.Hour).Format(time.RFC3339), p["validUntil"])
			// > no name, date, identifier or record number of the record is
			// > ever echoed: nothing of the subject in the signed bytes.
			payload := decodeSegment(t, raw, 1)
			for _, leak := range []string{"RUSTAM", "KARIMOV", "1979", "845-00193721", "00193721", "UNHCR-IND", "caseRef", "UNHCR-TJ-2026-0193"} {
				require.NotContains(t, string(payload), leak)
				require.NotContains(t, string(raw), leak)
			}
			require.Equal(t, 1, e.metrics.queries[unhcr+" "+tc.want])
		})
	}
}

// TestKGBorderRecipientCountry: a requester of a member (KG-BORDER) sends
// with sender.country KG and gets an attestation addressed to it with KG.
func TestKGBorderRecipientCountry(t *testing.T) {
	e := newEnv(t)
	kg := newRequesterKey(t, "KG-BORDER")
	e.reg.requesters["KG-BORDER"] = Requester{ID: "KG-BORDER", OrganizationType: "border-agency", TLSSPKISHA256: "kg-pin",
		Countries: []string{"TJ"}, Questions: []string{"vital-status"}, Bases: []string{"legal-obligation"}, Purposes: []string{"humanitarian-verification"}, RatePerMinute: 10, RateBurst: 5, Status: RequesterActive}
	e.reg.keys[kg.key.Kid] = kg.key
	e.key = kg
	doc := baseQuery(qid)
	set(doc, "/sender", map[string]any{"nodeId": "KG-BORDER", "country": "KG"})
	set(doc, "/payload/requester", map[string]any{"organization": "KG-BORDER", "organizationType": "border-agency"})
	set(doc, "/payload/consent", map[string]any{"basis": "legal-obligation"})
	w := e.post(e.signQuery(doc), "kg-pin")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, map[string]any{"nodeId": "KG-BORDER", "country": "KG"}, e.attestation(w.Body.Bytes())["recipient"])

	set(doc, "/sender", map[string]any{"nodeId": "KG-BORDER", "country": "KZ"})
	set(doc, "/messageId", "11111111-2222-4333-8444-555555555555")
	require.Equal(t, protocol.CodeSenderMismatch, problemCode(t, e.post(e.signQuery(doc), "kg-pin")))
}

func decodeSegment(t testing.TB, raw []byte, i int) []byte {
	t.Helper()
	parts := bytes.Split(raw, []byte("."))
	require.Len(t, parts, 3)
	b, err := b64dec(string(parts[i]))
	require.NoError(t, err)
	return b
}

// TestRefusals is SPEC §11.2 steps 1–6: each step's refusal, first failure
// the answer.
func TestRefusals(t *testing.T) {
	type tc struct {
		name  string
		env   func(e *env)
		doc   func(d map[string]any)
		body  func(e *env, d map[string]any) []byte
		pin   string
		code  protocol.Code
		audit bool // reached step 4: a query.refused entry
	}
	for _, c := range []tc{
		// 1. §6.1–§6.5 with typ crvs-query+jws, requesters' keys.
		{name: "1/too-large", body: func(e *env, d map[string]any) []byte { return bytes.Repeat([]byte("a"), protocol.MaxMessageBytes+1) }, code: protocol.CodeTooLarge},
		{name: "1/not-compact", body: func(e *env, d map[string]any) []byte { return []byte(`{"payload":"x"}`) }, code: protocol.CodeNotCompact},
		{name: "1/typ-event-is-not-a-query", body: func(e *env, d map[string]any) []byte {
			b, _ := json.Marshal(d)
			return e.key.sign(e.t, protocol.TypEvent, b)
		}, code: protocol.CodeTypMismatch},
		{name: "1/unknown-key", env: func(e *env) { delete(e.reg.keys, e.key.key.Kid) }, code: protocol.CodeKeyUnknown},
		{name: "1/member-key-never-verifies-a-query", body: func(e *env, d map[string]any) []byte {
			b, _ := json.Marshal(d)
			out, err := e.signer.Sign(protocol.TypQuery, b)
			require.NoError(e.t, err)
			return out
		}, code: protocol.CodeKeyUnknown},
		{name: "1/key-not-valid-at-createdAt", env: func(e *env) {
			e.reg.invalid[e.key.key.Kid] = protocol.Errorf(protocol.CodeKeyNotValid, "revoked")
		}, code: protocol.CodeKeyNotValid},
		{name: "1/no-createdAt-is-the-schema-verdict", doc: func(d map[string]any) { set(d, "/createdAt", nil) }, code: protocol.CodeSchemaInvalid},
		// 2. mTLS pin, requester active.
		{name: "2/wrong-pin", pin: "another-pin", code: protocol.CodeNodePinMismatch},
		{name: "2/member-node-pin-is-not-a-requester", pin: nodePin, code: protocol.CodeNodePinMismatch},
		{name: "2/no-client-key", pin: "-", code: protocol.CodeNodePinMismatch},
		{name: "2/suspended", env: func(e *env) {
			r := e.reg.requesters[unhcr]
			r.Status = "suspended"
			e.reg.requesters[unhcr] = r
		}, code: protocol.CodeRequesterSuspended},
		// 3. schema, semantics, binding, recipient, time window.
		{name: "3/schema", doc: func(d map[string]any) { set(d, "/payload/questions", []any{"favourite-colour"}) }, code: protocol.CodeSchemaInvalid},
		{name: "3/int-sender-with-country-is-a-schema-error", doc: func(d map[string]any) { set(d, "/sender", map[string]any{"nodeId": unhcr, "country": "TJ"}) }, code: protocol.CodeSchemaInvalid},
		{name: "3/wrong-organization", doc: func(d map[string]any) { set(d, "/payload/requester/organization", "INT-IOM") }, code: protocol.CodeSenderMismatch},
		{name: "3/wrong-organization-type", doc: func(d map[string]any) { set(d, "/payload/requester/organizationType", "humanitarian-ngo") }, code: protocol.CodeSenderMismatch},
		{name: "3/sender-not-the-requester", doc: func(d map[string]any) { set(d, "/sender", map[string]any{"nodeId": "INT-IOM"}) }, code: protocol.CodeSenderMismatch},
		{name: "3/wrong-recipient", doc: func(d map[string]any) { set(d, "/recipient", map[string]any{"nodeId": "KZ-MOJ-CRVS", "country": "KZ"}) }, code: protocol.CodeRecipientMismatch},
		{name: "3/too-old", doc: func(d map[string]any) {
			set(d, "/createdAt", t0.Add(-8*24*time.Hour).Format(time.RFC3339))
			set(d, "/payload/consent/obtainedAt", t0.Add(-9*24*time.Hour).Format(time.RFC3339))
		}, code: protocol.CodeTooOld},
		{name: "3/from-future", doc: func(d map[string]any) { set(d, "/createdAt", t0.Add(time.Hour).Format(time.RFC3339)) }, code: protocol.CodeFromFuture},
		// 4. scope.
		{name: "4/country-out-of-scope", env: func(e *env) {
			r := e.reg.requesters[unhcr]
			r.Countries = []string{"KZ"}
			e.reg.requesters[unhcr] = r
		}, code: protocol.CodeQueryNotAuthorized, audit: true},
		{name: "4/question-out-of-scope", doc: func(d map[string]any) { set(d, "/payload/questions", []any{"vital-status", "civil-status"}) }, code: protocol.CodeQueryNotAuthorized, audit: true},
		{name: "4/purpose-out-of-scope", doc: func(d map[string]any) { set(d, "/purpose", "statistics") }, code: protocol.CodeQueryNotAuthorized, audit: true},
		{name: "4/basis-out-of-scope", doc: func(d map[string]any) { set(d, "/payload/consent/basis", "public-interest-mandate") }, code: protocol.CodeQueryNotAuthorized, audit: true},
		{name: "4/consent-obtained-after-createdAt", doc: func(d map[string]any) {
			set(d, "/payload/consent/obtainedAt", t0.Format(time.RFC3339)) // createdAt is t0 − 1 minute
		}, code: protocol.CodeQueryNotAuthorized, audit: true},
		// 5. rate.
		{name: "5/rate-zero", env: func(e *env) {
			r := e.reg.requesters[unhcr]
			r.RatePerMinute, r.RateBurst = 0, 0
			e.reg.requesters[unhcr] = r
		}, code: protocol.CodeRateLimited, audit: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			if c.env != nil {
				c.env(e)
			}
			d := baseQuery(qid)
			if c.doc != nil {
				c.doc(d)
			}
			var body []byte
			if c.body != nil {
				body = c.body(e, d)
			} else {
				body = e.signQuery(d)
			}
			pin := unhcrPin
			switch c.pin {
			case "":
			case "-":
				pin = ""
			default:
				pin = c.pin
			}
			w := e.post(body, pin)
			require.Equal(t, c.code, problemCode(t, w), w.Body.String())
			require.Equal(t, c.code.Status(), w.Code)
			es, err := e.store.AuditAfter(context.Background(), 0, 10)
			require.NoError(t, err)
			if c.audit {
				require.Len(t, es, 1)
				require.Equal(t, store.AuditQueryRefused, es[0].Kind)
				require.Contains(t, es[0].Detail, "outcome="+string(c.code))
			} else {
				require.Empty(t, es, "a query refused before step 4 is not audited as a query")
			}
			_, found, err := e.store.LookupQuery(context.Background(), unhcr, qid)
			require.NoError(t, err)
			require.False(t, found, "a refusal stores no answer")
		})
	}
}

// TestRateLimited is SPEC §11.2.5: over the requester's rate at this node
// is RATE_LIMITED, 429, with Retry-After; the rate refills with time.
func TestRateLimited(t *testing.T) {
	e := newEnv(t)
	r := e.reg.requesters[unhcr]
	r.RatePerMinute, r.RateBurst = 2, 2
	e.reg.requesters[unhcr] = r
	id := func(i int) string { return fmt.Sprintf("3d0c7a52-9b1e-4f6a-8c2d-5e7f9a1b3c%02d", i) }
	for i := range 2 {
		w := e.post(e.signQuery(baseQuery(id(i))), unhcrPin)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	}
	w := e.post(e.signQuery(baseQuery(id(2))), unhcrPin)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	require.Equal(t, protocol.CodeRateLimited, problemCode(t, w))
	require.Equal(t, "30", w.Header().Get("Retry-After"), "2 per minute: one more in 30 s")
	e.now = e.now.Add(30 * time.Second)
	w = e.post(e.signQuery(baseQuery(id(2))), unhcrPin)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
}

// TestReplay is SPEC §11.2.6: the same query again gets the same
// attestation bytes (even re-signed: ECDSA signatures differ); the same id
// with other content is MESSAGE_ID_CONFLICT.
func TestReplay(t *testing.T) {
	e := newEnv(t)
	d := baseQuery(qid)
	first := e.post(e.signQuery(d), unhcrPin)
	require.Equal(t, http.StatusOK, first.Code, first.Body.String())
	e.records.outcome = match.NoMatch // what records say now does not matter
	e.now = e.now.Add(time.Minute)
	again := e.post(e.signQuery(d), unhcrPin)
	require.Equal(t, http.StatusOK, again.Code)
	require.Equal(t, first.Body.Bytes(), again.Body.Bytes(), "byte for byte")

	set(d, "/payload/questions", []any{"is-registered"})
	w := e.post(e.signQuery(d), unhcrPin)
	require.Equal(t, protocol.CodeConflict, problemCode(t, w))
	require.Equal(t, 409, w.Code)

	es, err := e.store.AuditAfter(context.Background(), 0, 10)
	require.NoError(t, err)
	require.Len(t, es, 2, "one answer, one refusal; the replay writes nothing")
	require.Equal(t, store.AuditQueryAnswered, es[0].Kind)
	require.Equal(t, store.AuditQueryRefused, es[1].Kind)
	require.Contains(t, es[1].Detail, "outcome=MESSAGE_ID_CONFLICT")
}

// TestAuditNeverHoldsTheSubject: SPEC §11.2 "with the subject only as an
// HMAC-SHA-256 under a key of the node (never the subject itself)".
func TestAuditNeverHoldsTheSubject(t *testing.T) {
	e := newEnv(t)
	d := baseQuery(qid)
	set(d, "/payload/subject/identifiers", []any{map[string]any{"scheme": "UNHCR-IND", "value": "845-00193721"}})
	require.Equal(t, http.StatusOK, e.post(e.signQuery(d), unhcrPin).Code)
	set(d, "/messageId", "11111111-2222-4333-8444-555555555555")
	set(d, "/payload/questions", []any{"civil-status"})
	require.Equal(t, protocol.CodeQueryNotAuthorized, problemCode(t, e.post(e.signQuery(d), unhcrPin)))

	es, err := e.store.AuditAfter(context.Background(), 0, 10)
	require.NoError(t, err)
	require.Len(t, es, 2)
	all, err := json.Marshal(es)
	require.NoError(t, err)
	var backup bytes.Buffer
	_, err = e.store.Backup(context.Background(), &backup)
	require.NoError(t, err)
	for _, leak := range []string{"RUSTAM", "KARIMOV", "Karimov", "1979-11-03", "845-00193721", "00193721"} {
		require.NotContains(t, string(all), leak)
	}
	// The store keeps the attestation (no subject in it) and nothing of the query.
	for _, leak := range []string{"RUSTAM", "KARIMOV", "845-00193721"} {
		require.NotContains(t, backup.String(), leak)
	}
	h := subjectHMAC(e.h.d.AuditKey, baseQueryWithIdent()["payload"].(map[string]any)["subject"])
	require.Contains(t, es[0].Detail, "subject="+h)
	require.Contains(t, es[0].Detail, "questions=vital-status outcome=unique-match")
	require.Contains(t, es[1].Detail, "subject="+h, "the same subject has the same keyed hash")
}

func baseQueryWithIdent() map[string]any {
	d := baseQuery(qid)
	set(d, "/payload/subject/identifiers", []any{map[string]any{"scheme": "UNHCR-IND", "value": "845-00193721"}})
	// through JSON, as the handler sees it (numbers as json.Number)
	b, _ := json.Marshal(d)
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	_ = dec.Decode(&out)
	return out
}

// TestProbingRefused: with queries.refuseProbing, a requester that sweeps
// identifiers is refused RATE_LIMITED; the signal is counted and audited.
func TestProbingRefused(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("refuseProbing=%v", refuse), func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.RefuseProbing = refuse; c.Probing = ProbeConfig{Sweep: 3} })
			var last int
			for i := range 3 {
				d := baseQuery(fmt.Sprintf("3d0c7a52-9b1e-4f6a-8c2d-5e7f9a1b3c%02d", i))
				set(d, "/payload/subject", map[string]any{"identifiers": []any{map[string]any{"scheme": "UNHCR-IND", "value": fmt.Sprintf("845-0019372%d", i)}}})
				w := e.post(e.signQuery(d), unhcrPin)
				last = w.Code
				if i < 2 {
					require.Equal(t, http.StatusOK, w.Code, w.Body.String())
				} else if refuse {
					require.Equal(t, protocol.CodeRateLimited, problemCode(t, w))
					require.NotEmpty(t, w.Header().Get("Retry-After"))
				}
			}
			if !refuse {
				require.Equal(t, http.StatusOK, last)
			}
			require.Equal(t, 1, e.metrics.probing[unhcr+" "+SignalIdentifierSweep])
			es, err := e.store.AuditAfter(context.Background(), 0, 10)
			require.NoError(t, err)
			kinds := []string{}
			for _, x := range es {
				kinds = append(kinds, x.Kind)
			}
			want := []string{store.AuditQueryAnswered, store.AuditQueryAnswered, store.AuditQueryProbing, store.AuditQueryAnswered}
			if refuse {
				want[3] = store.AuditQueryRefused
			}
			require.Equal(t, want, kinds)
		})
	}
}

// TestUnsupportedMediaType is SPEC §8.1's Content-Type rule on this endpoint.
func TestUnsupportedMediaType(t *testing.T) {
	e := newEnv(t)
	r, _ := http.NewRequest("POST", "/v1/queries", bytes.NewReader(e.signQuery(baseQuery(qid))))
	r.Header.Set("Content-Type", "application/json")
	w := newRecorder()
	e.h.ServeHTTP(w, r)
	require.Equal(t, protocol.CodeUnsupported, problemCode(t, w))
}

// A stale registry replica may not know of a suspension or a revoked key:
// the node refuses every query UNAVAILABLE (retryable) before any check,
// and answers again once it is in sync.
func TestStaleRegistryFailsClosed(t *testing.T) {
	e := newEnv(t)
	e.stale = errors.New("registry replica stale: 2m0s since the last sync")
	w := e.post(e.signQuery(baseQuery(qid)), unhcrPin)
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Equal(t, protocol.CodeUnavailable, problemCode(t, w))
	require.NotEmpty(t, w.Header().Get("Retry-After"))
	e.stale = nil
	w = e.post(e.signQuery(baseQuery(qid)), unhcrPin)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
}
