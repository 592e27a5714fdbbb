package protocoltest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
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

// kindNames are the mutations' names in vectors.json, the language-neutral
// form of the list (a name never changes meaning).
var kindNames = map[Kind]string{
	Valid:                    "valid",
	UnknownNonCriticalHeader: "unknown-non-critical-header",
	TypCaseInsensitive:       "typ-case-insensitive",
	TypApplicationPrefix:     "typ-application-prefix",
	MalleatedSignature:       "malleated-signature",
	Oversize:                 "oversize",
	FlattenedJSON:            "flattened-json",
	GeneralJSON:              "general-json",
	TwoSegments:              "two-segments",
	FourSegments:             "four-segments",
	FiveSegments:             "five-segments",
	EmptyPayload:             "empty-payload",
	EmptySignature:           "empty-signature",
	PaddedBase64:             "padded-base64",
	PlusSlashBase64:          "plus-slash-base64",
	Whitespace:               "whitespace",
	LineBreak:                "line-break",
	TrailingNewline:          "trailing-newline",
	NonZeroPadBits:           "non-zero-pad-bits",
	EmptyHeader:              "empty-header",
	HeaderNotObject:          "header-not-object",
	HeaderBadUTF8:            "header-bad-utf8",
	HeaderTooLarge:           "header-too-large",
	DuplicateHeader:          "duplicate-header",
	DuplicateEscaped:         "duplicate-escaped",
	Crit:                     "crit",
	B64False:                 "b64-false",
	Jku:                      "jku",
	Jwk:                      "jwk",
	X5u:                      "x5u",
	X5c:                      "x5c",
	X5t:                      "x5t",
	X5tS256:                  "x5t-s256",
	Zip:                      "zip",
	AlgMissing:               "alg-missing",
	AlgNone:                  "alg-none",
	AlgNoneMixedCase:         "alg-none-mixed-case",
	AlgLowercase:             "alg-lowercase",
	AlgNotAllowed:            "alg-not-allowed",
	AlgNotString:             "alg-not-string",
	AlgKeyMismatch:           "alg-key-mismatch",
	KidMissing:               "kid-missing",
	KidNotString:             "kid-not-string",
	KidEmpty:                 "kid-empty",
	KidTooLong:               "kid-too-long",
	KidNotPrintable:          "kid-not-printable",
	KidUnknown:               "kid-unknown",
	TypWrong:                 "typ-wrong",
	TypMissing:               "typ-missing",
	TypNotString:             "typ-not-string",
	KeyUseEnc:                "key-use-enc",
	DERSignature:             "der-signature",
	ShortSignature:           "short-signature",
	TamperedPayload:          "tampered-payload",
	TamperedHeader:           "tampered-header",
	TamperedSig:              "tampered-sig",
	SignedByOtherKey:         "signed-by-other-key",
}

// String is the kind's mutation name in vectors.json.
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// KindOf returns the kind of a mutation name.
func KindOf(mutation string) (Kind, bool) {
	for k, n := range kindNames {
		if n == mutation {
			return k, true
		}
	}
	return 0, false
}

// Vector is a minted message with the outcome SPEC §6 requires.
type Vector struct {
	// Name is the spec clause, "ok/…" or "fail/…".
	Name string
	Kind Kind
	// Code is the problem code Verify must answer, "" for ok vectors.
	Code protocol.Code
	// Alg is the only algorithm the vector applies to, "" for both.
	Alg string
	// Cite is the requirement the vector tests (SPEC §…, RFC … §…).
	Cite string
}

// vectorsJSON is the one list of the JWS vectors (SPEC Appendix A): Go
// tests, the conformance suite and `crvsx conform vectors` all read it.
//
//go:embed vectors.json
var vectorsJSON []byte

// VectorFile is the format of vectors.json.
type VectorFile struct {
	Format  string       `json:"format"`
	About   string       `json:"about"`
	Vectors []VectorSpec `json:"vectors"`
}

// VectorSpec is one vector as data: a mutation of a valid message and the
// outcome a receiver must give ("accepted" or "rejected:<CODE>").
type VectorSpec struct {
	Name     string `json:"name"`
	Mutation string `json:"mutation"`
	Expect   string `json:"expect"`
	Cite     string `json:"cite"`
	Alg      string `json:"alg,omitempty"`
}

// VectorsFormat is the format of vectors.json.
const VectorsFormat = "crvsx-jws-vectors/1"

var vectors = mustParseVectors(vectorsJSON)

// ParseVectors reads a vectors file: known format, known mutations,
// expectations "accepted" or "rejected:<CODE>", unique names.
func ParseVectors(b []byte) ([]Vector, error) {
	var f VectorFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("vectors: %w", err)
	}
	if f.Format != VectorsFormat {
		return nil, fmt.Errorf("vectors: format %q, want %q", f.Format, VectorsFormat)
	}
	seen := map[string]bool{}
	out := make([]Vector, 0, len(f.Vectors))
	for _, v := range f.Vectors {
		k, ok := KindOf(v.Mutation)
		if !ok {
			return nil, fmt.Errorf("vectors: %s: unknown mutation %q", v.Name, v.Mutation)
		}
		if seen[v.Name] {
			return nil, fmt.Errorf("vectors: %s twice", v.Name)
		}
		seen[v.Name] = true
		var code protocol.Code
		switch {
		case v.Expect == "accepted":
		case strings.HasPrefix(v.Expect, "rejected:") && len(v.Expect) > len("rejected:"):
			code = protocol.Code(strings.TrimPrefix(v.Expect, "rejected:"))
		default:
			return nil, fmt.Errorf("vectors: %s: expect %q, want accepted or rejected:<CODE>", v.Name, v.Expect)
		}
		if v.Alg != "" && v.Alg != jws.AlgES256 && v.Alg != jws.AlgEdDSA {
			return nil, fmt.Errorf("vectors: %s: alg %q", v.Name, v.Alg)
		}
		out = append(out, Vector{Name: v.Name, Kind: k, Code: code, Alg: v.Alg, Cite: v.Cite})
	}
	return out, nil
}

func mustParseVectors(b []byte) []Vector {
	v, err := ParseVectors(b)
	if err != nil {
		panic("protocoltest: embedded " + err.Error())
	}
	return v
}

// VectorsFile returns the bytes of vectors.json.
func VectorsFile() []byte { return bytes.Clone(vectorsJSON) }

// Vectors returns every vector, ok first, then in the order of SPEC §6.
func Vectors() []Vector { return slices.Clone(vectors) }

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
