package protocol

// Code is a stable problem code (SPEC.md §7). Codes never change meaning and
// are never reused; a new failure gets a new code. The RFC 9457 "type" URI of
// a problem is ProblemTypeBase + the code in lower case with "_" → "-".
type Code string

// ProblemTypeBase prefixes every problem type URI. The host is the network's
// placeholder name, like the schema $ids: a name, never fetched.
const ProblemTypeBase = "https://crvs.example.org/problems/"

// Envelope and size (SPEC.md §6.1).
const (
	CodeTooLarge Code = "MESSAGE_TOO_LARGE" // body over the size limit, refused before parsing
	// CodeBodyUnreadable: the request body could not be read — malformed
	// chunked encoding or trailer, or the connection failed mid-body
	// (SPEC §7: the sender's fault, never a 5xx).
	CodeBodyUnreadable Code = "REQUEST_BODY_UNREADABLE"
)

// JWS structure and encoding (SPEC.md §6.2).
const (
	CodeNotCompact     Code = "JWS_NOT_COMPACT"      // JSON serialization, or not exactly three segments
	CodeEmptyPayload   Code = "JWS_EMPTY_PAYLOAD"    // payload segment empty (detached content is not accepted)
	CodeEmptySignature Code = "JWS_EMPTY_SIGNATURE"  // signature segment empty (unsecured JWS)
	CodeBadBase64      Code = "JWS_BAD_BASE64URL"    // padding, '+', '/', whitespace, non-zero pad bits …
	CodeHeaderJSON     Code = "JWS_HEADER_MALFORMED" // header not a JSON object, invalid UTF-8, trailing data
	CodeHeaderDup      Code = "JWS_HEADER_DUPLICATE" // duplicate member name in the protected header
)

// Header profile (SPEC.md §6.3).
const (
	CodeAlgMissing      Code = "JWS_ALG_MISSING"
	CodeAlgNone         Code = "JWS_ALG_NONE"
	CodeAlgNotAllowed   Code = "JWS_ALG_NOT_ALLOWED"  // not ES256/EdDSA (case-sensitive)
	CodeAlgKeyMismatch  Code = "JWS_ALG_KEY_MISMATCH" // header alg differs from the alg registered for kid (RFC 8725 §3.1)
	CodeKidMissing      Code = "JWS_KID_MISSING"      // no kid in the protected header (an unprotected one does not count)
	CodeKidInvalid      Code = "JWS_KID_INVALID"      // not a string, empty, too long, bad characters
	CodeHeaderForbidden Code = "JWS_HEADER_FORBIDDEN" // crit, b64, jku, jwk, x5u, x5c, x5t, x5t#S256, zip
	CodeTypMismatch     Code = "JWS_TYP_MISMATCH"     // typ missing or not the one the endpoint expects
)

// Keys and signature (SPEC.md §6.4).
const (
	CodeKeyUnknown       Code = "KEY_UNKNOWN"           // kid not in the trust view: "key not available"
	CodeKeyUse           Code = "KEY_USE_INVALID"       // the key's use is not "sig"
	CodeKeyNotValid      Code = "KEY_NOT_VALID"         // key not valid at the message's time (not yet, expired, revoked)
	CodeSignatureLength  Code = "JWS_SIGNATURE_LENGTH"  // wrong length for alg (e.g. DER instead of R‖S)
	CodeSignatureInvalid Code = "JWS_SIGNATURE_INVALID" // the signature does not verify: "bad signature"
)

// Payload JSON hygiene, I-JSON (SPEC.md §6.5, RFC 7493).
const (
	CodePayloadJSON     Code = "PAYLOAD_MALFORMED"      // not a single JSON object, trailing data
	CodePayloadUTF8     Code = "PAYLOAD_INVALID_UTF8"   // invalid UTF-8 or unpaired surrogate escape
	CodePayloadDup      Code = "PAYLOAD_DUPLICATE_NAME" // duplicate member name at any depth
	CodePayloadTooDeep  Code = "PAYLOAD_TOO_DEEP"       // nesting deeper than MaxJSONDepth
	CodePayloadNumber   Code = "PAYLOAD_NUMBER_RANGE"   // a number outside IEEE 754 double precision exactness
	CodePayloadNotNFC   Code = "PAYLOAD_NOT_NFC"        // text not in Unicode normalisation form C (SPEC §1, §6.5)
	CodeSchemaVersion   Code = "UNSUPPORTED_SCHEMA_VERSION"
	CodeMessageType     Code = "UNKNOWN_MESSAGE_TYPE"
	CodeSchemaInvalid   Code = "SCHEMA_VALIDATION_FAILED" // one or more leaf Issues from the JSON Schemas
	CodeSemanticInvalid Code = "SEMANTIC_VALIDATION_FAILED"
)

