package conformance

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
	"github.com/ecrn/crvsx/schemas"
)

// The suite's baseline message is protocoltest's realistic live birth,
// moved to the suite's network: registered by the sender's country (the
// place of birth), about a child who is a citizen of the candidate's
// country, so that a citizenship notification to the candidate is exactly
// what the routing rules and the semantic layer expect (SPEC §6.6).
const (
	templateSender    = "TR"
	templateRecipient = "TJ"
)

// birth returns a valid live birth from sender to the candidate.
func (e *env) birth(sender *Identity, messageID string, createdAt time.Time) []byte {
	return e.birthTo(sender, e.suite.Candidate.NodeID, e.suite.Candidate.Member, messageID, createdAt)
}

// birthTo returns a live birth from sender to the node recipientNode of
// member recipient, about a child who is a citizen of the recipient's
// country: valid for that recipient.
func (e *env) birthTo(sender *Identity, recipientNode, recipient, messageID string, createdAt time.Time) []byte {
	raw := protocoltest.BirthMessageAt(protocoltest.NodeID(templateSender), protocoltest.NodeID(templateRecipient), messageID, createdAt)
	r := strings.NewReplacer(
		`"`+protocoltest.NodeID(templateSender)+`"`, `"`+sender.NodeID+`"`,
		`"`+protocoltest.NodeID(templateRecipient)+`"`, `"`+recipientNode+`"`,
		`"`+templateSender+`"`, `"`+sender.Member+`"`,
		`"`+templateRecipient+`"`, `"`+recipient+`"`,
	)
	return withoutNationalCodes([]byte(r.Replace(string(raw))))
}

// withoutNationalCodes removes what names the template's countries in a
// country's own code lists, which no other country has: subdivisions
// (ISO 3166-2, "TR-34") and national identifier schemes ("TJ-INN"). The
// message stays valid with them gone (both are optional), and every
// country code left is the suite's or the candidate's.
func withoutNationalCodes(msg []byte) []byte {
	return edit(msg, func(m map[string]any) { dropNational(m) })
}

func dropNational(v any) {
	switch x := v.(type) {
	case map[string]any:
		delete(x, "subdivision")
		for k, c := range x {
			if k == "identifiers" {
				if ids, ok := c.([]any); ok {
					kept := ids[:0]
					for _, id := range ids {
						if o, ok := id.(map[string]any); ok && strings.Contains(fmt.Sprint(o["scheme"]), "-") {
							continue
						}
						kept = append(kept, id)
					}
					x[k] = kept
				}
			}
			dropNational(x[k])
		}
	case []any:
		for _, c := range x {
			dropNational(c)
		}
	}
}

// edit decodes a message, applies f to it and encodes it again (numbers
// kept as written).
func edit(msg []byte, f func(m map[string]any)) []byte {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		panic("conformance: edit of an invalid message: " + err.Error())
	}
	f(m)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		panic("conformance: edit: " + err.Error())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
}

// at walks m along keys (objects only) and returns the object there.
func at(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}

// checkTemplate validates the baseline the suite will send, against the
// same schemas and semantic rules a candidate applies: a suite bug, or a
// candidate code the template cannot fit, stops the run before it blames
// the candidate.
func (e *env) checkTemplate() error {
	msg := e.birth(e.suite.A(), protocol.NewUUID(), now())
	if _, err := schemas.Default().Validate(msg); err != nil {
		return fmt.Errorf("%w: the suite's baseline message for candidate %s is not valid: %w", ErrTarget, e.suite.Candidate.Member, err)
	}
	return nil
}

// signRaw signs a protected header given as JSON text and a payload with
// s's key, as ES256 (R‖S) or EdDSA: for the headers the profile forbids,
// which jws.Signer refuses to write.
func signRaw(s *jws.Signer, header string, payload []byte) []byte {
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString(payload)
	priv := s.CryptoSigner()
	var sig []byte
	switch s.Alg() {
	case jws.AlgES256:
		d := sha256.Sum256([]byte(input))
		der, err := priv.Sign(nil, d[:], crypto.SHA256)
		if err != nil {
			panic(err)
		}
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &rs); err != nil {
			panic(err)
		}
		sig = make([]byte, 64)
		rs.R.FillBytes(sig[:32])
		rs.S.FillBytes(sig[32:])
		sig = jws.LowS(sig)
	default:
		var err error
		if sig, err = priv.Sign(nil, []byte(input), crypto.Hash(0)); err != nil {
			panic(err)
		}
	}
	return []byte(input + "." + enc.EncodeToString(sig))
}

// mustSign signs payload as an event with s.
func mustSign(s *jws.Signer, payload []byte) []byte {
	tok, err := s.Sign(protocol.TypEvent, payload)
	if err != nil {
		panic("conformance: sign: " + err.Error())
	}
	return tok
}

func jstr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
