package attest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ecrn/crvsx/protocol"
)

// countryNames are the names a verdict gives the region's countries; any
// other code is written as itself.
var countryNames = map[string]string{
	"AF": "Afghanistan", "AM": "Armenia", "AZ": "Azerbaijan", "CN": "China", "GE": "Georgia",
	"IR": "Iran", "KG": "Kyrgyzstan", "KZ": "Kazakhstan", "MN": "Mongolia", "PK": "Pakistan",
	"RU": "Russia", "TJ": "Tajikistan", "TM": "Turkmenistan", "TR": "Türkiye", "UA": "Ukraine",
	"UZ": "Uzbekistan",
}

// CountryName returns the name of a country code of the region, or the code.
func CountryName(code string) string {
	if n, ok := countryNames[code]; ok {
		return n
	}
	return code
}

const (
	dayLayout  = "2006-01-02 15:04 UTC"
	jsonLayout = time.RFC3339
)

// String is the plain verdict a field officer reads, one paragraph:
//
//	VALID — Tajikistan (TJ), Civil Registry Office, attests, for query <id> of INT-UNHCR: registered: yes; vital status: no death registered. Attested 2026-12-04 10:00 UTC, valid until 2027-01-03 10:00 UTC.
//	EXPIRED — genuine but no longer current: … Ask the issuer for a new attestation.
//	NOT VALID — <one sentence why> (CODE).
func (v *Verdict) String() string {
	if v == nil {
		return "NOT VALID — the attestation could not be checked."
	}
	var b strings.Builder
	switch v.Outcome {
	case OutcomeValid:
		b.WriteString("VALID — ")
		b.WriteString(v.claim())
		fmt.Fprintf(&b, " Attested %s, valid until %s.", v.AttestedAt.UTC().Format(dayLayout), v.ValidUntil.UTC().Format(dayLayout))
	case OutcomeExpired:
		fmt.Fprintf(&b, "EXPIRED — genuine but no longer current (expired is not false): %s", v.claim())
		fmt.Fprintf(&b, " Attested %s, valid only until %s; checked %s. Ask the issuer for a new attestation.",
			v.AttestedAt.UTC().Format(dayLayout), v.ValidUntil.UTC().Format(dayLayout), v.CheckedAt.UTC().Format(dayLayout))
	default:
		fmt.Fprintf(&b, "NOT VALID — %s (%s).", v.reason(), v.Code)
		return b.String()
	}
	for _, w := range v.Warnings {
		b.WriteString(" Note: ")
		b.WriteString(w)
		b.WriteString(".")
	}
	return b.String()
}

// claim is "who attests what about which query".
func (v *Verdict) claim() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s), %s, attests, for query %s", CountryName(v.Issuer.Country), v.Issuer.Country, v.Issuer.Authority, v.InResponseTo)
	if v.Recipient.NodeID != "" {
		fmt.Fprintf(&b, " of %s", v.Recipient.NodeID)
	}
	b.WriteString(": ")
	switch v.MatchResult {
	case MatchUnique:
		var parts []string
		for _, a := range answerValues {
			if val, ok := v.Answers[a.name]; ok {
				parts = append(parts, a.label+": "+strings.ReplaceAll(val, "-", " "))
			}
		}
		if len(parts) == 0 {
			b.WriteString("one record matches the person; no question is answered.")
		} else {
			b.WriteString(strings.Join(parts, "; ") + ".")
		}
	case MatchNone:
		b.WriteString("no record matches the person.")
	case MatchMultiple:
		b.WriteString("more than one record could be the person's; none is named.")
	case MatchInsufficientData:
		b.WriteString("the query does not identify the person well enough to answer.")
	case MatchRefused:
		fmt.Fprintf(&b, "it declines to answer (%s).", strings.ReplaceAll(v.RefusalReason, "-", " "))
	default:
		fmt.Fprintf(&b, "%s.", v.MatchResult)
	}
	return b.String()
}

// reason is the one sentence of a NOT VALID verdict.
func (v *Verdict) reason() string {
	switch v.Code {
	case protocol.CodeSignatureInvalid:
		return "the signature does not match the content: it was altered, or not signed by the key it names"
	case protocol.CodeKeyUnknown:
		return "it is signed by a key this trust bundle does not know as a member's signing key (a newer bundle may know it: update the bundle and check again)"
	case CodeIssuerNotMember:
		return "it is signed by a key that is not a member country's signing key"
	case protocol.CodeKeyNotValid:
		return "the key that signed it was not valid when it says it was made: " + v.Detail
	case CodeIssuerNotActive:
		return v.Detail
	case protocol.CodeSenderMismatch:
		return "it is signed by one member but claims to come from another: " + v.Detail
	case CodeTimeMismatch:
		return "it states two different times of signing: " + v.Detail
	case protocol.CodeFromFuture:
		return "it says it was made in the future of this device's clock (check the clock): " + v.Detail
	case protocol.CodeTypMismatch, protocol.CodeTypeMismatch:
		return "it is not a status attestation: " + v.Detail
	case protocol.CodeTooLarge:
		return "it is far larger than any attestation: " + v.Detail
	case protocol.CodeSchemaInvalid, protocol.CodeSemanticInvalid:
		s := "it is not a well-formed status attestation"
		if len(v.Issues) > 0 {
			s += ": " + v.Issues[0].String()
		}
		return s
	case "":
		return "it could not be checked"
	}
	if strings.HasPrefix(string(v.Code), "JWS_") || strings.HasPrefix(string(v.Code), "PAYLOAD_") {
		return "it is not a well-formed signed attestation: " + v.Detail
	}
	return v.Detail
}

