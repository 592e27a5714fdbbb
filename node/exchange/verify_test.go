package exchange_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	tr = protocoltest.MustNewMember("TR", jws.AlgES256)
	tj = protocoltest.MustNewMember("TJ", jws.AlgEdDSA)
	kz = protocoltest.MustNewMember("KZ", jws.AlgES256)

	now     = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	tjNode  = &protocol.Endpoint{NodeID: protocoltest.NodeID("TJ"), Country: "TJ"}
	created = now.Add(-time.Minute)
)

func birth() []byte {
	return protocoltest.BirthMessageAt("TR", "TJ", protocoltest.NewUUID(), created)
}

// inbound is the verifier of TJ's inbound event endpoint.
func inbound() *exchange.Verifier {
	return &exchange.Verifier{
		Keys:      tr.TrustView(tj, kz),
		Typ:       protocol.TypEvent,
		Recipient: tjNode,
		Skew:      5 * time.Minute,
		MaxAge:    7 * 24 * time.Hour,
	}
}

// mutate decodes a message, applies f and re-encodes it.
func mutate(t *testing.T, msg []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(msg, &m))
	f(m)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// TestProfileVectors runs every vector of protocoltest through the whole
// pipeline: the pipeline must answer each with the vector's code, so no
// later step hides or changes a refusal of SPEC §6.1–6.4.
func TestProfileVectors(t *testing.T) {
	for _, m := range []*protocoltest.Member{tr, kz} {
		for _, vec := range protocoltest.VectorsFor(m.Key().Alg) {
			t.Run(m.Key().Alg+"/"+vec.Name, func(t *testing.T) {
				tok := m.Mint(vec.Kind, protocol.TypEvent, birthFrom(m))
				v := inbound()
				v.Keys = m.TrustView(tj)
				got, err := v.Verify(tok, now)
				if vec.Code == "" {
					require.NoError(t, err)
					assert.Equal(t, protocol.MTLiveBirth, got.Envelope.MessageType)
					return
				}
				require.Error(t, err)
				assert.Equal(t, vec.Code, protocol.CodeOf(err), "%v", err)
				assert.Nil(t, got)
			})
		}
	}
}

func birthFrom(m *protocoltest.Member) []byte {
	return protocoltest.BirthMessageAt(m.Key().Member, "TJ", protocoltest.NewUUID(), created)
}

