package jws

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ecrn/crvsx/protocol"
)

// Options are the endpoint's expectations of a message.
type Options struct {
	// Typ is the kind the endpoint accepts (protocol.TypEvent, …). It is
	// required unless AnyTyp is set: an endpoint accepts exactly one kind
	// (SPEC §3).
	Typ string
	// AnyTyp, with an empty Typ, accepts any kind of the profile
	// (protocol.Typs), for offline verification of a message whose kind
	// is not known in advance. The caller must then check Verified.Typ
	// against the payload's messageType (SPEC §6.6.4).
	AnyTyp bool
	// MaxBytes is the endpoint's size limit; 0, or anything above
	// protocol.MaxMessageBytes, means protocol.MaxMessageBytes (SPEC §5:
	// lower limits only).
	MaxBytes int
}

// Verified is a message that passed Verify.
type Verified struct {
	// Header is the decoded protected header, every member included
	// (unknown non-critical ones such as a receipt's "crvs-sha256").
	Header map[string]any
	// Alg, Kid and Typ are the header's values; Typ as sent (it matched
	// the expected typ case-insensitively).
	Alg, Kid, Typ string
	// Payload is the decoded payload. It does not alias the token.
	Payload []byte
	// Key is the trust view's key that verified the signature; Key.Member
	// is the member the sender binding (SPEC §6.6.5) compares with.
	Key Key
}

// forbiddenHeaders are refused in the protected header (SPEC §6.3.1).
var forbiddenHeaders = []string{"crit", "b64", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "zip"}

var b64 = base64.RawURLEncoding.Strict()