// verdictJSON is the JSON form of a verdict: times as RFC 3339 UTC,
// members learned from the payload omitted when not learned.
type verdictJSON struct {
	Outcome       Outcome            `json:"outcome"`
	Verdict       string             `json:"verdict"`
	Code          protocol.Code      `json:"code,omitempty"`
	Detail        string             `json:"detail,omitempty"`
	Issues        []protocol.Issue   `json:"issues,omitempty"`
	Kid           string             `json:"kid,omitempty"`
	MessageID     string             `json:"messageId,omitempty"`
	InResponseTo  string             `json:"inResponseTo,omitempty"`
	Issuer        *Issuer            `json:"issuer,omitempty"`
	Sender        *protocol.Endpoint `json:"sender,omitempty"`
	Recipient     *protocol.Endpoint `json:"recipient,omitempty"`
	Purpose       string             `json:"purpose,omitempty"`
	MatchResult   string             `json:"matchResult,omitempty"`
	RefusalReason string             `json:"refusalReason,omitempty"`
	Answers       map[string]string  `json:"answers,omitempty"`
	AttestedAt    string             `json:"attestedAt,omitempty"`
	ValidUntil    string             `json:"validUntil,omitempty"`
	CheckedAt     string             `json:"checkedAt"`
	BundleTime    string             `json:"bundleTime,omitempty"`
	Warnings      []string           `json:"warnings,omitempty"`
}

func jsonTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(jsonLayout)
}

// MarshalJSON writes the verdict with its plain sentence ("verdict").
func (v *Verdict) MarshalJSON() ([]byte, error) {
	j := verdictJSON{Outcome: v.Outcome, Verdict: v.String(), Code: v.Code, Detail: v.Detail, Issues: v.Issues, Kid: v.Kid,
		MessageID: v.MessageID, InResponseTo: v.InResponseTo, Purpose: v.Purpose, MatchResult: v.MatchResult,
		RefusalReason: v.RefusalReason, Answers: v.Answers, AttestedAt: jsonTime(v.AttestedAt), ValidUntil: jsonTime(v.ValidUntil),
		CheckedAt: jsonTime(v.CheckedAt), BundleTime: jsonTime(v.BundleTime), Warnings: v.Warnings}
	if v.Issuer != (Issuer{}) {
		j.Issuer = &v.Issuer
	}
	if v.Sender != (protocol.Endpoint{}) {
		j.Sender = &v.Sender
	}
	if v.Recipient != (protocol.Endpoint{}) {
		j.Recipient = &v.Recipient
	}
	return json.Marshal(j)
}

// CanonicalJSON is the verdict as canonical JSON: members sorted by name
// at every level, no insignificant whitespace, no HTML escaping (RFC 8785
// for a document of strings, as this one is).
func (v *Verdict) CanonicalJSON() ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("attest: verdict: %w", err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("attest: verdict: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil { // maps are written with sorted keys
		return nil, fmt.Errorf("attest: verdict: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// IsAttestation reports whether token's protected header names the typ
// of an attestation (SPEC §3), without verifying anything: how a verifier
// that takes any message decides to run Verify. It reads at most the
// header's bounded prefix and never panics.
func IsAttestation(token []byte) bool {
	seg := token
	if i := bytes.IndexByte(seg, '.'); i >= 0 {
		seg = seg[:i]
	} else {
		return false
	}
	maxSeg := (protocol.MaxHeaderBytes*4 + 2) / 3
	if len(seg) == 0 || len(seg) > maxSeg {
		return false
	}
	hdr := make([]byte, len(seg))
	n, err := base64RawURL.Decode(hdr, seg)
	if err != nil {
		return false
	}
	var h struct {
		Typ string `json:"typ"`
	}
	if json.Unmarshal(hdr[:n], &h) != nil {
		return false
	}
	return protocol.TypEqual(h.Typ, protocol.TypAttestation)
}

var base64RawURL = base64.RawURLEncoding.Strict()