func TestVerifyPipeline(t *testing.T) {
	type tc struct {
		name  string
		token func(t *testing.T) []byte
		setup func(v *exchange.Verifier)
		code  protocol.Code
	}
	tests := []tc{
		{name: "ok/birth-tr-to-tj", token: func(t *testing.T) []byte { return tr.Sign(protocol.TypEvent, birth()) }},
		{name: "ok/archived-message-without-max-age", token: func(t *testing.T) []byte {
			old := protocoltest.BirthMessageAt("TR", "TJ", protocoltest.NewUUID(), now.AddDate(0, -10, 0))
			return tr.Sign(protocol.TypEvent, old)
		}, setup: func(v *exchange.Verifier) { v.MaxAge = 0 }},
		{name: "ok/any-typ-offline", token: func(t *testing.T) []byte { return tr.Sign(protocol.TypEvent, birth()) },
			setup: func(v *exchange.Verifier) { v.Typ = "" }},
		{name: "fail/payload-duplicate-name (SPEC 6.5)", token: func(t *testing.T) []byte {
			b := birth()
			dup := append([]byte(`{"purpose":"statistics",`), b[1:]...)
			return tr.Sign(protocol.TypEvent, dup)
		}, code: protocol.CodePayloadDup},
		{name: "fail/payload-not-json (SPEC 6.5)", token: func(t *testing.T) []byte {
			return tr.Sign(protocol.TypEvent, []byte("not json"))
		}, code: protocol.CodePayloadJSON},
		{name: "fail/payload-not-nfc (SPEC 6.5)", token: func(t *testing.T) []byte {
			// A combining acute after the S: NFC would make it "Ś".
			b := bytes.Replace(birth(), []byte(`"TR-NVI-CRVS"`), []byte("\"TR-NVI-CRVS\u0301\""), 1)
			return tr.Sign(protocol.TypEvent, b)
		}, code: protocol.CodePayloadNotNFC},
		{name: "fail/schema-required (SPEC 6.6.2)", token: func(t *testing.T) []byte {
			return tr.Sign(protocol.TypEvent, mutate(t, birth(), func(m map[string]any) { delete(m, "messageId") }))
		}, code: protocol.CodeSchemaInvalid},
		{name: "fail/unsupported-schema-version (SPEC 6.6.1)", token: func(t *testing.T) []byte {
			return tr.Sign(protocol.TypEvent, mutate(t, birth(), func(m map[string]any) { m["schemaVersion"] = "2.0.0" }))
		}, code: protocol.CodeSchemaVersion},
		{name: "fail/typ-does-not-carry-message-type (SPEC 6.6.4)", token: func(t *testing.T) []byte {
			return tr.Sign(protocol.TypReceipt, birth())
		}, setup: func(v *exchange.Verifier) { v.Typ = "" }, code: protocol.CodeTypeMismatch},
		{name: "fail/sender-is-not-the-signing-member (SPEC 6.6.5)", token: func(t *testing.T) []byte {
			// KZ signs a birth that claims to come from TR.
			return kz.Sign(protocol.TypEvent, birth())
		}, code: protocol.CodeSenderMismatch},
		{name: "fail/key-not-valid-at-createdAt (SPEC 6.6.6)", token: func(t *testing.T) []byte {
			return tr.Sign(protocol.TypEvent, birth())
		}, setup: func(v *exchange.Verifier) { v.Validity = revokedSince{tr.Kid(), created.Add(-time.Hour)} }, code: protocol.CodeKeyNotValid},
		{name: "ok/key-revoked-after-createdAt (SPEC 2)", token: func(t *testing.T) []byte {
			return tr.Sign(protocol.TypEvent, birth())
		}, setup: func(v *exchange.Verifier) { v.Validity = revokedSince{tr.Kid(), created.Add(time.Hour)} }},
		{name: "fail/recipient-is-another-node (SPEC 6.6.7)", token: func(t *testing.T) []byte {
			// For Tajikistan, but for another node of it.
			return tr.Sign(protocol.TypEvent, protocoltest.BirthMessageAt("TR", "TJ-ZAGS-DUSHANBE", protocoltest.NewUUID(), created))
		}, code: protocol.CodeRecipientMismatch},
		{name: "fail/created-in-the-future (SPEC 6.7)", token: func(t *testing.T) []byte {
			return tr.Sign(protocol.TypEvent, protocoltest.BirthMessageAt("TR", "TJ", protocoltest.NewUUID(), now.Add(6*time.Minute)))
		}, code: protocol.CodeFromFuture},
		{name: "ok/created-within-skew (SPEC 6.7)", token: func(t *testing.T) []byte {
			return tr.Sign(protocol.TypEvent, protocoltest.BirthMessageAt("TR", "TJ", protocoltest.NewUUID(), now.Add(4*time.Minute)))
		}},
		{name: "fail/too-old (SPEC 6.7)", token: func(t *testing.T) []byte {
			return tr.Sign(protocol.TypEvent, protocoltest.BirthMessageAt("TR", "TJ", protocoltest.NewUUID(), now.Add(-8*24*time.Hour)))
		}, code: protocol.CodeTooOld},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := inbound()
			if tc.setup != nil {
				tc.setup(v)
			}
			tok := tc.token(t)
			got, err := v.Verify(tok, now)
			if tc.code == "" {
				require.NoError(t, err)
				assert.Equal(t, "TR", got.Envelope.Sender.Country)
				assert.Equal(t, tok, got.Raw)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, protocol.ErrRejected)
			assert.Equal(t, tc.code, protocol.CodeOf(err), "%v", err)
		})
	}
}

func TestSchemaRefusalCarriesLeafIssues(t *testing.T) {
	tok := tr.Sign(protocol.TypEvent, mutate(t, birth(), func(m map[string]any) {
		m["payload"].(map[string]any)["child"].(map[string]any)["sex"] = 3
	}))
	_, err := inbound().Verify(tok, now)
	var pe *protocol.Error
	require.True(t, errors.As(err, &pe), "%v", err)
	require.Equal(t, protocol.CodeSchemaInvalid, pe.Code)
	require.NotEmpty(t, pe.Issues)
	assert.Equal(t, "/payload/child/sex", pe.Issues[0].Pointer)
	p := protocol.ProblemFor(err)
	assert.Equal(t, 422, p.Status)
	assert.Equal(t, pe.Issues, p.Issues)
}

func TestDigestIsOfTheExactBytes(t *testing.T) {
	tok := tr.Sign(protocol.TypEvent, birth())
	got, err := inbound().Verify(tok, now)
	require.NoError(t, err)
	assert.Equal(t, sha256Of(tok), got.Digest)
}

type revokedSince struct {
	kid   string
	since time.Time
}

func (r revokedSince) ValidAt(kid string, t time.Time) error {
	if kid == r.kid && !t.Before(r.since) {
		return protocol.Errorf(protocol.CodeKeyNotValid, "key %s revoked as compromised since %s", kid, r.since)
	}
	return nil
}
