package conformance

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
)

// receiverModules is the receiver plan (DESIGN.md §5.1): the candidate's
// peer API, POST /v1/messages, against SPEC §6–§8.
func (e *env) receiverModules() []module {
	ms := []module{{PlanReceiver, "baseline/accepted-with-a-signed-receipt", "SPEC §8.1, §8.3", func(ctx context.Context, e *env, r *record) {
		id := protocol.NewUUID()
		tok := mustSign(e.suite.A().Signing[0], e.birth(e.suite.A(), id, now()))
		a := e.w.do(ctx, request{as: MemberA, body: tok})
		r.saw(tok, a)
		r.conditions = append(r.conditions, e.accepted(a, sentMessage{jws: tok, messageID: id, sender: e.suite.A()})...)
	}}}
	ms = append(ms, e.vectorModules()...)
	ms = append(ms, e.bindingModules()...)
	ms = append(ms, e.keyModules()...)
	ms = append(ms, e.payloadModules()...)
	ms = append(ms, e.httpModules()...)
	ms = append(ms, e.idempotencyModules()...)
	return ms
}

// refusal is a negative module: tok, sent as member as, must be refused
// with code (DESIGN.md §4.1–§4.3); then the same messageId, in a valid
// message of A, must be accepted as a new message (§4.4: nothing was
// stored) — which also shows the candidate still accepts (§4.5).
func (e *env) refusal(ctx context.Context, r *record, as string, tok []byte, code protocol.Code, id string) {
	a := e.w.do(ctx, request{as: as, body: tok})
	r.saw(tok, a)
	r.conditions = append(r.conditions, rejected(a, code)...)
	e.acceptedAfter(ctx, r, id)
}

// acceptedAfter sends A's valid message with id and requires a receipt
// for exactly those bytes: nothing of an earlier refusal with the same id
// was stored, and the candidate still accepts.
func (e *env) acceptedAfter(ctx context.Context, r *record, id string) {
	if id == "" {
		id = protocol.NewUUID()
	}
	tok := mustSign(e.suite.A().Signing[0], e.birth(e.suite.A(), id, now()))
	a := e.w.do(ctx, request{as: MemberA, body: tok})
	for _, c := range e.accepted(a, sentMessage{jws: tok, messageID: id, sender: e.suite.A()}) {
		c.Check = "after the refusal, the same messageId in a valid message is accepted as new (nothing stored; DESIGN §4): " + c.Check
		r.conditions = append(r.conditions, c)
	}
}

// vectorModules sends every JWS vector of SPEC Appendix A that applies to
// a registry-backed receiver (protocol/protocoltest/vectors.json): A's
// registered key minting each mutation of a valid message.
func (e *env) vectorModules() []module {
	var ms []module
	for _, v := range protocoltest.VectorsFor(jws.AlgES256) {
		if v.Kind == protocoltest.KeyUseEnc {
			// A registry holds signing keys with use "sig" only: no member
			// can present an enc key to a registry-backed receiver.
			continue
		}
		v := v
		ms = append(ms, module{PlanReceiver, "jws/" + v.Name, v.Cite, func(ctx context.Context, e *env, r *record) {
			id := protocol.NewUUID()
			tok := e.vectorsOf[MemberA].Mint(v.Kind, protocol.TypEvent, e.birth(e.suite.A(), id, now()))
			if v.Code == "" {
				a := e.w.do(ctx, request{as: MemberA, body: tok})
				r.saw(tok, a)
				r.conditions = append(r.conditions, e.accepted(a, sentMessage{jws: tok, messageID: id, sender: e.suite.A()})...)
				return
			}
			e.refusal(ctx, r, MemberA, tok, v.Code, id)
		}})
	}
	return ms
}