// Verify checks a compact JWS under the network's profile in the order of
// SPEC §6.1–§6.4 and returns the verified header, payload and key. Every
// refusal is a *protocol.Error with the code of the first failed step; an
// error without a code is a fault of the caller or of the trust view
// (Options with neither or both of Typ and AnyTyp, a trust-view key that is
// not usable), never of the token. Refusals carry no JSON Pointer: the
// place is in the protected header, not in the message, and the detail
// names it. Verify does not read the payload (SPEC §6.5 and later are the
// caller's) and never panics.
func Verify(token []byte, keys KeyLookup, opts Options) (*Verified, error) {
	if (opts.Typ == "") == !opts.AnyTyp {
		return nil, errors.New("jws: exactly one of Options.Typ and Options.AnyTyp is required")
	}
	limit := opts.MaxBytes
	if limit <= 0 || limit > protocol.MaxMessageBytes {
		limit = protocol.MaxMessageBytes
	}

	// > SPEC §6.1 The body is at most the configured limit. Over it:
	// > MESSAGE_TOO_LARGE, … before any parsing.
	if len(token) > limit {
		return nil, protocol.Errorf(protocol.CodeTooLarge, "message of %d bytes exceeds the limit of %d", len(token), limit)
	}

	// > SPEC §6.2.1 three base64url segments separated by '.'. A JSON
	// > serialization …, or any other number of segments: JWS_NOT_COMPACT.
	if jsonSerialization(token) {
		return nil, protocol.Errorf(protocol.CodeNotCompact, "JSON serialization; only the compact serialization is accepted")
	}
	d1 := bytes.IndexByte(token, '.')
	if d1 < 0 {
		return nil, protocol.Errorf(protocol.CodeNotCompact, "1 segment; the compact serialization has 3")
	}
	d2 := bytes.IndexByte(token[d1+1:], '.')
	if d2 < 0 {
		return nil, protocol.Errorf(protocol.CodeNotCompact, "2 segments; the compact serialization has 3")
	}
	d2 += d1 + 1
	if n := bytes.Count(token[d2+1:], []byte{'.'}); n > 0 {
		return nil, protocol.Errorf(protocol.CodeNotCompact, "%d segments; the compact serialization has 3", 3+n)
	}
	hseg, pseg, sseg := token[:d1], token[d1+1:d2], token[d2+1:]

	// > SPEC §6.2.2 An empty payload segment: JWS_EMPTY_PAYLOAD. An empty
	// > signature: JWS_EMPTY_SIGNATURE.
	if len(pseg) == 0 {
		return nil, protocol.Errorf(protocol.CodeEmptyPayload, "empty payload segment; detached and unencoded payloads are not accepted")
	}
	if len(sseg) == 0 {
		return nil, protocol.Errorf(protocol.CodeEmptySignature, "empty signature segment")
	}

	// > SPEC §6.2.3 Each segment is canonical base64url: otherwise
	// > JWS_BAD_BASE64URL.
	hn, pn, sn := b64.DecodedLen(len(hseg)), b64.DecodedLen(len(pseg)), b64.DecodedLen(len(sseg))
	buf := make([]byte, hn+pn+sn)
	header, err := decodeSegment(buf[:hn:hn], hseg, "header")
	if err != nil {
		return nil, err
	}
	payload, err := decodeSegment(buf[hn:hn+pn:hn+pn], pseg, "payload")
	if err != nil {
		return nil, err
	}
	sig, err := decodeSegment(buf[hn+pn:], sseg, "signature")
	if err != nil {
		return nil, err
	}

	// > SPEC §6.2.4 The decoded protected header is at most 4,096 bytes and
	// > one I-JSON object: otherwise JWS_HEADER_MALFORMED; a member name
	// > that appears twice: JWS_HEADER_DUPLICATE.
	if len(header) > protocol.MaxHeaderBytes {
		return nil, protocol.Errorf(protocol.CodeHeaderJSON, "protected header of %d bytes exceeds the limit of %d", len(header), protocol.MaxHeaderBytes)
	}
	if err := protocol.CheckJSON(header, protocol.MaxJSONDepth); err != nil {
		code := protocol.CodeHeaderJSON
		if protocol.CodeOf(err) == protocol.CodePayloadDup {
			code = protocol.CodeHeaderDup
		}
		var pe *protocol.Error
		detail := err.Error()
		if errors.As(err, &pe) {
			detail = pe.Detail
		}
		if pe != nil && pe.Pointer != "" {
			detail += " (at " + pe.Pointer + " in the protected header)"
		}
		return nil, &protocol.Error{Code: code, Detail: "protected header: " + detail, Err: err}
	}
	var hdr map[string]any
	if err := json.Unmarshal(header, &hdr); err != nil {
		return nil, protocol.Errorf(protocol.CodeHeaderJSON, "protected header: %w", err)
	}

	// > SPEC §6.3.1 None of crit, b64, jku, jwk, x5u, x5c, x5t, x5t#S256,
	// > zip is present: otherwise JWS_HEADER_FORBIDDEN.
	for _, name := range forbiddenHeaders {
		if _, ok := hdr[name]; ok {
			return nil, &protocol.Error{Code: protocol.CodeHeaderForbidden, Detail: fmt.Sprintf("header member %q is not allowed by the profile", name)}
		}
	}

	// > SPEC §6.3.2 alg is present (JWS_ALG_MISSING), is not none in any
	// > case (JWS_ALG_NONE), and is exactly ES256 or EdDSA (JWS_ALG_NOT_ALLOWED).
	rawAlg, ok := hdr["alg"]
	if !ok {
		return nil, &protocol.Error{Code: protocol.CodeAlgMissing, Detail: "no alg in the protected header"}
	}
	alg, ok := rawAlg.(string)
	switch {
	case ok && strings.EqualFold(alg, "none"):
		return nil, &protocol.Error{Code: protocol.CodeAlgNone, Detail: "alg none: unsecured JWS are not accepted"}
	case !ok:
		return nil, &protocol.Error{Code: protocol.CodeAlgNotAllowed, Detail: "alg is not a string"}
	case alg != AlgES256 && alg != AlgEdDSA:
		return nil, &protocol.Error{Code: protocol.CodeAlgNotAllowed, Detail: fmt.Sprintf("alg %q is not ES256 or EdDSA", truncate(alg))}
	}

	// > SPEC §6.3.3 kid is present in the protected header (JWS_KID_MISSING)
	// > and is a non-empty string of at most 128 printable ASCII characters
	// > (JWS_KID_INVALID).
	rawKid, ok := hdr["kid"]
	if !ok {
		return nil, &protocol.Error{Code: protocol.CodeKidMissing, Detail: "no kid in the protected header"}
	}
	kid, ok := rawKid.(string)
	switch {
	case !ok:
		return nil, &protocol.Error{Code: protocol.CodeKidInvalid, Detail: "kid is not a string"}
	case kid == "":
		return nil, &protocol.Error{Code: protocol.CodeKidInvalid, Detail: "kid is empty"}
	case len(kid) > protocol.MaxKidLength:
		return nil, &protocol.Error{Code: protocol.CodeKidInvalid, Detail: fmt.Sprintf("kid of %d bytes is longer than %d", len(kid), protocol.MaxKidLength)}
	case !printableASCII(kid):
		return nil, &protocol.Error{Code: protocol.CodeKidInvalid, Detail: "kid has characters outside printable ASCII"}
	}

	// > SPEC §6.3.4 typ is present and equals the endpoint's kind,
	// > compared case-insensitively as RFC 7515 §4.1.9 allows.
	rawTyp, ok := hdr["typ"]
	if !ok {
		return nil, &protocol.Error{Code: protocol.CodeTypMismatch, Detail: fmt.Sprintf("no typ in the protected header; this endpoint accepts %q", opts.Typ)}
	}
	typ, ok := rawTyp.(string)
	if !ok || !typAccepted(typ, opts) {
		want := opts.Typ
		if opts.AnyTyp {
			want = strings.Join(protocol.Typs, ", ")
		}
		return nil, &protocol.Error{Code: protocol.CodeTypMismatch, Detail: fmt.Sprintf("typ %q; accepted: %s", truncate(fmt.Sprint(rawTyp)), want)}
	}
	// > SPEC §6.3.5 Any other header member is accepted and ignored.

	// > SPEC §6.4.1 The key is looked up by kid in the receiver's trust
	// > view. Not found: KEY_UNKNOWN — "key not available".
	var key Key
	found := false
	if keys != nil {
		key, found = keys.LookupKey(kid)
	}
	if !found {
		return nil, protocol.Errorf(protocol.CodeKeyUnknown, "key %q is not available in this node's trust view", kid)
	}
	if key.Kid != kid {
		return nil, fmt.Errorf("jws: trust view returned key %q for kid %q", key.Kid, kid)
	}

	// > SPEC §6.4.2 The key's use is sig (KEY_USE_INVALID), and the
	// > header's alg equals the alg registered for the key
	// > (JWS_ALG_KEY_MISMATCH; RFC 8725 §3.1).
	if key.Use != UseSig {
		return nil, protocol.Errorf(protocol.CodeKeyUse, "key %q has use %q, not %q", kid, key.Use, UseSig)
	}
	if alg != key.Alg {
		return nil, &protocol.Error{Code: protocol.CodeAlgKeyMismatch, Detail: fmt.Sprintf("header alg %q differs from alg %q registered for key %q", alg, key.Alg, kid)}
	}
	// From here on alg is the key's registered alg. Key material that
	// does not fit it is the trust view's fault, not the sender's.
	if !usablePublic(alg, key.Public) {
		return nil, fmt.Errorf("jws: trust view key %q: material %T is not usable with %s", kid, key.Public, alg)
	}

	// > SPEC §6.4.3 The signature has the algorithm's exact length: 64
	// > bytes for ES256 (R‖S; a DER-encoded ECDSA signature is refused)
	// > and 64 bytes for EdDSA: JWS_SIGNATURE_LENGTH.
	if len(sig) != 64 {
		return nil, protocol.Errorf(protocol.CodeSignatureLength, "%s signature of %d bytes; it must be 64", alg, len(sig))
	}

	// > SPEC §6.4.4 The signature verifies over ASCII(BASE64URL(header) ||
	// > '.' || BASE64URL(payload)): otherwise JWS_SIGNATURE_INVALID.
	if err := verifySignature(alg, key.Public, token[:d2], sig); err != nil {
		return nil, &protocol.Error{Code: protocol.CodeSignatureInvalid, Detail: fmt.Sprintf("signature does not verify with key %q", kid), Err: err}
	}

	return &Verified{Header: hdr, Alg: alg, Kid: kid, Typ: typ, Payload: payload, Key: key}, nil
}

