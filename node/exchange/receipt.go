package exchange

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/schemas"
)

// ReceiptClockSkew bounds how far a receipt's createdAt may be ahead of the
// sender's clock when CheckReceipt verifies it (the SPEC §6.7 default). A
// receipt has no maximum age: a retry may return a receipt stored days ago.
const ReceiptClockSkew = 5 * time.Minute

// Receipt statuses (SPEC §8.3) and the disposition BuildReceipt states.
const (
	StatusAccepted             = "accepted"
	StatusAcceptedWithWarnings = "accepted-with-warnings"
	StatusPending              = "pending"
	DispositionRecorded        = "recorded"
	PurposeAcknowledgement     = "acknowledgement"
)

// Limits of the receipt schema (schemas/1.0.0/receipt.schema.json) that a
// receipt's issues are fitted into, so that a receiver can always answer.
const (
	maxReceiptIssues       = 100
	maxIssueMessageRunes   = 500
	maxIssuePointerRunes   = 256
	maxLocalReferenceRunes = 64
)

type receiptPayload struct {
	InResponseTo   string           `json:"inResponseTo"`
	Status         string           `json:"status"`
	Disposition    string           `json:"disposition"`
	ReceivedAt     string           `json:"receivedAt"`
	LocalReference string           `json:"localReference,omitempty"`
	Issues         []protocol.Issue `json:"issues,omitempty"`
}

// BuildReceipt builds, validates and signs the receipt of SPEC §8.3 and
// DESIGN §2 for a message that passed Verifier.Verify: sender self,
// recipient the message's sender, purpose acknowledgement, correlationId
// and payload.inResponseTo the received messageId, status accepted (or
// accepted-with-warnings with msg.Warnings as issues), disposition
// recorded, receivedAt and createdAt receivedAt, localReference localRef
// (at most 64 characters; "" leaves it out). The receipt is written in the
// message's schemaVersion, validated against the schemas before it is
// signed (a node never emits an invalid message), and signed as
// crvs-receipt+jws with the protected header member crvs-sha256 = the hex
// SHA-256 of msg.Raw.
//
// signer must be a signing key of self.Country. An error means the node
// cannot answer (a configuration fault): it is never a *protocol.Error
// about msg, which has already passed verification.
func BuildReceipt(signer *jws.Signer, self protocol.Endpoint, msg *Verified, localRef string, receivedAt time.Time) ([]byte, error) {
	if signer == nil || msg == nil {
		return nil, fmt.Errorf("exchange: receipt: nil signer or message")
	}
	if signer.Member() != self.Country {
		return nil, fmt.Errorf("exchange: receipt: signing key of member %q cannot sign for node %s of %q", signer.Member(), self.NodeID, self.Country)
	}
	if utf8.RuneCountInString(localRef) > maxLocalReferenceRunes {
		return nil, fmt.Errorf("exchange: receipt: local reference of %d characters exceeds %d", utf8.RuneCountInString(localRef), maxLocalReferenceRunes)
	}
	id := protocol.NewUUID()
	at := receivedAt.Format(time.RFC3339Nano)
	status := StatusAccepted
	issues := receiptIssues(msg.Warnings)
	if len(issues) > 0 {
		status = StatusAcceptedWithWarnings
	}
	// > SPEC §8.3 envelope: sender is the receiver, recipient the original
	// > sender, purpose acknowledgement, correlationId the received
	// > message's messageId.
	rm := protocol.Outgoing[receiptPayload]{
		SchemaVersion: msg.Envelope.SchemaVersion,
		MessageType:   protocol.MTReceipt,
		MessageID:     id,
		CorrelationID: msg.Envelope.MessageID,
		CreatedAt:     at,
		Sender:        self,
		Recipient:     msg.Envelope.Sender,
		Purpose:       PurposeAcknowledgement,
		// > payload: inResponseTo, status, receivedAt, disposition,
		// > localReference, and issues (the warnings, if any).
		Payload: receiptPayload{
			InResponseTo:   msg.Envelope.MessageID,
			Status:         status,
			Disposition:    DispositionRecorded,
			ReceivedAt:     at,
			LocalReference: localRef,
			Issues:         issues,
		},
	}
	payload, err := marshalJSON(rm)
	if err != nil {
		return nil, fmt.Errorf("exchange: receipt: %w", err)
	}
	if _, err := schemas.Default().Validate(payload); err != nil {
		return nil, fmt.Errorf("exchange: receipt for %s is not valid: %w", msg.Envelope.MessageID, err)
	}
	// > protected header: the member crvs-sha256, REQUIRED in a receipt:
	// > the SHA-256 of the exact compact JWS bytes received, as 64
	// > lowercase hex digits.
	out, err := signer.SignWithHeader(protocol.TypReceipt, map[string]any{protocol.HeaderReceiptDigest: hex.EncodeToString(msg.Digest[:])}, payload)
	if err != nil {
		return nil, fmt.Errorf("exchange: receipt: %w", err)
	}
	return out, nil
}

