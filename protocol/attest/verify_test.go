package attest_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/attest"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
)

const hour = time.Hour

// TestVerify is SPEC §11.3, one case per clause and step.
func TestVerify(t *testing.T) {
	type setup struct {
		tok  []byte
		view *trust.View
		now  time.Time
	}
	cases := []struct {
		name    string
		build   func(t *testing.T) setup
		outcome attest.Outcome
		code    protocol.Code
		issue   string // an issue code the refusal must carry
		check   func(t *testing.T, v *attest.Verdict)
	}{
		{
			name: "ok/unique-match-signed-by-an-active-member-key",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				at := w.n.Now.Time().Add(-hour)
				return setup{sign(t, w.n.Member("TJ").Sig, mustBuild(t, answer(at))), w.View(), at.Add(24 * hour)}
			},
			outcome: attest.OutcomeValid,
			check: func(t *testing.T, v *attest.Verdict) {
				if v.Issuer.Country != "TJ" || v.InResponseTo != queryID || v.MatchResult != attest.MatchUnique ||
					v.Answers["civilStatus"] != "married" || v.Recipient.NodeID != "INT-UNHCR" || v.Kid == "" {
					t.Fatalf("verdict %+v", v)
				}
				if got := v.ValidUntil.Sub(v.AttestedAt); got != attest.DefaultValidity {
					t.Fatalf("validity %s, want the default %s", got, attest.DefaultValidity)
				}
			},
		},
		{
			name: "ok/no-match-has-no-answers",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				a := answer(w.n.Now.Time().Add(-hour))
				a.MatchResult, a.Answers = attest.MatchNone, nil
				return setup{sign(t, w.n.Member("TJ").Sig, mustBuild(t, a)), w.View(), w.n.Now.Time()}
			},
			outcome: attest.OutcomeValid,
		},
		{
			name: "fail/step1-tampered-payload",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				at := w.n.Now.Time().Add(-hour)
				return setup{flipPayload(t, sign(t, w.n.Member("TJ").Sig, mustBuild(t, answer(at)))), w.View(), at}
			},
			code: protocol.CodeSignatureInvalid,
			check: func(t *testing.T, v *attest.Verdict) {
				if v.MatchResult != "" || v.Answers != nil || v.Issuer != (attest.Issuer{}) {
					t.Fatalf("a verdict repeats an unverified payload: %+v", v)
				}
			},
		},
		{
			name: "fail/step1-tampered-signature",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				at := w.n.Now.Time().Add(-hour)
				return setup{flipSignature(t, sign(t, w.n.Member("TJ").Sig, mustBuild(t, answer(at)))), w.View(), at}
			},
			code: protocol.CodeSignatureInvalid,
		},
		{
			name: "fail/step1-typ-is-not-an-attestation",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				at := w.n.Now.Time().Add(-hour)
				tok, err := w.n.Member("TJ").Sig.Sign(protocol.TypEvent, mustBuild(t, answer(at)))
				if err != nil {
					t.Fatal(err)
				}
				return setup{tok, w.View(), at}
			},
			code: protocol.CodeTypMismatch,
		},
		{
			name: "fail/step1-key-not-in-the-bundle",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				at := w.n.Now.Time().Add(-hour)
				return setup{sign(t, w.n.NewKey("TJ", jws.AlgES256), mustBuild(t, answer(at))), w.View(), at}
			},
			code: protocol.CodeKeyUnknown,
		},
		{
			name: "fail/step1-governance-key-is-not-a-signing-key",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				at := w.n.Now.Time().Add(-hour)
				return setup{sign(t, w.n.Member("TJ").Gov, mustBuild(t, answer(at))), w.View(), at}
			},
			code: protocol.CodeKeyUnknown,
		},
		{
			name: "fail/step1-size-before-parsing",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				return setup{bytes.Repeat([]byte("a"), attest.MaxTokenBytes+1), w.View(), w.n.Now.Time()}
			},
			code: protocol.CodeTooLarge,
		},
		{
			name: "fail/step2-answers-with-a-non-unique-result",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				at := w.n.Now.Time().Add(-hour)
				msg := edit(t, mustBuild(t, answer(at)), func(m map[string]any) { payloadOf(m)["matchResult"] = attest.MatchMultiple })
				return setup{sign(t, w.n.Member("TJ").Sig, msg), w.View(), at}
			},
			code:  protocol.CodeSchemaInvalid,
			issue: "SCHEMA_FORBIDDEN",
		},
		{
			name: "fail/step2-answer-value-outside-the-schema",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				at := w.n.Now.Time().Add(-hour)
				msg := edit(t, mustBuild(t, answer(at)), func(m map[string]any) {
					payloadOf(m)["answers"].(map[string]any)["vitalStatus"] = "alive"
				})
				return setup{sign(t, w.n.Member("TJ").Sig, msg), w.View(), at}
			},
			code:  protocol.CodeSchemaInvalid,
			issue: "SCHEMA_ENUM",
		},
		{
			name: "fail/step2-validUntil-not-after-attestedAt",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				at := w.n.Now.Time().Add(-hour)
				msg := edit(t, mustBuild(t, answer(at)), func(m map[string]any) { payloadOf(m)["validUntil"] = payloadOf(m)["attestedAt"] })
				return setup{sign(t, w.n.Member("TJ").Sig, msg), w.View(), at}
			},
			code:  protocol.CodeSemanticInvalid,
			issue: "ATTESTATION_VALIDITY_INVERTED",
		},
		{
			name: "fail/step2-issuer-country-is-not-the-sender",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				at := w.n.Now.Time().Add(-hour)
				msg := edit(t, mustBuild(t, answer(at)), func(m map[string]any) {
					payloadOf(m)["issuer"].(map[string]any)["country"] = "KZ"
				})
				return setup{sign(t, w.n.Member("TJ").Sig, msg), w.View(), at}
			},
			code:  protocol.CodeSemanticInvalid,
			issue: "ATTESTATION_ISSUER_NOT_SENDER",
		},
		{
			name: "fail/step3-issuer-is-not-the-key's-member",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				at := w.n.Now.Time().Add(-hour)
				a := answer(at)
				a.Sender, a.Issuer.Country = protocol.Endpoint{NodeID: "KZ-MOJ-CRVS"}, "KZ"
				return setup{sign(t, w.n.Member("TJ").Sig, mustBuild(t, a)), w.View(), at}
			},
			code: protocol.CodeSenderMismatch,
		},
		{
			name: "fail/step4-createdAt-is-not-attestedAt",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				at := w.n.Now.Time().Add(-hour)
				msg := edit(t, mustBuild(t, answer(at)), func(m map[string]any) {
					payloadOf(m)["attestedAt"] = at.Add(-time.Minute).UTC().Format(time.RFC3339)
				})
				return setup{sign(t, w.n.Member("TJ").Sig, msg), w.View(), at}
			},
			code: attest.CodeTimeMismatch,
		},
		{
			name: "ok/step4-same-instant-in-another-offset",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				at := w.n.Now.Time().Add(-hour)
				msg := edit(t, mustBuild(t, answer(at)), func(m map[string]any) {
					payloadOf(m)["attestedAt"] = at.In(time.FixedZone("", 5*3600)).Format(time.RFC3339)
				})
				return setup{sign(t, w.n.Member("TJ").Sig, msg), w.View(), at}
			},
			outcome: attest.OutcomeValid,
		},
		{
			name: "fail/step5-key-revoked-as-compromised-before-attestedAt",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				tj := w.n.Member("TJ")
				T := w.n.Now + 3600
				w.n.Advance(2 * hour)
				w.apply(t, w.n.Command(trust.CmdKeyRevoke, "TJ", trust.KeyRevokeArgs{Kid: tj.Sig.Kid(), Reason: trust.RevokeCompromised, CompromisedSince: T}), tj.Gov)
				at := (T + 60).Time()
				return setup{sign(t, tj.Sig, mustBuild(t, answer(at))), w.View(), at}
			},
			code: protocol.CodeKeyNotValid,
			check: func(t *testing.T, v *attest.Verdict) {
				if !strings.Contains(v.Detail, "compromised") {
					t.Fatalf("detail %q", v.Detail)
				}
			},
		},
		{
			name: "fail/step5-key-revoked-as-compromised-at-attestedAt",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				tj := w.n.Member("TJ")
				T := w.n.Now + 3600
				w.n.Advance(2 * hour)
				w.apply(t, w.n.Command(trust.CmdKeyRevoke, "TJ", trust.KeyRevokeArgs{Kid: tj.Sig.Kid(), Reason: trust.RevokeCompromised, CompromisedSince: T}), tj.Gov)
				return setup{sign(t, tj.Sig, mustBuild(t, answer(T.Time()))), w.View(), T.Time()}
			},
			code: protocol.CodeKeyNotValid,
		},
		{
			name: "ok/step5-key-compromised-after-attestedAt",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				tj := w.n.Member("TJ")
				T := w.n.Now + 3600
				w.n.Advance(2 * hour)
				w.apply(t, w.n.Command(trust.CmdKeyRevoke, "TJ", trust.KeyRevokeArgs{Kid: tj.Sig.Kid(), Reason: trust.RevokeCompromised, CompromisedSince: T}), tj.Gov)
				at := (T - 1).Time()
				return setup{sign(t, tj.Sig, mustBuild(t, answer(at))), w.View(), at.Add(hour)}
			},
			outcome: attest.OutcomeValid,
		},
		{
			name: "ok/step5-key-retired-after-attestedAt",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				tj := w.n.Member("TJ")
				at := w.n.Now.Time()
				w.n.Advance(10 * 24 * hour)
				w.apply(t, w.n.Command(trust.CmdKeyRetire, "TJ", trust.KeyRetireArgs{Kid: tj.Sig.Kid()}), tj.Gov)
				return setup{sign(t, tj.Sig, mustBuild(t, answer(at))), w.View(), at.Add(20 * 24 * hour)}
			},
			outcome: attest.OutcomeValid,
			check: func(t *testing.T, v *attest.Verdict) {
				if len(v.Warnings) != 0 {
					t.Fatalf("warnings %v for an attestation older than the bundle's last entry", v.Warnings)
				}
			},
		},
		{
			name: "fail/step5-key-retired-before-attestedAt",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				tj := w.n.Member("TJ")
				w.n.Advance(hour)
				w.apply(t, w.n.Command(trust.CmdKeyRetire, "TJ", trust.KeyRetireArgs{Kid: tj.Sig.Kid()}), tj.Gov)
				at := w.n.Now.Time().Add(hour)
				return setup{sign(t, tj.Sig, mustBuild(t, answer(at))), w.View(), at}
			},
			code: protocol.CodeKeyNotValid,
		},
		{
			name: "fail/step5-key-not-yet-valid-at-attestedAt",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				tj := w.n.Member("TJ")
				next := w.n.NewKey("TJ", jws.AlgES256)
				notBefore := w.n.Now + 30*86400
				w.apply(t, w.n.Command(trust.CmdKeyAdd, "TJ", trust.KeyAddArgs{Member: "TJ", Key: w.n.Spec(next, trust.RoleSigning, notBefore)}), tj.Gov, next)
				at := w.n.Now.Time().Add(hour)
				return setup{sign(t, next, mustBuild(t, answer(at))), w.View(), at}
			},
			code: protocol.CodeKeyNotValid,
		},
		{
			name: "fail/step5-member-suspended-at-attestedAt",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				kz := w.n.Member("KZ")
				w.n.Advance(hour)
				w.apply(t, w.n.Command(trust.CmdMemberSuspend, "TJ", trust.SuspendArgs{Member: "KZ", Reason: "audit"}), w.n.Gov("TJ", "TR")...)
				at := w.n.Now.Time().Add(time.Minute)
				w.n.Advance(hour)
				w.apply(t, w.n.Command(trust.CmdMemberReinstate, "TJ", trust.ReinstateArgs{Member: "KZ"}), w.n.Gov("TJ", "TR")...)
				a := answer(at)
				a.Sender, a.Issuer = protocol.Endpoint{NodeID: "KZ-MOJ-CRVS"}, attest.Issuer{Country: "KZ", Authority: "Ministry of Justice"}
				return setup{sign(t, kz.Sig, mustBuild(t, a)), w.View(), w.n.Now.Time()}
			},
			code: attest.CodeIssuerNotActive,
		},
		{
			name: "fail/step5-attested-before-the-member-joined",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				at := w.n.Genesis.Document().GenesisTime.Time().Add(-hour) // the key's notBefore is a day before the genesis
				return setup{sign(t, w.n.Member("TJ").Sig, mustBuild(t, answer(at))), w.View(), w.n.Now.Time()}
			},
			code: attest.CodeIssuerNotActive,
		},
		{
			name: "fail/step6-attestedAt-ahead-of-the-clock",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				now := w.n.Now.Time()
				return setup{sign(t, w.n.Member("TJ").Sig, mustBuild(t, answer(now.Add(attest.Skew+time.Minute)))), w.View(), now}
			},
			code: protocol.CodeFromFuture,
		},
		{
			name: "ok/step6-attestedAt-within-the-skew-and-after-the-bundle-warns",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				view := w.View()
				now := view.ConsensusTime().Time().Add(48 * hour)
				return setup{sign(t, w.n.Member("TJ").Sig, mustBuild(t, answer(now.Add(attest.Skew-time.Minute)))), view, now}
			},
			outcome: attest.OutcomeValid,
			check: func(t *testing.T, v *attest.Verdict) {
				if len(v.Warnings) != 1 || !strings.Contains(v.Warnings[0], "after the trust bundle's last entry") {
					t.Fatalf("warnings %q", v.Warnings)
				}
			},
		},
		{
			name: "expired/step7-validUntil-passed",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				at := w.n.Now.Time().Add(-hour)
				return setup{sign(t, w.n.Member("TJ").Sig, mustBuild(t, answer(at))), w.View(), at.Add(attest.DefaultValidity + time.Second)}
			},
			outcome: attest.OutcomeExpired,
			code:    attest.CodeExpired,
			check: func(t *testing.T, v *attest.Verdict) {
				if v.Answers["isRegistered"] != "yes" || v.Issuer.Country != "TJ" {
					t.Fatalf("an expired verdict still says what was attested: %+v", v)
				}
			},
		},
		{
			name: "expired/step7-at-exactly-validUntil",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				at := w.n.Now.Time().Add(-hour).Truncate(time.Second)
				return setup{sign(t, w.n.Member("TJ").Sig, mustBuild(t, answer(at))), w.View(), at.Add(attest.DefaultValidity)}
			},
			outcome: attest.OutcomeExpired,
			code:    attest.CodeExpired,
		},
		{
			name: "fail/expired-and-forged-is-forged",
			build: func(t *testing.T) setup {
				w := newWorld(t)
				at := w.n.Now.Time().Add(-hour)
				return setup{flipSignature(t, sign(t, w.n.Member("TJ").Sig, mustBuild(t, answer(at)))), w.View(), at.Add(365 * 24 * hour)}
			},
			code: protocol.CodeSignatureInvalid,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.build(t)
			v, err := attest.Verify(s.tok, s.view, s.now)
			if v == nil {
				t.Fatalf("no verdict: %v", err)
			}
			want := tc.outcome
			if want == "" {
				want = attest.OutcomeNotValid
			}
			if v.Outcome != want || v.Code != tc.code || protocol.CodeOf(err) != tc.code {
				t.Fatalf("outcome %s code %s (err %v), want %s %s", v.Outcome, v.Code, err, want, tc.code)
			}
			if (err == nil) != (want == attest.OutcomeValid) || v.Valid() != (want == attest.OutcomeValid) {
				t.Fatalf("err %v for outcome %s", err, v.Outcome)
			}
			if tc.issue != "" {
				found := false
				for _, is := range v.Issues {
					found = found || is.Code == tc.issue
				}
				if !found {
					t.Fatalf("issues %v lack %s", v.Issues, tc.issue)
				}
			}
			if tc.check != nil {
				tc.check(t, v)
			}
		})
	}
}

func TestVerifyWithoutAViewIsAnInternalError(t *testing.T) {
	v, err := attest.Verify([]byte("a.b.c"), nil, time.Now())
	if v != nil || err == nil || protocol.CodeOf(err) != "" {
		t.Fatalf("%v %v", v, err)
	}
	if errors.Is(err, protocol.ErrRejected) {
		t.Fatal("a missing view is not a refusal of the token")
	}
}
