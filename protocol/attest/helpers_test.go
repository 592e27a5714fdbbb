package attest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/attest"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

const queryID = "8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b"

// answer is a realistic unique-match answer of TJ to INT-UNHCR, attested at `at`.
func answer(at time.Time) attest.Answer {
	return attest.Answer{
		InResponseTo: queryID,
		Sender:       protocol.Endpoint{NodeID: "TJ-MOJ-CRVS"},
		Recipient:    protocol.Endpoint{NodeID: "INT-UNHCR"},
		Issuer:       attest.Issuer{Country: "TJ", Authority: "Civil Registry Office, Ministry of Justice of the Republic of Tajikistan"},
		MatchResult:  attest.MatchUnique,
		Answers:      map[string]string{"isRegistered": "yes", "vitalStatus": "no-death-registered", "civilStatus": "married"},
		AttestedAt:   at,
		Purpose:      "humanitarian-verification",
	}
}

func mustBuild(t testing.TB, a attest.Answer) []byte {
	t.Helper()
	msg, err := attest.Build(a, protocol.NewUUID())
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return msg
}

func sign(t testing.TB, s *jws.Signer, msg []byte) []byte {
	t.Helper()
	tok, err := s.Sign(protocol.TypAttestation, msg)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// edit decodes msg, lets f change it, and encodes it again (for messages
// Build refuses to write).
func edit(t testing.TB, msg []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(msg, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(buf.Bytes())
}

func payloadOf(m map[string]any) map[string]any { return m["payload"].(map[string]any) }

// segments splits a compact JWS.
func segments(tok []byte) [][]byte { return bytes.Split(tok, []byte(".")) }

// flipPayload changes one character of the signed payload and re-encodes.
func flipPayload(t testing.TB, tok []byte) []byte {
	t.Helper()
	s := segments(tok)
	p, err := base64.RawURLEncoding.DecodeString(string(s[1]))
	if err != nil {
		t.Fatal(err)
	}
	p = bytes.Replace(p, []byte(`"civilStatus":"married"`), []byte(`"civilStatus":"widowed"`), 1)
	s[1] = []byte(base64.RawURLEncoding.EncodeToString(p))
	return bytes.Join(s, []byte("."))
}

// flipSignature changes the signature's first byte.
func flipSignature(t testing.TB, tok []byte) []byte {
	t.Helper()
	s := segments(tok)
	sig, err := base64.RawURLEncoding.DecodeString(string(s[2]))
	if err != nil {
		t.Fatal(err)
	}
	sig[0] ^= 0x01
	s[2] = []byte(base64.RawURLEncoding.EncodeToString(sig))
	return bytes.Join(s, []byte("."))
}

// world is a three-member network's trust view after a key history.
type world struct {
	n    *trusttest.Network
	s    *trust.State
	view *trust.View
}

func newWorld(t testing.TB) *world {
	n := trusttest.New(t, "TJ", "TR", "KZ")
	n.Advance(2 * time.Hour) // attestations an hour ago are after the genesis
	return &world{n: n, s: n.State()}
}

func (w *world) apply(t testing.TB, c trust.Command, signers ...*jws.Signer) {
	t.Helper()
	w.s = w.n.MustApply(w.s, w.n.Sign(c, signers...), trust.OutcomeAccepted)
}

func (w *world) View() *trust.View {
	w.view = trust.NewView(w.s)
	return w.view
}