// jsonSerialization reports whether token looks like a JSON serialization
// (RFC 7515 §7.2): its first non-whitespace byte is '{'.
func jsonSerialization(token []byte) bool {
	for _, c := range token {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}

// decodeSegment decodes seg into dst (of b64.DecodedLen(len(seg)) bytes)
// if seg is canonical base64url (SPEC §1): alphabet A-Z a-z 0-9 - _ only,
// no padding, a length that is not 1 mod 4, and unused bits zero. The
// strict decoder refuses every byte outside the alphabet and non-zero
// unused bits, except CR and LF, which it skips: those are refused first,
// and the decoded length is checked as well.
func decodeSegment(dst, seg []byte, name string) ([]byte, error) {
	bad := func(why string) error {
		return protocol.Errorf(protocol.CodeBadBase64, "%s segment is not canonical base64url: %s", name, why)
	}
	if len(seg)%4 == 1 {
		return nil, bad("impossible length")
	}
	if bytes.IndexByte(seg, '\n') >= 0 || bytes.IndexByte(seg, '\r') >= 0 {
		return nil, bad("line break")
	}
	n, err := b64.Decode(dst, seg)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) && int(ce) < len(seg) {
			c := seg[ce]
			switch {
			case c == '=':
				return nil, bad("padding")
			case c == '+' || c == '/':
				return nil, bad("'+' or '/' (base64, not base64url)")
			case isBase64URL(c):
				return nil, bad("non-zero unused bits")
			}
			return nil, bad(fmt.Sprintf("byte 0x%02x at offset %d", c, int(ce)))
		}
		return nil, bad("invalid encoding")
	}
	if n != len(dst) {
		return nil, bad("invalid encoding")
	}
	return dst, nil
}

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// printableASCII reports whether s is only printable ASCII (0x20–0x7E).
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func typAccepted(typ string, opts Options) bool {
	if !opts.AnyTyp {
		return typEqual(typ, opts.Typ)
	}
	for _, t := range protocol.Typs {
		if typEqual(typ, t) {
			return true
		}
	}
	return false
}

// typEqual is protocol.TypEqual (SPEC §6.3.4).
func typEqual(got, want string) bool { return protocol.TypEqual(got, want) }

// usablePublic is the cheap check, on every message, that the trust view's
// key material has the type alg needs, so that the crypto below cannot
// panic on it (ed25519.Verify panics on a key of the wrong length).
func usablePublic(alg string, pub any) bool {
	switch alg {
	case AlgES256:
		p, ok := pub.(*ecdsa.PublicKey)
		return ok && p != nil && p.Curve == elliptic.P256() && p.X != nil && p.Y != nil
	case AlgEdDSA:
		p, ok := pub.(ed25519.PublicKey)
		return ok && len(p) == ed25519.PublicKeySize
	}
	return false
}

// truncate keeps peer-controlled text in a detail short.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