// Binding and freshness (SPEC.md §6.6, §6.7).
const (
	CodeSenderMismatch    Code = "SENDER_MISMATCH"       // signing key's member ≠ sender.country (or ≠ mTLS peer)
	CodeRecipientMismatch Code = "RECIPIENT_MISMATCH"    // recipient is not this node
	CodeTypeMismatch      Code = "MESSAGE_TYPE_MISMATCH" // typ does not match the payload's messageType
	CodeTooOld            Code = "MESSAGE_TOO_OLD"
	CodeFromFuture        Code = "MESSAGE_FROM_FUTURE"
)

// Exchange (SPEC.md §8).
const (
	CodeConflict    Code = "MESSAGE_ID_CONFLICT" // same (sender, messageId), other content
	CodeUnsupported Code = "UNSUPPORTED_MEDIA_TYPE"
	CodeInternal    Code = "INTERNAL"
	CodeUnavailable Code = "UNAVAILABLE"
	// CodeStorageFull: the node's volume is full, it stored nothing of the
	// request; retry later (507, SPEC §7).
	CodeStorageFull Code = "STORAGE_FULL"

	CodeUnauthorized     Code = "UNAUTHORIZED"         // the local API's bearer token is missing or wrong
	CodeRecipientUnknown Code = "RECIPIENT_UNKNOWN"    // an outbox recipient is not an active member with a registered node
	CodeSenderNotSelf    Code = "SENDER_NOT_THIS_NODE" // an outbox message names a sender other than this node and its member
	CodeBadRequest       Code = "BAD_REQUEST"          // a local API request that is not what the endpoint takes
	CodeNotFound         Code = "NOT_FOUND"
)

// Receipts, checked by the sender (SPEC.md §8.3). Never sent to a peer: they
// are the outcome of a delivery attempt whose answer was not a receipt that
// completes the delivery. A receipt that fails SPEC §6 keeps that step's code.
const (
	CodeReceiptSigner        Code = "RECEIPT_SIGNER_MISMATCH"     // the receipt's key or sender.country is not the recipient member
	CodeReceiptNotForMessage Code = "RECEIPT_NOT_FOR_MESSAGE"     // payload.inResponseTo is not the sent messageId
	CodeReceiptDigest        Code = "RECEIPT_DIGEST_MISMATCH"     // crvs-sha256 missing, malformed, or not the SHA-256 of the bytes sent
	CodeReceiptStatus        Code = "RECEIPT_STATUS_NOT_ACCEPTED" // status is not accepted, accepted-with-warnings or pending
)

// Registry API (node/registry/DESIGN.md §§8, 13, 14). Not message codes:
// the registry's admin and peer API answers with them.
const (
	CodeRegistryRejected Code = "REGISTRY_REJECTED" // the registry refused a command; the "reason" member has its stable reason
	CodeRegistryStale    Code = "REGISTRY_STALE"    // this node's registry replica is past its staleness bound: fail closed
	CodeNodePinMismatch  Code = "NODE_PIN_MISMATCH" // a node's TLS key is not the one pinned for it in the registry
	CodeNotLeader        Code = "NOT_LEADER"        // a leader-only request reached a follower; the "leader" member says where to go
)

// Status queries (SPEC.md §11.2).
const (
	CodeRequesterSuspended Code = "REQUESTER_SUSPENDED"  // the requester is registered but not active
	CodeQueryNotAuthorized Code = "QUERY_NOT_AUTHORIZED" // a country, question or consent basis outside the requester's scope
	CodeRateLimited        Code = "RATE_LIMITED"         // over the requester's rate at this node, or refused as probing; 429 with Retry-After
)

// Status is the HTTP status a node answers with for a code.
func (c Code) Status() int {
	switch c {
	case CodeTooLarge:
		return 413
	case CodeKeyUnknown, CodeKeyNotValid, CodeSignatureInvalid, CodeSenderMismatch, CodeKeyUse, CodeNodePinMismatch,
		CodeRequesterSuspended, CodeQueryNotAuthorized:
		return 403
	case CodeRateLimited:
		return 429
	case CodeRecipientMismatch, CodeNotLeader:
		return 421
	case CodeUnauthorized:
		return 401
	case CodeNotFound:
		return 404
	case CodeRecipientUnknown, CodeSenderNotSelf:
		return 422
	case CodeConflict:
		return 409
	case CodeUnsupported:
		return 415
	case CodeSchemaInvalid, CodeSemanticInvalid, CodeSchemaVersion, CodeMessageType,
		CodeTooOld, CodeFromFuture, CodeTypeMismatch, CodeRegistryRejected:
		return 422
	case CodeInternal:
		return 500
	case CodeUnavailable, CodeRegistryStale:
		return 503
	case CodeStorageFull:
		return 507
	}
	return 400
}

// TypeURI is the RFC 9457 "type" of the code.
func (c Code) TypeURI() string {
	b := []byte(c)
	for i, ch := range b {
		switch {
		case ch == '_':
			b[i] = '-'
		case ch >= 'A' && ch <= 'Z':
			b[i] = ch + ('a' - 'A')
		}
	}
	return ProblemTypeBase + string(b)
}