// receiptIssues fits the warnings into the receipt schema: at most 100, a
// message of at most 500 characters, a pointer of at most 256 (cut at a
// reference token, so it still points at an ancestor of the place).
func receiptIssues(warnings []protocol.Issue) []protocol.Issue {
	if len(warnings) == 0 {
		return nil
	}
	n := min(len(warnings), maxReceiptIssues)
	out := make([]protocol.Issue, 0, n)
	for _, w := range warnings[:n] {
		w.Severity = protocol.SeverityWarning
		w.Message = truncateRunes(w.Message, maxIssueMessageRunes)
		if utf8.RuneCountInString(w.Pointer) > maxIssuePointerRunes {
			p := truncateRunes(w.Pointer, maxIssuePointerRunes+1)
			w.Pointer = p[:strings.LastIndexByte(p, '/')]
		}
		out = append(out, w)
	}
	return out
}

func truncateRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// SentMessage is what a sender knows of a message it delivered: the
// recipient member, the messageId and the SHA-256 of the exact compact JWS
// bytes it sent.
type SentMessage struct {
	Recipient string // the recipient member's country code
	MessageID string
	Digest    [32]byte
}

// CheckReceipt is the sender's side of SPEC §8.3: a delivery is complete
// only with a receipt that
//
//  1. verifies under SPEC §6 with typ crvs-receipt+jws (as of now, with
//     ReceiptClockSkew and no maximum age): the code of the failed step;
//  2. is signed by a key of the recipient member: RECEIPT_SIGNER_MISMATCH;
//  3. has sender.country the recipient: RECEIPT_SIGNER_MISMATCH;
//  4. answers the sent messageId (payload.inResponseTo):
//     RECEIPT_NOT_FOR_MESSAGE;
//  5. carries in crvs-sha256 the digest of the bytes sent:
//     RECEIPT_DIGEST_MISMATCH;
//  6. has status accepted, accepted-with-warnings or pending:
//     RECEIPT_STATUS_NOT_ACCEPTED.
//
// It returns the verified receipt, or a *protocol.Error with the code of
// the first failed check; anything else leaves the message undelivered.
// validity may be nil for a key view without validity intervals. Like
// Verify it is pure and safe for concurrent use.
func CheckReceipt(receipt []byte, sent SentMessage, keys jws.KeyLookup, validity KeyValidity, now time.Time) (*Verified, error) {
	v := Verifier{Keys: keys, Validity: validity, Typ: protocol.TypReceipt, Skew: ReceiptClockSkew}
	// > A sender considers a delivery complete only with a receipt that
	// > verifies under §6 (with typ crvs-receipt+jws)
	r, err := v.Verify(receipt, now)
	if err != nil {
		return nil, err
	}
	// > against a key of the recipient member,
	if r.Key.Member != sent.Recipient {
		return nil, protocol.Errorf(protocol.CodeReceiptSigner, "receipt signed by a key of member %q, the message was sent to %q", r.Key.Member, sent.Recipient)
	}
	// > whose sender.country is the recipient,
	if r.Envelope.Sender.Country != sent.Recipient {
		return nil, protocol.Errorf(protocol.CodeReceiptSigner, "receipt from %q, the message was sent to %q", r.Envelope.Sender.Country, sent.Recipient)
	}
	// > whose inResponseTo is its messageId,
	payload, _ := r.Doc["payload"].(map[string]any)
	if got := stringAt(payload, "inResponseTo"); got != sent.MessageID {
		return nil, &protocol.Error{Code: protocol.CodeReceiptNotForMessage, Pointer: "/payload/inResponseTo",
			Detail: fmt.Sprintf("receipt answers message %q, not %q", got, sent.MessageID)}
	}
	// > and whose crvs-sha256 is the digest of the bytes it sent.
	digest, err := headerDigest(receipt)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(digest[:], sent.Digest[:]) != 1 {
		return nil, protocol.Errorf(protocol.CodeReceiptDigest, "receipt is for bytes with SHA-256 %x, %x were sent", digest, sent.Digest)
	}
	// > status (accepted, accepted-with-warnings, or pending …)
	switch st := stringAt(payload, "status"); st {
	case StatusAccepted, StatusAcceptedWithWarnings, StatusPending:
	default:
		return nil, &protocol.Error{Code: protocol.CodeReceiptStatus, Pointer: "/payload/status",
			Detail: fmt.Sprintf("receipt status %q does not accept the message", st)}
	}
	return r, nil
}

// headerDigest reads crvs-sha256 from the protected header of a token that
// jws.Verify has accepted (so the header segment is canonical base64url of
// one I-JSON object).
func headerDigest(token []byte) ([32]byte, error) {
	var d [32]byte
	seg, _, _ := bytes.Cut(token, []byte{'.'})
	raw, err := base64.RawURLEncoding.DecodeString(string(seg))
	if err != nil {
		return d, protocol.Errorf(protocol.CodeReceiptDigest, "receipt header: %w", err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		return d, protocol.Errorf(protocol.CodeReceiptDigest, "receipt header: %w", err)
	}
	s, ok := h[protocol.HeaderReceiptDigest].(string)
	if !ok {
		return d, protocol.Errorf(protocol.CodeReceiptDigest, "receipt has no %s header member", protocol.HeaderReceiptDigest)
	}
	if len(s) != 64 || strings.ToLower(s) != s {
		return d, protocol.Errorf(protocol.CodeReceiptDigest, "receipt's %s is not 64 lowercase hex digits", protocol.HeaderReceiptDigest)
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, protocol.Errorf(protocol.CodeReceiptDigest, "receipt's %s is not 64 lowercase hex digits", protocol.HeaderReceiptDigest)
	}
	return d, nil
}

// marshalJSON encodes v without HTML escaping and without the trailing
// newline of json.Encoder.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}