// bindingModules: who signs, who sends, for whom (SPEC §6.4.1, §6.6.5,
// §6.6.7, §8.1).
func (e *env) bindingModules() []module {
	A, B, C := e.suite.A, e.suite.B, e.suite.C
	return []module{
		{PlanReceiver, "binding/wrong-recipient", "SPEC §6.6.7", func(ctx context.Context, e *env, r *record) {
			id := protocol.NewUUID()
			// A message valid in every way for B, delivered to the candidate.
			msg := e.birthTo(A(), B().NodeID, B().Member, id, now())
			e.refusal(ctx, r, MemberA, mustSign(A().Signing[0], msg), protocol.CodeRecipientMismatch, id)
		}},
		{PlanReceiver, "binding/key-of-another-member", "SPEC §6.6.5", func(ctx context.Context, e *env, r *record) {
			id := protocol.NewUUID()
			e.refusal(ctx, r, MemberA, mustSign(B().Signing[0], e.birth(A(), id, now())), protocol.CodeSenderMismatch, id)
		}},
		{PlanReceiver, "binding/mtls-peer-is-not-the-sender", "SPEC §6.6.5, §8.1", func(ctx context.Context, e *env, r *record) {
			id := protocol.NewUUID()
			e.refusal(ctx, r, MemberB, mustSign(A().Signing[0], e.birth(A(), id, now())), protocol.CodeSenderMismatch, id)
		}},
		{PlanReceiver, "binding/never-admitted-member", "SPEC §6.4.1", func(ctx context.Context, e *env, r *record) {
			id := protocol.NewUUID()
			e.refusal(ctx, r, MemberA, mustSign(C().Signing[0], e.birth(C(), id, now())), protocol.CodeKeyUnknown, id)
		}},
		{PlanReceiver, "binding/unregistered-tls-key", "SPEC §8.1", func(ctx context.Context, e *env, r *record) {
			id := protocol.NewUUID()
			e.refusal(ctx, r, MemberC, mustSign(A().Signing[0], e.birth(A(), id, now())), protocol.CodeNodePinMismatch, id)
		}},
		{PlanReceiver, "binding/no-tls-client-key", "SPEC §8.1", func(ctx context.Context, e *env, r *record) {
			id := protocol.NewUUID()
			e.refusal(ctx, r, "", mustSign(A().Signing[0], e.birth(A(), id, now())), protocol.CodeNodePinMismatch, id)
		}},
	}
}

// keyModules: keys have time (REGISTRY.md §10, SPEC §6.6.6). R's keys are
// retired, revoked as compromised, not yet valid and expired by the
// suite's registry set-up, which the candidate's replica must follow.
func (e *env) keyModules() []module {
	R := e.suite.R
	mod := func(name, cite string, f func(s registrySetup) (*jws.Signer, time.Time, protocol.Code)) module {
		return module{PlanReceiver, "keys/" + name, cite, func(ctx context.Context, e *env, r *record) {
			s := e.registrySetup(ctx)
			if s.err != nil {
				r.fail("the suite's registry set-up (retire, revoke, add keys of "+MemberR+")", "applied by the suite and the candidate", "%v", s.err)
				return
			}
			signer, created, code := f(s)
			id := protocol.NewUUID()
			tok := mustSign(signer, e.birth(R(), id, created))
			if code == "" {
				a := e.w.do(ctx, request{as: MemberR, body: tok})
				r.saw(tok, a)
				r.conditions = append(r.conditions, e.accepted(a, sentMessage{jws: tok, messageID: id, sender: R()})...)
				return
			}
			e.refusal(ctx, r, MemberR, tok, code, id)
		}}
	}
	return []module{
		mod("retired-key-signed-before-retirement", "REGISTRY.md §10; SPEC §6.6.6", func(s registrySetup) (*jws.Signer, time.Time, protocol.Code) {
			return s.retired, s.retiredAt.Add(-time.Minute), ""
		}),
		mod("retired-key-signed-after-retirement", "REGISTRY.md §10; SPEC §6.6.6", func(s registrySetup) (*jws.Signer, time.Time, protocol.Code) {
			return s.retired, now(), protocol.CodeKeyNotValid
		}),
		mod("compromised-key-signed-before-the-compromise", "REGISTRY.md §10; SPEC §6.6.6", func(s registrySetup) (*jws.Signer, time.Time, protocol.Code) {
			return s.compromised, s.compromisedSince.Add(-time.Minute), ""
		}),
		mod("compromised-key-signed-after-the-compromise", "REGISTRY.md §10; SPEC §6.6.6", func(s registrySetup) (*jws.Signer, time.Time, protocol.Code) {
			return s.compromised, s.compromisedSince.Add(time.Minute), protocol.CodeKeyNotValid
		}),
		mod("key-not-yet-valid", "REGISTRY.md §10; SPEC §6.6.6", func(s registrySetup) (*jws.Signer, time.Time, protocol.Code) {
			return s.notYetValid, now(), protocol.CodeKeyNotValid
		}),
		mod("key-expired", "REGISTRY.md §10; SPEC §6.6.6", func(s registrySetup) (*jws.Signer, time.Time, protocol.Code) {
			time.Sleep(time.Until(s.shortLivedUntil.Add(2 * time.Second)))
			return s.shortLived, now(), protocol.CodeKeyNotValid
		}),
		mod("kept-key-still-valid", "REGISTRY.md §10", func(s registrySetup) (*jws.Signer, time.Time, protocol.Code) {
			return R().Signing[0], now(), ""
		}),
	}
}

