package protocoltest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
)

// Kind is one way of minting a message: valid, or wrong for exactly one
// reason of SPEC §6.1–§6.4.
type Kind int

// The kinds of message Mint makes. Each bad kind passes every check before
// the one it is about (a real signature by a registered key, a correct
// header, canonical encoding, …), so that it fails for its reason alone.
const (
	Valid                    Kind = iota // {"alg","kid","typ"}, signed by the member's key
	UnknownNonCriticalHeader             // valid, with "x-foo" in the header (SPEC §6.3.5)
	TypCaseInsensitive                   // valid, typ in upper case (RFC 7515 §4.1.9)
	TypApplicationPrefix                 // valid, typ with "application/" (RFC 7515 §4.1.9)
	MalleatedSignature                   // valid ES256 with (R, n−S): ECDSA signatures are not unique

	Oversize         // a valid signature over a payload that makes the JWS too large
	FlattenedJSON    // the flattened JSON serialization of a valid JWS
	GeneralJSON      // the general JSON serialization of a valid JWS
	TwoSegments      // header.payload
	FourSegments     // a valid JWS with a fourth segment
	FiveSegments     // five segments, the shape of a compact JWE
	EmptyPayload     // header..signature, signed over the empty payload (detached content)
	EmptySignature   // header.payload. (an unsecured JWS)
	PaddedBase64     // the signature segment with '=' padding
	PlusSlashBase64  // the header in the base64 alphabet ('+', '/'), signed as sent
	Whitespace       // a space inside the payload segment, signed as sent
	LineBreak        // CRLF inside the payload segment (MIME style), signed as sent
	TrailingNewline  // a valid JWS followed by "\n"
	NonZeroPadBits   // the signature's last character with non-zero unused bits
	EmptyHeader      // an empty header segment
	HeaderNotObject  // a header that is a JSON array
	HeaderBadUTF8    // a header with invalid UTF-8
	HeaderTooLarge   // a header over protocol.MaxHeaderBytes
	DuplicateHeader  // "typ" twice, the wrong one first: last-wins parsers accept it
	DuplicateEscaped // "alg" and "\u0061lg": a duplicate after unescaping
	Crit             // "crit": ["x-foo"]
	B64False         // "b64": false (RFC 7797)
	Jku              // "jku": a key URL
	Jwk              // "jwk": the member's own public key, embedded
	X5u              // "x5u"
	X5c              // "x5c"
	X5t              // "x5t"
	X5tS256          // "x5t#S256"
	Zip              // "zip": "DEF"
	AlgMissing       // no alg
	AlgNone          // "alg": "none", with a real signature
	AlgNoneMixedCase // "alg": "nOnE"
	AlgLowercase     // "es256" / "eddsa"
	AlgNotAllowed    // HS256 keyed with the member's public JWK (the classic confusion)
	AlgNotString     // "alg": ["ES256"]
	AlgKeyMismatch   // a valid signature of the other alg by a key registered for the member's alg
	KidMissing       // no kid
	KidNotString     // "kid": 42
	KidEmpty         // "kid": ""
	KidTooLong       // a kid of protocol.MaxKidLength+1 characters
	KidNotPrintable  // a kid with non-ASCII characters
	KidUnknown       // a valid signature by a key that is in no trust view
	TypWrong         // the typ of another kind of message
	TypMissing       // no typ
	TypNotString     // "typ": 1
	KeyUseEnc        // signed by a key registered with use "enc"
	DERSignature     // an ES256 signature in DER, as crypto/ecdsa.SignASN1 gives it
	ShortSignature   // the signature without its last byte
	TamperedPayload  // the payload changed after signing
	TamperedHeader   // a header member added after signing
	TamperedSig      // one bit of the signature flipped
	SignedByOtherKey // the member's kid, signed by another key of the member
)

