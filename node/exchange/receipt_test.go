package exchange_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
	"github.com/ecrn/crvsx/schemas"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The members of the receipt tests: TR registers a birth and notifies TJ;
// KZ and UZ are other members of the network.
var (
	rcTR  = protocoltest.MustNewMember("TR", jws.AlgES256)
	rcTJ  = protocoltest.MustNewMember("TJ", jws.AlgEdDSA)
	rcKZ  = protocoltest.MustNewMember("KZ", jws.AlgES256)
	rcUZ  = protocoltest.MustNewMember("UZ", jws.AlgES256)
	rcNow = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
)

// rcKeys is the trust view every node of these tests holds.
func rcKeys() protocoltest.TrustView { return rcTR.TrustView(rcTJ, rcKZ, rcUZ) }

func endpointOf(country string) protocol.Endpoint {
	return protocol.Endpoint{NodeID: protocoltest.NodeID(country), Country: country}
}

// mustReceive verifies raw at to's inbound endpoint, as the node would
// before answering with a receipt.
func mustReceive(t *testing.T, raw []byte, self protocol.Endpoint, now time.Time) *exchange.Verified {
	t.Helper()
	v := &exchange.Verifier{Keys: rcKeys(), Typ: protocol.TypEvent, Recipient: &self, Skew: 5 * time.Minute}
	m, err := v.Verify(raw, now)
	require.NoError(t, err)
	return m
}

// sentBirth is a birth TR sent to TJ, as TJ received it, and what TR knows
// of it.
func sentBirth(t *testing.T) (*exchange.Verified, exchange.SentMessage) {
	t.Helper()
	id := protocoltest.NewUUID()
	raw := rcTR.Sign(protocol.TypEvent, protocoltest.BirthMessageAt("TR", "TJ", id, rcNow.Add(-time.Minute)))
	return mustReceive(t, raw, endpointOf("TJ"), rcNow), exchange.SentMessage{Recipient: "TJ", MessageID: id, Digest: sha256.Sum256(raw)}
}

func mustBuildReceipt(t *testing.T, signer *jws.Signer, self string, msg *exchange.Verified) []byte {
	t.Helper()
	r, err := exchange.BuildReceipt(signer, endpointOf(self), msg, "TJ-DUSH-2026-000117", rcNow)
	require.NoError(t, err)
	return r
}