// payloadModules: the payload's JSON, schema and semantic checks (SPEC
// §6.5, §6.6.1–§6.6.3) and its time window (§6.7).
func (e *env) payloadModules() []module {
	A := e.suite.A
	type change struct {
		name, cite string
		code       protocol.Code
		f          func(m map[string]any)
	}
	changes := []change{
		{"schema/missing-required-member", "SPEC §6.6.2", protocol.CodeSchemaInvalid, func(m map[string]any) { delete(at(m, "payload"), "child") }},
		{"schema/bad-code", "SPEC §6.6.2", protocol.CodeSchemaInvalid, func(m map[string]any) { at(m, "payload", "child")["sex"] = 7 }},
		{"schema/extra-property", "SPEC §6.6.2", protocol.CodeSchemaInvalid, func(m map[string]any) { at(m, "payload")["unexpected"] = true }},
		{"schema/unknown-schema-version", "SPEC §6.6.1, §9", protocol.CodeSchemaVersion, func(m map[string]any) { m["schemaVersion"] = "9.0.0" }},
		{"schema/unknown-message-type", "SPEC §6.6.1", protocol.CodeMessageType, func(m map[string]any) { m["messageType"] = "event.coronation" }},
		{"schema/huge-string", "SPEC §6.6.2", protocol.CodeSchemaInvalid, func(m map[string]any) {
			at(m, "payload", "event", "placeOfOccurrence")["locality"] = strings.Repeat("İstanbul ", 10000)
		}},
		{"semantic/registration-before-the-event", "schemas/semantic RULES.md REGISTRATION_BEFORE_EVENT", protocol.CodeSemanticInvalid, func(m map[string]any) {
			at(m, "payload", "registration")["registrationDate"] = "2000-01-01"
		}},
		{"semantic/date-after-created-at", "schemas/semantic RULES.md DATE_AFTER_CREATED_AT", protocol.CodeSemanticInvalid, func(m map[string]any) {
			at(m, "payload", "registration")["registrationDate"] = now().AddDate(0, 0, 3).Format("2006-01-02")
		}},
		{"semantic/check-digit", "schemas/semantic RULES.md IIN_CHECK_DIGIT", protocol.CodeSemanticInvalid, func(m map[string]any) {
			p := at(m, "payload", "mother", "person")
			p["identifiers"] = append(p["identifiers"].([]any), map[string]any{"scheme": "KZ-IIN", "value": "900101400001", "issuingCountry": "KZ"})
		}},
		{"semantic/bidi-control-in-a-name", "schemas/semantic RULES.md TEXT_BIDI_CONTROL", protocol.CodeSemanticInvalid, func(m map[string]any) {
			n := at(m, "payload", "child")["names"].([]any)[1].(map[string]any)
			n["givenNames"] = "Firdavs\u202e"
		}},
		{"json/not-nfc", "SPEC §1, §6.5", protocol.CodePayloadNotNFC, func(m map[string]any) {
			at(m, "payload", "event", "placeOfOccurrence")["locality"] = "I\u0307stanbul"
		}},
	}
	var ms []module
	for _, c := range changes {
		c := c
		ms = append(ms, module{PlanReceiver, "payload/" + c.name, c.cite, func(ctx context.Context, e *env, r *record) {
			id := protocol.NewUUID()
			e.refusal(ctx, r, MemberA, mustSign(A().Signing[0], edit(e.birth(A(), id, now()), c.f)), c.code, id)
		}})
	}
	// Raw JSON the encoder cannot produce.
	type raw struct {
		name, cite string
		code       protocol.Code
		f          func(msg []byte) []byte
	}
	raws := []raw{
		{"json/duplicate-member-name", "SPEC §6.5; RFC 7493 §2.3", protocol.CodePayloadDup, func(msg []byte) []byte {
			return bytes.Replace(msg, []byte(`"schemaVersion":`), []byte(`"messageType":"event.death","schemaVersion":`), 1)
		}},
		{"json/trailing-data", "SPEC §6.5", protocol.CodePayloadJSON, func(msg []byte) []byte { return append(msg, []byte(` {}`)...) }},
		{"json/invalid-utf8", "SPEC §6.5; RFC 7493 §2.1", protocol.CodePayloadUTF8, func(msg []byte) []byte {
			return bytes.Replace(msg, []byte(`"Şişli"`), []byte("\"\xc5\x9f\xff\""), 1)
		}},
		{"json/number-past-2^53", "SPEC §6.5; RFC 7493 §2.2", protocol.CodePayloadNumber, func(msg []byte) []byte {
			return bytes.Replace(msg, []byte(`"weightAtBirthGrams":3350`), []byte(`"weightAtBirthGrams":9007199254740993`), 1)
		}},
		{"json/deep-nesting", "SPEC §6.5", protocol.CodePayloadTooDeep, func(msg []byte) []byte {
			deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
			return bytes.Replace(msg, []byte(`"action":"register"`), []byte(`"action":`+deep), 1)
		}},
	}
	for _, c := range raws {
		c := c
		ms = append(ms, module{PlanReceiver, "payload/" + c.name, c.cite, func(ctx context.Context, e *env, r *record) {
			id := protocol.NewUUID()
			msg := c.f(compactJSON(e.birth(A(), id, now())))
			tok, err := A().Signing[0].Sign(protocol.TypEvent, msg)
			if err != nil {
				r.fail("the suite can sign the hostile payload", "a JWS", "%v", err)
				return
			}
			e.refusal(ctx, r, MemberA, tok, c.code, id)
		}})
	}
	ms = append(ms,
		module{PlanReceiver, "time/created-at-too-old", "SPEC §6.7", func(ctx context.Context, e *env, r *record) {
			id := protocol.NewUUID()
			e.refusal(ctx, r, MemberA, mustSign(A().Signing[0], e.birth(A(), id, now().AddDate(0, 0, -60))), protocol.CodeTooOld, id)
		}},
		module{PlanReceiver, "time/created-at-in-the-future", "SPEC §6.7", func(ctx context.Context, e *env, r *record) {
			id := protocol.NewUUID()
			e.refusal(ctx, r, MemberA, mustSign(A().Signing[0], e.birth(A(), id, now().Add(2*time.Hour))), protocol.CodeFromFuture, id)
		}},
	)
	return ms
}