// Vector is a minted message with the outcome SPEC §6 requires.
type Vector struct {
	// Name is the spec clause, "ok/…" or "fail/…".
	Name string
	Kind Kind
	// Code is the problem code Verify must answer, "" for ok vectors.
	Code protocol.Code
	// Alg is the only algorithm the vector applies to, "" for both.
	Alg string
}

// Vectors returns every vector, ok first, then in the order of SPEC §6.
func Vectors() []Vector {
	return []Vector{
		{"ok/es256", Valid, "", jws.AlgES256},
		{"ok/eddsa", Valid, "", jws.AlgEdDSA},
		{"ok/unknown-noncritical-header", UnknownNonCriticalHeader, "", ""},
		{"ok/typ-case-insensitive", TypCaseInsensitive, "", ""},
		{"ok/typ-application-prefix", TypApplicationPrefix, "", ""},
		{"ok/es256-malleated-signature", MalleatedSignature, "", jws.AlgES256},

		{"fail/oversize", Oversize, protocol.CodeTooLarge, ""},
		{"fail/flattened-json", FlattenedJSON, protocol.CodeNotCompact, ""},
		{"fail/general-json", GeneralJSON, protocol.CodeNotCompact, ""},
		{"fail/two-segments", TwoSegments, protocol.CodeNotCompact, ""},
		{"fail/four-segments", FourSegments, protocol.CodeNotCompact, ""},
		{"fail/five-segments", FiveSegments, protocol.CodeNotCompact, ""},
		{"fail/empty-payload", EmptyPayload, protocol.CodeEmptyPayload, ""},
		{"fail/empty-signature", EmptySignature, protocol.CodeEmptySignature, ""},
		{"fail/padded-base64", PaddedBase64, protocol.CodeBadBase64, ""},
		{"fail/plus-slash-base64", PlusSlashBase64, protocol.CodeBadBase64, ""},
		{"fail/whitespace", Whitespace, protocol.CodeBadBase64, ""},
		{"fail/line-break", LineBreak, protocol.CodeBadBase64, ""},
		{"fail/trailing-newline", TrailingNewline, protocol.CodeBadBase64, ""},
		{"fail/nonzero-pad-bits", NonZeroPadBits, protocol.CodeBadBase64, ""},
		{"fail/empty-header", EmptyHeader, protocol.CodeHeaderJSON, ""},
		{"fail/header-not-object", HeaderNotObject, protocol.CodeHeaderJSON, ""},
		{"fail/header-invalid-utf8", HeaderBadUTF8, protocol.CodeHeaderJSON, ""},
		{"fail/header-too-large", HeaderTooLarge, protocol.CodeHeaderJSON, ""},
		{"fail/duplicate-header-name", DuplicateHeader, protocol.CodeHeaderDup, ""},
		{"fail/duplicate-header-name-escaped", DuplicateEscaped, protocol.CodeHeaderDup, ""},
		{"fail/crit-present", Crit, protocol.CodeHeaderForbidden, ""},
		{"fail/b64-present", B64False, protocol.CodeHeaderForbidden, ""},
		{"fail/jku-present", Jku, protocol.CodeHeaderForbidden, ""},
		{"fail/jwk-present", Jwk, protocol.CodeHeaderForbidden, ""},
		{"fail/x5u-present", X5u, protocol.CodeHeaderForbidden, ""},
		{"fail/x5c-present", X5c, protocol.CodeHeaderForbidden, ""},
		{"fail/x5t-present", X5t, protocol.CodeHeaderForbidden, ""},
		{"fail/x5t-s256-present", X5tS256, protocol.CodeHeaderForbidden, ""},
		{"fail/zip-present", Zip, protocol.CodeHeaderForbidden, ""},
		{"fail/alg-missing", AlgMissing, protocol.CodeAlgMissing, ""},
		{"fail/alg-none", AlgNone, protocol.CodeAlgNone, ""},
		{"fail/alg-none-mixed-case", AlgNoneMixedCase, protocol.CodeAlgNone, ""},
		{"fail/alg-lowercase", AlgLowercase, protocol.CodeAlgNotAllowed, ""},
		{"fail/alg-hs256", AlgNotAllowed, protocol.CodeAlgNotAllowed, ""},
		{"fail/alg-not-string", AlgNotString, protocol.CodeAlgNotAllowed, ""},
		{"fail/kid-missing", KidMissing, protocol.CodeKidMissing, ""},
		{"fail/kid-not-string", KidNotString, protocol.CodeKidInvalid, ""},
		{"fail/kid-empty", KidEmpty, protocol.CodeKidInvalid, ""},
		{"fail/kid-too-long", KidTooLong, protocol.CodeKidInvalid, ""},
		{"fail/kid-not-printable-ascii", KidNotPrintable, protocol.CodeKidInvalid, ""},
		{"fail/typ-wrong", TypWrong, protocol.CodeTypMismatch, ""},
		{"fail/typ-missing", TypMissing, protocol.CodeTypMismatch, ""},
		{"fail/typ-not-string", TypNotString, protocol.CodeTypMismatch, ""},
		{"fail/kid-unknown", KidUnknown, protocol.CodeKeyUnknown, ""},
		{"fail/key-use-enc", KeyUseEnc, protocol.CodeKeyUse, ""},
		{"fail/header-alg-differs-from-key", AlgKeyMismatch, protocol.CodeAlgKeyMismatch, ""},
		{"fail/der-signature", DERSignature, protocol.CodeSignatureLength, jws.AlgES256},
		{"fail/signature-truncated", ShortSignature, protocol.CodeSignatureLength, ""},
		{"fail/tampered-payload", TamperedPayload, protocol.CodeSignatureInvalid, ""},
		{"fail/tampered-header", TamperedHeader, protocol.CodeSignatureInvalid, ""},
		{"fail/tampered-signature", TamperedSig, protocol.CodeSignatureInvalid, ""},
		{"fail/signature-by-other-key", SignedByOtherKey, protocol.CodeSignatureInvalid, ""},
	}
}

