package protocol

import (
	"encoding/json"
	"time"
)

// Media types and JWS "typ" values of the message kinds (SPEC.md §3).
const (
	MediaTypeJOSE = "application/jose"

	TypEvent       = "crvs-event+jws"
	TypReceipt     = "crvs-receipt+jws"
	TypQuery       = "crvs-query+jws"
	TypAttestation = "crvs-attestation+jws"
	TypRegistryCmd = "crvs-registry-cmd+jws"
)

// HeaderReceiptDigest is the protected header member of a receipt that
// carries the SHA-256 of the exact compact JWS received, as 64 lowercase
// hex digits (SPEC §8.3).
const HeaderReceiptDigest = "crvs-sha256"

// Typs lists every typ value of the profile.
var Typs = []string{TypEvent, TypReceipt, TypQuery, TypAttestation, TypRegistryCmd}

// Supported schema bundle versions (SPEC.md §9).
const SchemaVersion = "1.0.0"

// Message types (data dictionary, "The message").
const (
	MTLiveBirth          = "event.live-birth"
	MTDeath              = "event.death"
	MTFetalDeath         = "event.fetal-death"
	MTMarriage           = "event.marriage"
	MTDivorce            = "event.divorce"
	MTAnnulment          = "event.annulment"
	MTJudicialSeparation = "event.judicial-separation"
	MTAdoption           = "event.adoption"
	MTLegitimation       = "event.legitimation"
	MTRecognition        = "event.recognition"
	MTCancellation       = "record.cancellation"
	MTStatusQuery        = "status.query"
	MTStatusAttestation  = "status.attestation"
	MTReceipt            = "receipt"
)

// MessageTypes lists every messageType of schema bundle 1.0.0, in the order
// of the data dictionary.
var MessageTypes = []string{
	MTLiveBirth, MTDeath, MTFetalDeath, MTMarriage, MTDivorce, MTAnnulment,
	MTJudicialSeparation, MTAdoption, MTLegitimation, MTRecognition,
	MTCancellation, MTStatusQuery, MTStatusAttestation, MTReceipt,
}

// TypFor returns the JWS typ that carries a messageType (SPEC.md §3): every
// event.* and record.cancellation travels as an event, the others as their
// own kind. ok is false for an unknown message type.
func TypFor(messageType string) (typ string, ok bool) {
	switch messageType {
	case MTStatusQuery:
		return TypQuery, true
	case MTStatusAttestation:
		return TypAttestation, true
	case MTReceipt:
		return TypReceipt, true
	}
	for _, mt := range MessageTypes[:11] {
		if mt == messageType {
			return TypEvent, true
		}
	}
	return "", false
}

// Limits of the profile (SPEC.md §5). A node may configure lower limits,
// never higher ones.
const (
	MaxMessageBytes = 256 << 10 // a compact JWS on the wire
	MaxHeaderBytes  = 4 << 10   // the decoded protected header
	MaxKidLength    = 128
	MaxJSONDepth    = 32
)

// Endpoint names a node (data dictionary "endpoint").
type Endpoint struct {
	NodeID  string `json:"nodeId"`
	Country string `json:"country,omitempty"`
}

// Envelope is the part of every message that the protocol itself reads; the
// payload stays raw for the schema layer (SPEC.md §4).
type Envelope struct {
	SchemaVersion string          `json:"schemaVersion"`
	MessageType   string          `json:"messageType"`
	MessageID     string          `json:"messageId"`
	CorrelationID string          `json:"correlationId,omitempty"`
	CreatedAt     time.Time       `json:"createdAt"`
	Sender        Endpoint        `json:"sender"`
	Recipient     Endpoint        `json:"recipient"`
	Purpose       string          `json:"purpose"`
	LegalBasis    string          `json:"legalBasis,omitempty"`
	Payload       json.RawMessage `json:"payload"`
}

// Outgoing is a message this software writes (a receipt, a status query,
// an attestation): the envelope members in the order of SPEC §4, createdAt
// already formatted by the writer (its precision is the writer's choice),
// and the payload as its own type. Empty correlationId and legalBasis are
// left out, as the schemas have them optional.
type Outgoing[P any] struct {
	SchemaVersion string   `json:"schemaVersion"`
	MessageType   string   `json:"messageType"`
	MessageID     string   `json:"messageId"`
	CorrelationID string   `json:"correlationId,omitempty"`
	CreatedAt     string   `json:"createdAt"`
	Sender        Endpoint `json:"sender"`
	Recipient     Endpoint `json:"recipient"`
	Purpose       string   `json:"purpose"`
	LegalBasis    string   `json:"legalBasis,omitempty"`
	Payload       P        `json:"payload"`
}

// CheckTimeWindow implements SPEC.md §6.7: createdAt may be at most skew
// ahead of now and at most maxAge behind it. A zero maxAge turns the age
// check off (archived messages); the skew check always applies.
func CheckTimeWindow(createdAt, now time.Time, skew, maxAge time.Duration) error {
	if createdAt.After(now.Add(skew)) {
		return Errorf(CodeFromFuture, "createdAt %s is more than %s ahead of this node's clock", createdAt.UTC().Format(time.RFC3339), skew)
	}
	if maxAge > 0 && createdAt.Before(now.Add(-maxAge-skew)) {
		return Errorf(CodeTooOld, "createdAt %s is older than the maximum age %s", createdAt.UTC().Format(time.RFC3339), maxAge)
	}
	return nil
}