// httpModules: the endpoint itself (SPEC §6.1, §8.1) and keys named by
// URL in a header, which must never be fetched (SPEC §6.3.1).
func (e *env) httpModules() []module {
	A := e.suite.A
	return []module{
		{PlanReceiver, "http/wrong-content-type", "SPEC §8.1", func(ctx context.Context, e *env, r *record) {
			id := protocol.NewUUID()
			tok := mustSign(A().Signing[0], e.birth(A(), id, now()))
			a := e.w.do(ctx, request{as: MemberA, body: tok, contentType: "application/json"})
			r.saw(tok, a)
			r.conditions = append(r.conditions, rejected(a, protocol.CodeUnsupported)...)
			e.acceptedAfter(ctx, r, id)
		}},
		{PlanReceiver, "http/wrong-method", "SPEC §8.1", func(ctx context.Context, e *env, r *record) {
			a := e.w.do(ctx, request{as: MemberA, method: http.MethodGet, contentType: "-"})
			r.saw([]byte("GET /v1/messages"), a)
			if a.err != nil || a.status != 404 && a.status != 405 {
				r.fail("a request with another method", "404 or 405 with a problem document", "%d %v", a.status, a.err)
			} else {
				var pc conditions
				code := protocol.CodeNotFound
				if a.status == 405 {
					code = "" // any code: SPEC §7 lists none for 405
				}
				for _, c := range rejected(a, code) {
					if code == "" && strings.HasPrefix(c.Check, "problem code") {
						continue
					}
					pc = append(pc, c)
				}
				r.conditions = append(r.conditions, pc...)
			}
		}},
		{PlanReceiver, "http/body-over-the-limit-refused-before-reading", "SPEC §6.1, §5", func(ctx context.Context, e *env, r *record) {
			a := e.oversizeBody(ctx)
			r.saw([]byte("POST /v1/messages with Content-Length: 104857600 and 64 KiB sent"), a)
			r.conditions = append(r.conditions, rejected(a, protocol.CodeTooLarge)...)
			if a.err == nil && a.status != 413 {
				r.fail("refused as too large (413)", "413 MESSAGE_TOO_LARGE", "%d", a.status)
			}
			e.acceptedAfter(ctx, r, "")
		}},
		{PlanReceiver, "jws/key-urls-never-fetched", "SPEC §6.3.1; RFC 8725 §3.10", func(ctx context.Context, e *env, r *record) {
			var fetched atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				fetched.Add(1)
				w.WriteHeader(404)
			}))
			defer srv.Close()
			for _, member := range []string{"jku", "x5u"} {
				id := protocol.NewUUID()
				s := A().Signing[0]
				header := `{"alg":"ES256","kid":` + jstr(s.Kid()) + `,"typ":"` + protocol.TypEvent + `","` + member + `":` + jstr(srv.URL+"/keys") + `}`
				tok := signRaw(s, header, compactJSON(e.birth(A(), id, now())))
				e.refusal(ctx, r, MemberA, tok, protocol.CodeHeaderForbidden, id)
			}
			time.Sleep(500 * time.Millisecond) // a fetch the candidate started in the background
			if n := fetched.Load(); n != 0 {
				r.fail("URLs in the header are never fetched (SPEC §6.3.1)", "no request to the suite's URL", "%d requests", n)
			}
		}},
	}
}

