package exchange

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/schemas"
)

// KeyValidity answers SPEC §6.6.6: was the key valid at time t? The
// registry's trust view implements it; an offline JWK Set has no validity
// intervals and leaves it nil.
type KeyValidity interface {
	ValidAt(kid string, t time.Time) error
}

// Verifier runs SPEC §6 on one inbound message.
type Verifier struct {
	// Keys is the trust view: kid → key. Required.
	Keys jws.KeyLookup
	// Validity checks a key's validity interval and revocation at the
	// message's createdAt; nil when the key view has no such data.
	Validity KeyValidity
	// Schemas validates the payload; nil means schemas.Default().
	Schemas *schemas.Validator
	// Typ is the kind the endpoint accepts (SPEC §3); "" accepts the typ
	// that matches the payload's messageType (offline verification).
	Typ string
	// MaxBytes is the size limit (SPEC §5); 0 means protocol.MaxMessageBytes.
	MaxBytes int
	// Recipient, when set, must be the message's recipient (SPEC §6.6.7).
	Recipient *protocol.Endpoint
	// Skew bounds how far createdAt may be ahead of Now (SPEC §6.7).
	Skew time.Duration
	// MaxAge bounds how old createdAt may be; 0 turns the age check off
	// (archived messages verify regardless of age).
	MaxAge time.Duration
}

// Verified is an inbound message that passed every check.
type Verified struct {
	Raw       []byte   // the exact compact JWS received
	Digest    [32]byte // SHA-256 of Raw (the receipt's crvs-sha256)
	Typ       string
	Key       jws.Key
	Payload   []byte         // the signed payload bytes
	Envelope  Envelope       // the envelope members the pipeline reads
	Doc       map[string]any // the decoded, NFC-normalised message
	Warnings  []protocol.Issue
	CreatedAt time.Time
}

// Envelope is the part of the message the exchange routes on.
type Envelope struct {
	SchemaVersion string
	MessageType   string
	MessageID     string
	Sender        protocol.Endpoint
	Recipient     protocol.Endpoint
	Purpose       string
}

// Verify runs the checks of SPEC §6 in order on raw, as of now, and returns
// the verified message or a *protocol.Error with the code of the first
// failed step. It is Authenticate followed by CheckTime.
func (v *Verifier) Verify(raw []byte, now time.Time) (*Verified, error) {
	msg, err := v.Authenticate(raw)
	if err != nil {
		return nil, err
	}
	if err := v.CheckTime(msg, now); err != nil {
		return nil, err
	}
	return msg, nil
}

// CheckTime runs the checks of SPEC §6 that depend on when a message
// arrives: the key's validity at createdAt (§6.6.6) — which a later
// revocation can change — and the time window (§6.7). A receiver runs
// them after it has looked for the message among those it stored (§8.2),
// so that a retry of an accepted message still gets its receipt.
func (v *Verifier) CheckTime(msg *Verified, now time.Time) error {
	// > §6.6.6 The key was valid at createdAt.
	if v.Validity != nil {
		if err := v.Validity.ValidAt(msg.Key.Kid, msg.CreatedAt); err != nil {
			return err
		}
	}
	// > §6.7 Time window.
	return protocol.CheckTimeWindow(msg.CreatedAt, now, v.Skew, v.MaxAge)
}

// Authenticate runs the checks of SPEC §6 that do not depend on the time
// of arrival: size, structure, header profile, key and signature, payload
// hygiene, schemas and semantic rules, typ, sender binding, recipient.
func (v *Verifier) Authenticate(raw []byte) (*Verified, error) {
	// > §6.1–6.4: size, structure, encoding, header profile, key, signature.
	typ := v.Typ
	tok, err := jws.Verify(raw, v.Keys, jws.Options{Typ: typ, AnyTyp: typ == "", MaxBytes: v.MaxBytes})
	if err != nil {
		return nil, err
	}
	// > §6.5 … the payload is also in Unicode NFC (PAYLOAD_NOT_NFC).
	if !schemas.IsNFC(tok.Payload) {
		return nil, protocol.Errorf(protocol.CodePayloadNotNFC, "the payload is not in Unicode normalisation form C")
	}
	// > §6.5 Payload hygiene (I-JSON), then §6.6.1–3 schema version,
	// > message type, schema, semantic rules: schemas.Validate runs
	// > protocol.CheckJSON first, so the payload is checked once.
	sv := v.Schemas
	if sv == nil {
		sv = schemas.Default()
	}
	res, err := sv.Validate(tok.Payload)
	if err != nil {
		return nil, err
	}
	env := envelopeOf(res.Doc)
	// > §6.6.4 typ matches messageType.
	want, _ := protocol.TypFor(env.MessageType)
	if !protocol.TypEqual(tok.Typ, want) {
		return nil, protocol.Errorf(protocol.CodeTypeMismatch, "typ %q does not carry messageType %q (expected %q)", tok.Typ, env.MessageType, want)
	}
	// > §6.6.5 Sender binding: the member of the signing key equals sender.country.
	if tok.Key.Member == "" || tok.Key.Member != env.Sender.Country {
		return nil, protocol.Errorf(protocol.CodeSenderMismatch, "message signed by a key of member %q claims sender %q", tok.Key.Member, env.Sender.Country)
	}
	createdAt, err := time.Parse(time.RFC3339Nano, stringAt(res.Doc, "createdAt"))
	if err != nil { // the schema's pattern makes this unreachable; refuse anyway
		return nil, &protocol.Error{Code: protocol.CodeSchemaInvalid, Detail: "createdAt is not an RFC 3339 timestamp", Pointer: "/createdAt", Err: err}
	}
	// > §6.6.7 The recipient is this node.
	if r := v.Recipient; r != nil {
		if env.Recipient.NodeID != r.NodeID || (r.Country != "" && env.Recipient.Country != r.Country) {
			return nil, protocol.Errorf(protocol.CodeRecipientMismatch, "message is for %s, this node is %s", env.Recipient.NodeID, r.NodeID)
		}
	}
	return &Verified{
		Raw:       raw,
		Digest:    sha256.Sum256(raw),
		Typ:       tok.Typ,
		Key:       tok.Key,
		Payload:   tok.Payload,
		Envelope:  env,
		Doc:       res.Doc,
		Warnings:  res.Warnings,
		CreatedAt: createdAt,
	}, nil
}

func envelopeOf(doc map[string]any) Envelope {
	return Envelope{
		SchemaVersion: stringAt(doc, "schemaVersion"),
		MessageType:   stringAt(doc, "messageType"),
		MessageID:     stringAt(doc, "messageId"),
		Sender:        endpointAt(doc, "sender"),
		Recipient:     endpointAt(doc, "recipient"),
		Purpose:       stringAt(doc, "purpose"),
	}
}

func stringAt(doc map[string]any, key string) string {
	s, _ := doc[key].(string)
	return s
}

func endpointAt(doc map[string]any, key string) protocol.Endpoint {
	m, _ := doc[key].(map[string]any)
	return protocol.Endpoint{NodeID: stringAt(m, "nodeId"), Country: stringAt(m, "country")}
}

// String renders a verified message's identity for logs.
func (m *Verified) String() string {
	return fmt.Sprintf("%s %s from %s (kid %s)", m.Envelope.MessageType, m.Envelope.MessageID, m.Envelope.Sender.Country, m.Key.Kid)
}