// VectorsFor returns the vectors that apply to alg.
func VectorsFor(alg string) []Vector {
	var out []Vector
	for _, v := range Vectors() {
		if v.Alg == "" || v.Alg == alg {
			out = append(out, v)
		}
	}
	return out
}

// field is one header member: its name and its raw JSON value.
type field struct{ name, value string }

func jstr(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func header(fields ...field) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jstr(f.name))
		b.WriteByte(':')
		b.WriteString(f.value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

var enc = base64.RawURLEncoding

// Mint returns a message of the given kind carrying payload, for an
// endpoint that expects typ. The message is deterministic for a seeded
// member. Mint panics on a kind that does not apply to the member's alg
// (see Vector.Alg) or an unknown kind.
func (m *Member) Mint(kind Kind, typ string, payload []byte) []byte {
	kp := m.main
	alg := m.Alg
	std := func(extra ...field) []field {
		return append([]field{{"alg", jstr(alg)}, {"kid", jstr(kp.key.Kid)}, {"typ", jstr(typ)}}, extra...)
	}
	// signed builds header.payload.signature with a real signature by
	// signer over exactly the segments given.
	signed := func(signer keyPair, sigAlg, hseg, pseg string) (string, []byte) {
		input := hseg + "." + pseg
		return input, signRaw(signer.priv, sigAlg, []byte(input), false)
	}
	compact := func(h []byte) string {
		input, sig := signed(kp, alg, enc.EncodeToString(h), enc.EncodeToString(payload))
		return input + "." + enc.EncodeToString(sig)
	}
	valid := func() (hseg, pseg string, sig []byte) {
		hseg, pseg = enc.EncodeToString(header(std()...)), enc.EncodeToString(payload)
		_, sig = signed(kp, alg, hseg, pseg)
		return hseg, pseg, sig
	}
	otherTyp := protocol.TypReceipt
	if strings.EqualFold(typ, protocol.TypReceipt) {
		otherTyp = protocol.TypEvent
	}

	switch kind {
	case Valid:
		return []byte(compact(header(std()...)))
	case UnknownNonCriticalHeader:
		return []byte(compact(header(std(field{"x-foo", `"bar"`})...)))
	case TypCaseInsensitive:
		return []byte(compact(header(field{"alg", jstr(alg)}, field{"kid", jstr(kp.key.Kid)}, field{"typ", jstr(strings.ToUpper(typ))})))
	case TypApplicationPrefix:
		return []byte(compact(header(field{"alg", jstr(alg)}, field{"kid", jstr(kp.key.Kid)}, field{"typ", jstr("application/" + typ)})))
	case MalleatedSignature:
		m.requireAlg(kind, jws.AlgES256)
		h, p, sig := valid()
		return []byte(h + "." + p + "." + enc.EncodeToString(malleate(sig)))

	case Oversize:
		big := append(append([]byte(nil), payload...), bytes.Repeat([]byte{' '}, protocol.MaxMessageBytes*3/4)...)
		input, sig := signed(kp, alg, enc.EncodeToString(header(std()...)), enc.EncodeToString(big))
		return []byte(input + "." + enc.EncodeToString(sig))
	case FlattenedJSON:
		h, p, sig := valid()
		return []byte(`{"payload":` + jstr(p) + `,"protected":` + jstr(h) + `,"signature":` + jstr(enc.EncodeToString(sig)) + `}`)
	case GeneralJSON:
		h, p, sig := valid()
		return []byte(`{"payload":` + jstr(p) + `,"signatures":[{"protected":` + jstr(h) + `,"signature":` + jstr(enc.EncodeToString(sig)) + `}]}`)
	case TwoSegments:
		h, p, _ := valid()
		return []byte(h + "." + p)
	case FourSegments:
		h, p, sig := valid()
		return []byte(h + "." + p + "." + enc.EncodeToString(sig) + "." + enc.EncodeToString(sig))
	case FiveSegments:
		h, p, sig := valid()
		return []byte(h + ".." + p + "." + enc.EncodeToString(sig) + ".AAAAAAAAAAAAAAAAAAAAAA")
	case EmptyPayload:
		h := enc.EncodeToString(header(std()...))
		_, sig := signed(kp, alg, h, "")
		return []byte(h + ".." + enc.EncodeToString(sig))
	case EmptySignature:
		h, p, _ := valid()
		return []byte(h + "." + p + ".")
	case PaddedBase64:
		h, p, sig := valid()
		return []byte(h + "." + p + "." + base64.URLEncoding.EncodeToString(sig)) // 64 bytes: "==" padding
	case PlusSlashBase64:
		// "???" puts 0x3F at a position ≡ 2 (mod 3): its six low bits
		// encode as '/' in base64 and '_' in base64url.
		h := base64.RawStdEncoding.EncodeToString(header(std(field{"x-q", `"???"`})...))
		input, sig := signed(kp, alg, h, enc.EncodeToString(payload))
		return []byte(input + "." + enc.EncodeToString(sig))
	case Whitespace, LineBreak:
		p := enc.EncodeToString(payload)
		sep := " "
		if kind == LineBreak {
			sep = "\r\n"
		}
		p = p[:len(p)/2] + sep + p[len(p)/2:]
		input, sig := signed(kp, alg, enc.EncodeToString(header(std()...)), p)
		return []byte(input + "." + enc.EncodeToString(sig))
	case TrailingNewline:
		return []byte(compact(header(std()...)) + "\n")
	case NonZeroPadBits:
		h, p, sig := valid()
		s := []byte(enc.EncodeToString(sig)) // 86 characters: the last carries 2 bits and 4 unused
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		i := strings.IndexByte(alphabet, s[len(s)-1])
		s[len(s)-1] = alphabet[i|0x0f]
		return []byte(h + "." + p + "." + string(s))
	case EmptyHeader:
		input, sig := signed(kp, alg, "", enc.EncodeToString(payload))
		return []byte(input + "." + enc.EncodeToString(sig))
	case HeaderNotObject:
		return []byte(compact([]byte(`[` + jstr(alg) + `,` + jstr(kp.key.Kid) + `,` + jstr(typ) + `]`)))
	case HeaderBadUTF8:
		return []byte(compact(header(std(field{"x-foo", "\"\xff\xfe\""})...)))
	case HeaderTooLarge:
		return []byte(compact(header(std(field{"x-pad", jstr(strings.Repeat("a", protocol.MaxHeaderBytes))})...)))
	case DuplicateHeader:
		return []byte(compact(header(field{"alg", jstr(alg)}, field{"kid", jstr(kp.key.Kid)}, field{"typ", jstr(otherTyp)}, field{"typ", jstr(typ)})))
	case DuplicateEscaped:
		return []byte(compact([]byte(`{"alg":` + jstr(alg) + `,"kid":` + jstr(kp.key.Kid) + `,"typ":` + jstr(typ) + `,"\u0061lg":"none"}`)))
	case Crit:
		return []byte(compact(header(std(field{"crit", `["x-foo"]`}, field{"x-foo", `1`})...)))
	case B64False:
		// RFC 7797 would also list "b64" in "crit"; b64 alone keeps the
		// vector about b64. The payload segment is the base64url text
		// itself, so the signing input is that of a normal JWS.
		return []byte(compact(header(std(field{"b64", "false"})...)))
	case Jku:
		return []byte(compact(header(std(field{"jku", jstr("https://attacker.example/jwks.json")})...)))
	case Jwk:
		j, err := jws.MarshalPublicJWK(kp.key)
		if err != nil {
			panic(err)
		}
		return []byte(compact(header(std(field{"jwk", string(j)})...)))
	case X5u:
		return []byte(compact(header(std(field{"x5u", jstr("https://attacker.example/cert.pem")})...)))
	case X5c:
		return []byte(compact(header(std(field{"x5c", `["MIIBszCCAVmgAwIBAgIUQ2FmZQ=="]`})...)))
	case X5t:
		return []byte(compact(header(std(field{"x5t", jstr(enc.EncodeToString(make([]byte, 20)))})...)))
	case X5tS256:
		return []byte(compact(header(std(field{"x5t#S256", jstr(enc.EncodeToString(make([]byte, 32)))})...)))
	case Zip:
		return []byte(compact(header(std(field{"zip", `"DEF"`})...)))
	case AlgMissing:
		return []byte(compact(header(field{"kid", jstr(kp.key.Kid)}, field{"typ", jstr(typ)})))
	case AlgNone, AlgNoneMixedCase:
		a := "none"
		if kind == AlgNoneMixedCase {
			a = "nOnE"
		}
		return []byte(compact(header(field{"alg", jstr(a)}, field{"kid", jstr(kp.key.Kid)}, field{"typ", jstr(typ)})))
	case AlgLowercase:
		return []byte(compact(header(field{"alg", jstr(strings.ToLower(alg))}, field{"kid", jstr(kp.key.Kid)}, field{"typ", jstr(typ)})))
	case AlgNotAllowed:
		pub, err := jws.MarshalPublicJWK(kp.key)
		if err != nil {
			panic(err)
		}
		h := enc.EncodeToString(header(field{"alg", `"HS256"`}, field{"kid", jstr(kp.key.Kid)}, field{"typ", jstr(typ)}))
		p := enc.EncodeToString(payload)
		mac := hmac.New(sha256.New, pub)
		mac.Write([]byte(h + "." + p))
		return []byte(h + "." + p + "." + enc.EncodeToString(mac.Sum(nil)))
	case AlgNotString:
		return []byte(compact(header(field{"alg", `[` + jstr(alg) + `]`}, field{"kid", jstr(kp.key.Kid)}, field{"typ", jstr(typ)})))
	case AlgKeyMismatch:
		other := jws.AlgEdDSA
		if alg == jws.AlgEdDSA {
			other = jws.AlgES256
		}
		h := enc.EncodeToString(header(field{"alg", jstr(other)}, field{"kid", jstr(m.mismatch.key.Kid)}, field{"typ", jstr(typ)}))
		input, sig := signed(m.mismatch, other, h, enc.EncodeToString(payload))
		return []byte(input + "." + enc.EncodeToString(sig))
	case KidMissing:
		return []byte(compact(header(field{"alg", jstr(alg)}, field{"typ", jstr(typ)})))
	case KidNotString:
		return []byte(compact(header(field{"alg", jstr(alg)}, field{"kid", "42"}, field{"typ", jstr(typ)})))
	case KidEmpty:
		return []byte(compact(header(field{"alg", jstr(alg)}, field{"kid", `""`}, field{"typ", jstr(typ)})))
	case KidTooLong:
		kid := kp.key.Kid + strings.Repeat("x", protocol.MaxKidLength+1-len(kp.key.Kid))
		return []byte(compact(header(field{"alg", jstr(alg)}, field{"kid", jstr(kid)}, field{"typ", jstr(typ)})))
	case KidNotPrintable:
		return []byte(compact(header(field{"alg", jstr(alg)}, field{"kid", jstr(m.Country + ":ключ")}, field{"typ", jstr(typ)})))
	case KidUnknown:
		kp = m.stranger
		return []byte(compact(header(std()...)))
	case TypWrong:
		return []byte(compact(header(field{"alg", jstr(alg)}, field{"kid", jstr(kp.key.Kid)}, field{"typ", jstr(otherTyp)})))
	case TypMissing:
		return []byte(compact(header(field{"alg", jstr(alg)}, field{"kid", jstr(kp.key.Kid)})))
	case TypNotString:
		return []byte(compact(header(field{"alg", jstr(alg)}, field{"kid", jstr(kp.key.Kid)}, field{"typ", "1"})))
	case KeyUseEnc:
		kp = m.enc
		return []byte(compact(header(std()...)))
	case DERSignature:
		m.requireAlg(kind, jws.AlgES256)
		h := enc.EncodeToString(header(std()...))
		p := enc.EncodeToString(payload)
		der := signRaw(kp.priv, alg, []byte(h+"."+p), true)
		return []byte(h + "." + p + "." + enc.EncodeToString(der))
	case ShortSignature:
		h, p, sig := valid()
		return []byte(h + "." + p + "." + enc.EncodeToString(sig[:len(sig)-1]))
	case TamperedPayload:
		h, _, sig := valid()
		// Whitespace after the object keeps the payload valid JSON.
		p := enc.EncodeToString(append(append([]byte(nil), payload...), ' '))
		return []byte(h + "." + p + "." + enc.EncodeToString(sig))
	case TamperedHeader:
		_, p, sig := valid()
		h := enc.EncodeToString(header(std(field{"x-tampered", "true"})...))
		return []byte(h + "." + p + "." + enc.EncodeToString(sig))
	case TamperedSig:
		h, p, sig := valid()
		sig[10] ^= 0x01
		return []byte(h + "." + p + "." + enc.EncodeToString(sig))
	case SignedByOtherKey:
		h := enc.EncodeToString(header(std()...))
		input, sig := signed(m.stranger, alg, h, enc.EncodeToString(payload))
		return []byte(input + "." + enc.EncodeToString(sig))
	}
	panic("protocoltest: unknown kind")
}

func (m *Member) requireAlg(kind Kind, alg string) {
	if m.Alg != alg {
		panic("protocoltest: this kind applies to " + alg + " members only")
	}
}

// NameOf returns the name of the first vector of kind, or "" if none.
func NameOf(kind Kind) string {
	for _, v := range Vectors() {
		if v.Kind == kind {
			return v.Name
		}
	}
	return ""
}