// oversizeBody announces a 100 MiB body, sends 64 KiB of it and waits up
// to 10 s for the answer: a node that reads the whole body first never
// answers in time.
func (e *env) oversizeBody(ctx context.Context) answer {
	start := time.Now()
	u := strings.TrimPrefix(e.w.base, "https://")
	if i := strings.IndexByte(u, '/'); i >= 0 {
		u = u[:i]
	}
	conf := e.w.hc[MemberA].Transport.(*http.Transport).TLSClientConfig.Clone()
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: conf}
	c, err := d.DialContext(ctx, "tcp", u)
	if err != nil {
		return answer{err: err}
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "POST /v1/messages HTTP/1.1\r\nHost: %s\r\nContent-Type: application/jose\r\nContent-Length: %d\r\n\r\n", u, 100<<20)
	_, _ = c.Write(bytes.Repeat([]byte("a"), 64<<10))
	resp, err := http.ReadResponse(bufioReader(c), nil)
	if err != nil {
		return answer{err: fmt.Errorf("no answer within 10 s with the body unfinished: %w", err), took: time.Since(start)}
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(ioLimit(resp.Body))
	return answer{status: resp.StatusCode, header: resp.Header, body: b.Bytes(), took: time.Since(start)}
}

// idempotencyModules: SPEC §8.2.
func (e *env) idempotencyModules() []module {
	A := e.suite.A
	return []module{
		{PlanReceiver, "idempotency/exact-replay-returns-the-same-receipt", "SPEC §8.2", func(ctx context.Context, e *env, r *record) {
			id := protocol.NewUUID()
			tok := mustSign(A().Signing[0], e.birth(A(), id, now()))
			first := e.w.do(ctx, request{as: MemberA, body: tok})
			r.conditions = append(r.conditions, e.accepted(first, sentMessage{jws: tok, messageID: id, sender: A()})...)
			again := e.w.do(ctx, request{as: MemberA, body: tok})
			r.saw(tok, again)
			if again.err != nil || again.status != 200 || !bytes.Equal(again.body, first.body) {
				r.fail("an exact replay returns the original receipt, byte for byte (SPEC §8.2)", "the same receipt bytes", "%d %s", again.status, clip(again.body))
			}
		}},
		{PlanReceiver, "idempotency/same-id-other-content-is-a-conflict", "SPEC §8.2", func(ctx context.Context, e *env, r *record) {
			id := protocol.NewUUID()
			tok := mustSign(A().Signing[0], e.birth(A(), id, now()))
			r.conditions = append(r.conditions, e.accepted(e.w.do(ctx, request{as: MemberA, body: tok}), sentMessage{jws: tok, messageID: id, sender: A()})...)
			other := mustSign(A().Signing[0], edit(e.birth(A(), id, now()), func(m map[string]any) {
				at(m, "payload", "event")["timeOfOccurrence"] = "07:13"
			}))
			a := e.w.do(ctx, request{as: MemberA, body: other})
			r.saw(other, a)
			r.conditions = append(r.conditions, rejected(a, protocol.CodeConflict)...)
		}},
		{PlanReceiver, "idempotency/ten-parallel-submissions-one-receipt", "SPEC §8.2", func(ctx context.Context, e *env, r *record) {
			id := protocol.NewUUID()
			tok := mustSign(A().Signing[0], e.birth(A(), id, now()))
			answers := make([]answer, 10)
			var wg sync.WaitGroup
			for i := range answers {
				wg.Add(1)
				go func() { defer wg.Done(); answers[i] = e.w.do(ctx, request{as: MemberA, body: tok}) }()
			}
			wg.Wait()
			r.saw(tok, answers[0])
			r.conditions = append(r.conditions, e.accepted(answers[0], sentMessage{jws: tok, messageID: id, sender: A()})...)
			for i, a := range answers[1:] {
				if a.err != nil || a.status != 200 || !bytes.Equal(a.body, answers[0].body) {
					r.fail("concurrent identical submissions give one record and one receipt (SPEC §8.2)", "ten identical receipts", "answer %d: %d %s", i+2, a.status, clip(a.body))
					break
				}
			}
		}},
	}
}