// receiptDoc is a receipt payload built by hand, for receipts a correct
// node would never build.
func receiptDoc(from, to string, inResponseTo, status string) map[string]any {
	p := map[string]any{
		"inResponseTo": inResponseTo, "status": status, "disposition": "recorded",
		"receivedAt": rcNow.Format(time.RFC3339),
	}
	if status == "rejected" {
		p["issues"] = []any{map[string]any{"severity": "error", "code": "SCHEMA_REQUIRED", "path": "/payload/child/sex"}}
	}
	return map[string]any{
		"schemaVersion": "1.0.0", "messageType": "receipt", "messageId": protocoltest.NewUUID(),
		"correlationId": inResponseTo, "createdAt": rcNow.Format(time.RFC3339),
		"sender":    map[string]any{"nodeId": protocoltest.NodeID(from), "country": from},
		"recipient": map[string]any{"nodeId": protocoltest.NodeID(to), "country": to},
		"purpose":   "acknowledgement", "payload": p,
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// signReceipt signs a receipt payload with extra header members.
func signReceipt(t *testing.T, m *protocoltest.Member, header map[string]any, doc map[string]any) []byte {
	t.Helper()
	b, err := m.Signer.SignWithHeader(protocol.TypReceipt, header, mustJSON(t, doc))
	require.NoError(t, err)
	return b
}

func digestHeader(d [32]byte) map[string]any {
	return map[string]any{protocol.HeaderReceiptDigest: hex.EncodeToString(d[:])}
}

// protectedHeader decodes a compact JWS's protected header.
func protectedHeader(t *testing.T, tok []byte) map[string]any {
	t.Helper()
	seg, _, _ := bytes.Cut(tok, []byte{'.'})
	raw, err := base64.RawURLEncoding.DecodeString(string(seg))
	require.NoError(t, err)
	var h map[string]any
	require.NoError(t, json.Unmarshal(raw, &h))
	return h
}

func TestCheckReceipt(t *testing.T) {
	msg, sent := sentBirth(t)
	good := mustBuildReceipt(t, rcTJ.Signer, "TJ", msg)
	tests := []struct {
		name    string
		receipt func(t *testing.T) []byte
		sent    func(s exchange.SentMessage) exchange.SentMessage
		code    protocol.Code
	}{
		{name: "ok/receipt-accepted", receipt: func(*testing.T) []byte { return good }},
		{name: "ok/receipt-pending", receipt: func(t *testing.T) []byte {
			return signReceipt(t, rcTJ, digestHeader(sent.Digest), receiptDoc("TJ", "TR", sent.MessageID, "pending"))
		}},
		{name: "fail/receipt-signed-by-other-member", code: protocol.CodeReceiptSigner, receipt: func(t *testing.T) []byte {
			// KZ acknowledges, as itself, a message TR sent to TJ.
			return mustBuildReceipt(t, rcKZ.Signer, "KZ", msg)
		}},
		{name: "fail/receipt-signed-by-other-member-claiming-the-recipient (SPEC 6.6.5)", code: protocol.CodeSenderMismatch, receipt: func(t *testing.T) []byte {
			return signReceipt(t, rcKZ, digestHeader(sent.Digest), receiptDoc("TJ", "TR", sent.MessageID, "accepted"))
		}},
		{name: "fail/receipt-wrong-digest", code: protocol.CodeReceiptDigest, receipt: func(*testing.T) []byte { return good },
			sent: func(s exchange.SentMessage) exchange.SentMessage {
				// TR sent other bytes under the same messageId (a re-signed JWS).
				s.Digest = sha256.Sum256([]byte("other bytes"))
				return s
			}},
		{name: "fail/receipt-digest-missing", code: protocol.CodeReceiptDigest, receipt: func(t *testing.T) []byte {
			return signReceipt(t, rcTJ, nil, receiptDoc("TJ", "TR", sent.MessageID, "accepted"))
		}},
		{name: "fail/receipt-digest-upper-case", code: protocol.CodeReceiptDigest, receipt: func(t *testing.T) []byte {
			return signReceipt(t, rcTJ, map[string]any{protocol.HeaderReceiptDigest: strings.ToUpper(hex.EncodeToString(sent.Digest[:]))},
				receiptDoc("TJ", "TR", sent.MessageID, "accepted"))
		}},
		{name: "fail/receipt-digest-not-a-string", code: protocol.CodeReceiptDigest, receipt: func(t *testing.T) []byte {
			return signReceipt(t, rcTJ, map[string]any{protocol.HeaderReceiptDigest: sent.Digest[:]}, receiptDoc("TJ", "TR", sent.MessageID, "accepted"))
		}},
		{name: "fail/receipt-unsigned-alg-none (SPEC 6.3.2)", code: protocol.CodeAlgNone, receipt: func(t *testing.T) []byte {
			return rcTJ.Mint(protocoltest.AlgNone, protocol.TypReceipt, mustJSON(t, receiptDoc("TJ", "TR", sent.MessageID, "accepted")))
		}},
		{name: "fail/receipt-unsigned-empty-signature (SPEC 6.2.2)", code: protocol.CodeEmptySignature, receipt: func(t *testing.T) []byte {
			return rcTJ.Mint(protocoltest.EmptySignature, protocol.TypReceipt, mustJSON(t, receiptDoc("TJ", "TR", sent.MessageID, "accepted")))
		}},
		{name: "fail/receipt-unsigned-garbage (SPEC 6.2.1)", code: protocol.CodeNotCompact, receipt: func(*testing.T) []byte {
			return []byte("<html><body>502 Bad Gateway</body></html>")
		}},
		{name: "fail/receipt-unsigned-json-ok (SPEC 6.2.1)", code: protocol.CodeNotCompact, receipt: func(*testing.T) []byte {
			return []byte(`{"status":"accepted"}`)
		}},
		{name: "fail/receipt-signature-tampered (SPEC 6.4.4)", code: protocol.CodeSignatureInvalid, receipt: func(t *testing.T) []byte {
			return rcTJ.Mint(protocoltest.TamperedSig, protocol.TypReceipt, mustJSON(t, receiptDoc("TJ", "TR", sent.MessageID, "accepted")))
		}},
		{name: "fail/receipt-key-unknown (SPEC 6.4.1)", code: protocol.CodeKeyUnknown, receipt: func(t *testing.T) []byte {
			stranger := protocoltest.MustNewMember("TJ", jws.AlgEdDSA)
			return signReceipt(t, stranger, digestHeader(sent.Digest), receiptDoc("TJ", "TR", sent.MessageID, "accepted"))
		}},
		{name: "fail/receipt-as-event-typ (SPEC 6.3.4)", code: protocol.CodeTypMismatch, receipt: func(t *testing.T) []byte {
			b, err := rcTJ.Signer.SignWithHeader(protocol.TypEvent, digestHeader(sent.Digest), mustJSON(t, receiptDoc("TJ", "TR", sent.MessageID, "accepted")))
			require.NoError(t, err)
			return b
		}},
		{name: "fail/receipt-for-other-message", code: protocol.CodeReceiptNotForMessage, receipt: func(t *testing.T) []byte {
			// A genuine receipt of TJ for another message TR sent.
			other, _ := sentBirth(t)
			return mustBuildReceipt(t, rcTJ.Signer, "TJ", other)
		}},
		{name: "fail/receipt-status-rejected", code: protocol.CodeReceiptStatus, receipt: func(t *testing.T) []byte {
			return signReceipt(t, rcTJ, digestHeader(sent.Digest), receiptDoc("TJ", "TR", sent.MessageID, "rejected"))
		}},
		{name: "fail/receipt-status-duplicate", code: protocol.CodeReceiptStatus, receipt: func(t *testing.T) []byte {
			return signReceipt(t, rcTJ, digestHeader(sent.Digest), receiptDoc("TJ", "TR", sent.MessageID, "duplicate"))
		}},
		{name: "fail/receipt-invalid-schema (SPEC 6.6.2)", code: protocol.CodeSchemaInvalid, receipt: func(t *testing.T) []byte {
			doc := receiptDoc("TJ", "TR", sent.MessageID, "accepted")
			doc["payload"].(map[string]any)["status"] = "ok"
			return signReceipt(t, rcTJ, digestHeader(sent.Digest), doc)
		}},
		{name: "fail/receipt-from-the-future (SPEC 6.7)", code: protocol.CodeFromFuture, receipt: func(t *testing.T) []byte {
			doc := receiptDoc("TJ", "TR", sent.MessageID, "accepted")
			doc["createdAt"] = rcNow.Add(exchange.ReceiptClockSkew + time.Minute).Format(time.RFC3339)
			return signReceipt(t, rcTJ, digestHeader(sent.Digest), doc)
		}},
		{name: "ok/receipt-months-old (a stored receipt returned again)", receipt: func(t *testing.T) []byte {
			doc := receiptDoc("TJ", "TR", sent.MessageID, "accepted")
			doc["createdAt"] = rcNow.AddDate(0, -3, 0).Format(time.RFC3339)
			doc["payload"].(map[string]any)["receivedAt"] = doc["createdAt"]
			return signReceipt(t, rcTJ, digestHeader(sent.Digest), doc)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := sent
			if tc.sent != nil {
				s = tc.sent(s)
			}
			r := tc.receipt(t)
			got, err := exchange.CheckReceipt(r, s, rcKeys(), nil, rcNow)
			if tc.code == "" {
				require.NoError(t, err)
				assert.Equal(t, protocol.MTReceipt, got.Envelope.MessageType)
				assert.Equal(t, "TJ", got.Key.Member)
				return
			}
			require.Error(t, err)
			assert.Nil(t, got)
			assert.Equal(t, tc.code, protocol.CodeOf(err), "%v", err)
			assert.ErrorIs(t, err, protocol.ErrRejected)
		})
	}
}

func TestCheckReceiptKeyValidity(t *testing.T) {
	msg, sent := sentBirth(t)
	r := mustBuildReceipt(t, rcTJ.Signer, "TJ", msg)
	_, err := exchange.CheckReceipt(r, sent, rcKeys(), notValid{}, rcNow)
	assert.Equal(t, protocol.CodeKeyNotValid, protocol.CodeOf(err), "%v", err)
}

type notValid struct{}

func (notValid) ValidAt(kid string, _ time.Time) error {
	return protocol.Errorf(protocol.CodeKeyNotValid, "key %s revoked", kid)
}

func TestBuildReceipt(t *testing.T) {
	msg, sent := sentBirth(t)
	r := mustBuildReceipt(t, rcTJ.Signer, "TJ", msg)

	// > protected header: the member crvs-sha256, the SHA-256 of the exact
	// > compact JWS bytes received, as 64 lowercase hex digits.
	h := protectedHeader(t, r)
	assert.Equal(t, hex.EncodeToString(sent.Digest[:]), h[protocol.HeaderReceiptDigest])
	assert.Equal(t, protocol.TypReceipt, h["typ"])
	assert.Equal(t, rcTJ.Kid(), h["kid"])

	got, err := exchange.CheckReceipt(r, sent, rcKeys(), nil, rcNow)
	require.NoError(t, err)
	assert.Equal(t, endpointOf("TJ"), got.Envelope.Sender)
	assert.Equal(t, endpointOf("TR"), got.Envelope.Recipient)
	assert.Equal(t, "acknowledgement", got.Envelope.Purpose)
	assert.Equal(t, sent.MessageID, got.Doc["correlationId"])
	assert.NotEqual(t, sent.MessageID, got.Envelope.MessageID)
	p := got.Doc["payload"].(map[string]any)
	assert.Equal(t, sent.MessageID, p["inResponseTo"])
	assert.Equal(t, "accepted", p["status"])
	assert.Equal(t, "recorded", p["disposition"])
	assert.Equal(t, "TJ-DUSH-2026-000117", p["localReference"])
	assert.Equal(t, "2026-11-27T10:00:00Z", p["receivedAt"])
	assert.NotContains(t, p, "issues")
}

func TestBuildReceiptAcceptedWithWarnings(t *testing.T) {
	// ok/receipt-accepted-with-warnings: a Latin name with a Cyrillic letter
	// in it, registered in Türkiye, sent to Uzbekistan.
	doc, err := os.ReadFile("../../schemas/testdata/warning/name-mixed-script-cyrillic-letter-in-latin-name.json")
	require.NoError(t, err)
	var env struct{ MessageID, CreatedAt string }
	require.NoError(t, json.Unmarshal(doc, &env))
	created, err := time.Parse(time.RFC3339, env.CreatedAt)
	require.NoError(t, err)
	raw := rcTR.Sign(protocol.TypEvent, doc)
	uz := protocol.Endpoint{NodeID: "UZ-MOJ-FHDYO", Country: "UZ"}
	msg := mustReceive(t, raw, uz, created.Add(time.Minute))
	require.NotEmpty(t, msg.Warnings)

	r, err := exchange.BuildReceipt(rcUZ.Signer, uz, msg, "", created.Add(time.Minute))
	require.NoError(t, err)
	got, err := exchange.CheckReceipt(r, exchange.SentMessage{Recipient: "UZ", MessageID: msg.Envelope.MessageID, Digest: sha256.Sum256(raw)},
		rcKeys(), nil, created.Add(2*time.Minute))
	require.NoError(t, err)
	p := got.Doc["payload"].(map[string]any)
	assert.Equal(t, "accepted-with-warnings", p["status"])
	assert.NotContains(t, p, "localReference")
	issues := p["issues"].([]any)
	require.Len(t, issues, len(msg.Warnings))
	first := issues[0].(map[string]any)
	assert.Equal(t, "warning", first["severity"])
	assert.Equal(t, "NAME_MIXED_SCRIPT", first["code"])
	assert.Equal(t, "/payload/mother/person/names/0/familyName", first["path"])
	assert.NotEmpty(t, first["message"])
}

// A receiver can always answer: warnings beyond what the receipt schema
// holds are cut to fit, never a reason to fail.
func TestBuildReceiptFitsWarningsIntoTheSchema(t *testing.T) {
	msg, sent := sentBirth(t)
	long := strings.Repeat("ә", 700)
	deep := "/payload" + strings.Repeat("/names~10", 40) // 368 characters of escaped tokens
	for i := 0; i < 150; i++ {
		msg.Warnings = append(msg.Warnings, protocol.Issue{Severity: "warning", Code: "NAME_MIXED_SCRIPT", Pointer: deep, Message: long})
	}
	r := mustBuildReceipt(t, rcTJ.Signer, "TJ", msg)
	got, err := exchange.CheckReceipt(r, sent, rcKeys(), nil, rcNow)
	require.NoError(t, err)
	issues := got.Doc["payload"].(map[string]any)["issues"].([]any)
	assert.Len(t, issues, 100)
	is := issues[0].(map[string]any)
	assert.Equal(t, 500, utf8.RuneCountInString(is["message"].(string)))
	path := is["path"].(string)
	assert.LessOrEqual(t, utf8.RuneCountInString(path), 256)
	assert.True(t, strings.HasPrefix(deep, path+"/"), "the cut pointer %q points at an ancestor", path)
}

func TestBuildReceiptRefusesMisuse(t *testing.T) {
	msg, _ := sentBirth(t)
	_, err := exchange.BuildReceipt(rcKZ.Signer, endpointOf("TJ"), msg, "", rcNow)
	assert.Error(t, err, "a key of KZ cannot sign TJ's receipts")
	_, err = exchange.BuildReceipt(rcTJ.Signer, endpointOf("TJ"), msg, strings.Repeat("R", 65), rcNow)
	assert.Error(t, err, "localReference over 64 characters")
	_, err = exchange.BuildReceipt(rcTJ.Signer, endpointOf("TJ"), nil, "", rcNow)
	assert.Error(t, err)
}

// The receipt BuildReceipt makes is valid against the schemas on its own.
func TestBuildReceiptIsSchemaValid(t *testing.T) {
	msg, _ := sentBirth(t)
	r := mustBuildReceipt(t, rcTJ.Signer, "TJ", msg)
	tok, err := jws.Verify(r, rcKeys(), jws.Options{Typ: protocol.TypReceipt})
	require.NoError(t, err)
	res, err := schemas.Default().Validate(tok.Payload)
	require.NoError(t, err)
	assert.Equal(t, protocol.MTReceipt, res.MessageType)
}
