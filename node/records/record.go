package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ecrn/crvsx/node/records/match"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/schemas"
)

// Record is one person record of the registry (DESIGN.md R1): one line of a
// JSONL import, one candidate of the HTTP adapter's answer, one document of
// the embedded store. Member names are the wire's.
type Record struct {
	RecordID     string       `json:"recordId"`
	UpdatedAt    string       `json:"updatedAt,omitempty"`
	Names        []Name       `json:"names"`
	BirthDate    string       `json:"birthDate,omitempty"`
	Sex          *int         `json:"sex,omitempty"`
	BirthCountry string       `json:"birthCountry,omitempty"`
	Identifiers  []Identifier `json:"identifiers,omitempty"`
	MotherNames  []Name       `json:"motherNames,omitempty"`
	FatherNames  []Name       `json:"fatherNames,omitempty"`
	Status       Status       `json:"status"`
	Withheld     bool         `json:"withheld,omitempty"`
}

// Name is the data dictionary's "name" (the fields matching uses).
type Name struct {
	FullName   string `json:"fullName"`
	GivenNames string `json:"givenNames,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
	Patronymic string `json:"patronymic,omitempty"`
	Script     string `json:"script"`
	Language   string `json:"language,omitempty"`
}

// Identifier is the data dictionary's "identifier".
type Identifier struct {
	Scheme         string `json:"scheme"`
	Value          string `json:"value"`
	IssuingCountry string `json:"issuingCountry,omitempty"`
}

// Status holds the facts answers are computed from (DESIGN.md R1). An
// absent member is "unknown".
type Status struct {
	HasBirthRecord        string `json:"hasBirthRecord,omitempty"`        // yes | no | unknown
	DeathRegistered       string `json:"deathRegistered,omitempty"`       // yes | no | unknown
	CivilStatus           string `json:"civilStatus,omitempty"`           // CivilStatuses, or unknown
	CitizenshipConfirmed  string `json:"citizenshipConfirmed,omitempty"`  // yes | no | unknown
	IdentityDocumentValid string `json:"identityDocumentValid,omitempty"` // yes | no | unknown
}

// Yes, No and Unknown are the values of a yes/no fact.
const (
	Yes     = "yes"
	No      = "no"
	Unknown = "unknown"
)

// CivilStatuses are the values of status.civilStatus (the attestation's
// civilStatus without "withheld").
var CivilStatuses = []string{"never-married", "married", "widowed", "divorced", "annulled", "legally-separated", Unknown}

// identifierSchemes is the data dictionary's identifier scheme list.
var identifierSchemes = []string{"TR-TCKN", "KZ-IIN", "UZ-PINFL", "KG-PIN", "TJ-INN", "AZ-FIN", "GE-PN", "AM-PSN", "MN-RD",
	"PASSPORT", "UNHCR-IND", "UNHCR-CASE", "CRVS-REGNO", "OTHER"}

// Line limits (DESIGN.md R2).
const (
	MaxLineBytes    = 64 << 10 // one record
	MaxRequestBytes = 8 << 20  // one POST /v1/records body
	MaxRequestLines = 10_000   // non-blank lines of one request
	MaxErrors       = 100      // line errors listed in a report
	maxNames        = 10
	maxParentNames  = 4
	maxIdentifiers  = 10
	maxText         = 200 // runes of a name part
)

// Line error codes (DESIGN.md R2). The JSON hygiene codes are protocol's
// (PAYLOAD_MALFORMED, PAYLOAD_INVALID_UTF8, PAYLOAD_DUPLICATE_NAME,
// PAYLOAD_TOO_DEEP, PAYLOAD_NUMBER_RANGE, PAYLOAD_NOT_NFC).
const (
	CodeLineTooLarge  = "RECORD_LINE_TOO_LARGE"
	CodeUnknownMember = "RECORD_UNKNOWN_MEMBER"
	CodeMissingMember = "RECORD_MISSING_MEMBER"
	CodeInvalidValue  = "RECORD_INVALID_VALUE"
	CodeStale         = "RECORD_STALE"
)

// LineError is why one line was not applied.
type LineError struct {
	Line    int    `json:"line"`
	Pointer string `json:"pointer"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *LineError) Error() string {
	return fmt.Sprintf("line %d: %s %s: %s", e.Line, e.Code, e.Pointer, e.Message)
}

func lineErr(ptr, code, format string, args ...any) *LineError {
	return &LineError{Pointer: ptr, Code: code, Message: fmt.Sprintf(format, args...)}
}

// members lists the members each object of a record may have (R1).
var (
	recordMembers = []string{"recordId", "updatedAt", "names", "birthDate", "sex", "birthCountry", "identifiers", "motherNames", "fatherNames", "status", "withheld"}
	nameMembers   = []string{"fullName", "givenNames", "familyName", "patronymic", "script", "language"}
	idMembers     = []string{"scheme", "value", "issuingCountry"}
	statusMembers = []string{"hasBirthRecord", "deathRegistered", "civilStatus", "citizenshipConfirmed", "identityDocumentValid"}
)

var (
	recordIDRe = regexp.MustCompile(`^[\x21-\x7e]{1,64}$`)
	scriptRe   = regexp.MustCompile(`^[A-Z][a-z]{3}$`)
	languageRe = regexp.MustCompile(`^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$`)
	countryRe  = regexp.MustCompile(`^[A-Z]{2}$`)
)

// ParseRecord reads one record (a JSONL line without its LF, or one
// candidate of an adapter's answer) by DESIGN.md R2: size, I-JSON, NFC,
// members, values. It never panics; the error is a *LineError (Line 0).
func ParseRecord(line []byte) (Record, *LineError) {
	// > a line over 64 KiB is refused before it is parsed
	if len(line) > MaxLineBytes {
		return Record{}, lineErr("", CodeLineTooLarge, "the line has %d bytes, at most %d", len(line), MaxLineBytes)
	}
	// > one I-JSON object (SPEC §6.5), in NFC
	if err := protocol.CheckJSON(line, protocol.MaxJSONDepth); err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) {
			return Record{}, lineErr(pe.Pointer, string(pe.Code), "%s", pe.Detail)
		}
		return Record{}, lineErr("", string(protocol.CodePayloadJSON), "%v", err)
	}
	if !schemas.IsNFC(line) {
		return Record{}, lineErr("", string(protocol.CodePayloadNotNFC), "text is not in Unicode normalisation form C")
	}
	var generic map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return Record{}, lineErr("", string(protocol.CodePayloadJSON), "%v", err)
	}
	// > … in NFC, escaped text included (a \u escape can spell what the
	// > raw bytes do not)
	if ptr, bad := notNFC(generic, ""); bad {
		return Record{}, lineErr(ptr, string(protocol.CodePayloadNotNFC), "text is not in Unicode normalisation form C")
	}
	if le := checkShape(generic); le != nil {
		return Record{}, le
	}
	var r Record
	if err := json.Unmarshal(line, &r); err != nil { // the shape is checked: only a bug gets here
		return Record{}, lineErr("", CodeInvalidValue, "%v", err)
	}
	if le := r.validate(); le != nil {
		return Record{}, le
	}
	return r, nil
}

// notNFC finds the first member name or string not in NFC.
func notNFC(v any, ptr string) (string, bool) {
	switch v := v.(type) {
	case string:
		return ptr, !schemas.IsNFC([]byte(v))
	case []any:
		for i, x := range v {
			if p, bad := notNFC(x, ptr+"/"+strconv.Itoa(i)); bad {
				return p, true
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := ptr + protocol.Pointer(k)
			if !schemas.IsNFC([]byte(k)) {
				return p, true
			}
			if p, bad := notNFC(v[k], p); bad {
				return p, true
			}
		}
	}
	return "", false
}

// checkShape checks members and JSON types against R1, with pointers.
func checkShape(m map[string]any) *LineError {
	if le := members(m, "", recordMembers); le != nil {
		return le
	}
	for _, req := range []string{"recordId", "names"} {
		if _, ok := m[req]; !ok {
			return lineErr("/"+req, CodeMissingMember, "%s is required", req)
		}
	}
	for _, k := range []string{"recordId", "updatedAt", "birthDate", "birthCountry"} {
		if v, ok := m[k]; ok {
			if _, isStr := v.(string); !isStr {
				return lineErr("/"+k, CodeInvalidValue, "%s must be a string", k)
			}
		}
	}
	if v, ok := m["sex"]; ok {
		if _, isNum := v.(json.Number); !isNum {
			return lineErr("/sex", CodeInvalidValue, "sex must be an ISO/IEC 5218 number (0, 1, 2, 9)")
		}
	}
	if v, ok := m["withheld"]; ok {
		if _, isBool := v.(bool); !isBool {
			return lineErr("/withheld", CodeInvalidValue, "withheld must be true or false")
		}
	}
	for _, k := range []string{"names", "motherNames", "fatherNames"} {
		if le := objects(m, k, nameMembers, []string{"fullName", "script"}); le != nil {
			return le
		}
	}
	if le := objects(m, "identifiers", idMembers, []string{"scheme", "value"}); le != nil {
		return le
	}
	if v, ok := m["status"]; ok {
		o, isObj := v.(map[string]any)
		if !isObj {
			return lineErr("/status", CodeInvalidValue, "status must be an object")
		}
		if le := members(o, "/status", statusMembers); le != nil {
			return le
		}
		if le := allStrings(o, "/status"); le != nil {
			return le
		}
	}
	return nil
}

func members(o map[string]any, ptr string, allowed []string) *LineError {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the first unknown member, the same one every time
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return lineErr(ptr+"/"+protocol.Pointer(k)[1:], CodeUnknownMember, "unknown member %q", k)
		}
	}
	return nil
}

func allStrings(o map[string]any, ptr string) *LineError {
	for k, v := range o {
		if _, ok := v.(string); !ok {
			return lineErr(ptr+"/"+k, CodeInvalidValue, "%s must be a string", k)
		}
	}
	return nil
}

// objects checks an optional array of objects m[k].
func objects(m map[string]any, k string, allowed, required []string) *LineError {
	v, ok := m[k]
	if !ok {
		return nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		return lineErr("/"+k, CodeInvalidValue, "%s must be an array", k)
	}
	for i, item := range arr {
		p := "/" + k + "/" + strconv.Itoa(i)
		o, isObj := item.(map[string]any)
		if !isObj {
			return lineErr(p, CodeInvalidValue, "must be an object")
		}
		if le := members(o, p, allowed); le != nil {
			return le
		}
		for _, req := range required {
			if _, ok := o[req]; !ok {
				return lineErr(p+"/"+req, CodeMissingMember, "%s is required", req)
			}
		}
		if le := allStrings(o, p); le != nil {
			return le
		}
	}
	return nil
}

// validate checks values (R1).
func (r *Record) validate() *LineError {
	if !recordIDRe.MatchString(r.RecordID) {
		return lineErr("/recordId", CodeInvalidValue, "recordId must be 1..64 printable ASCII characters")
	}
	if r.UpdatedAt != "" {
		if _, err := time.Parse(time.RFC3339, r.UpdatedAt); err != nil {
			return lineErr("/updatedAt", CodeInvalidValue, "updatedAt must be an RFC 3339 timestamp")
		}
	}
	if len(r.Names) == 0 || len(r.Names) > maxNames {
		return lineErr("/names", CodeInvalidValue, "1..%d names", maxNames)
	}
	for k, ns := range map[string][]Name{"names": r.Names, "motherNames": r.MotherNames, "fatherNames": r.FatherNames} {
		if k != "names" && len(ns) > maxParentNames {
			return lineErr("/"+k, CodeInvalidValue, "at most %d names", maxParentNames)
		}
		for i, n := range ns {
			if le := n.validate("/" + k + "/" + strconv.Itoa(i)); le != nil {
				return le
			}
		}
	}
	if r.BirthDate != "" {
		if _, ok := match.ParseDate(r.BirthDate); !ok {
			return lineErr("/birthDate", CodeInvalidValue, "birthDate must be YYYY, YYYY-MM or YYYY-MM-DD")
		}
	}
	if r.Sex != nil && *r.Sex != match.SexUnknown && *r.Sex != match.SexMale && *r.Sex != match.SexFemale && *r.Sex != match.SexNotApplicable {
		return lineErr("/sex", CodeInvalidValue, "sex must be an ISO/IEC 5218 code (0, 1, 2, 9)")
	}
	if r.BirthCountry != "" && !countryRe.MatchString(r.BirthCountry) {
		return lineErr("/birthCountry", CodeInvalidValue, "birthCountry must be an ISO 3166-1 alpha-2 code")
	}
	if len(r.Identifiers) > maxIdentifiers {
		return lineErr("/identifiers", CodeInvalidValue, "at most %d identifiers", maxIdentifiers)
	}
	for i, id := range r.Identifiers {
		p := "/identifiers/" + strconv.Itoa(i)
		switch {
		case !slices.Contains(identifierSchemes, id.Scheme):
			return lineErr(p+"/scheme", CodeInvalidValue, "scheme %q is not one of the data dictionary's", id.Scheme)
		case id.Value == "" || len(id.Value) > 64:
			return lineErr(p+"/value", CodeInvalidValue, "value must have 1..64 bytes")
		case id.IssuingCountry != "" && !countryRe.MatchString(id.IssuingCountry):
			return lineErr(p+"/issuingCountry", CodeInvalidValue, "issuingCountry must be an ISO 3166-1 alpha-2 code")
		}
	}
	s := r.Status
	for k, v := range map[string]string{"hasBirthRecord": s.HasBirthRecord, "deathRegistered": s.DeathRegistered,
		"citizenshipConfirmed": s.CitizenshipConfirmed, "identityDocumentValid": s.IdentityDocumentValid} {
		if v != "" && v != Yes && v != No && v != Unknown {
			return lineErr("/status/"+k, CodeInvalidValue, "%s must be yes, no or unknown", k)
		}
	}
	if s.CivilStatus != "" && !slices.Contains(CivilStatuses, s.CivilStatus) {
		return lineErr("/status/civilStatus", CodeInvalidValue, "civilStatus %q is not one of %v", s.CivilStatus, CivilStatuses)
	}
	return nil
}

func (n Name) validate(p string) *LineError {
	if n.FullName == "" {
		return lineErr(p+"/fullName", CodeInvalidValue, "fullName must not be empty")
	}
	for k, v := range map[string]string{"fullName": n.FullName, "givenNames": n.GivenNames, "familyName": n.FamilyName, "patronymic": n.Patronymic} {
		if utf8.RuneCountInString(v) > maxText {
			return lineErr(p+"/"+k, CodeInvalidValue, "at most %d characters", maxText)
		}
	}
	if !scriptRe.MatchString(n.Script) {
		return lineErr(p+"/script", CodeInvalidValue, "script must be an ISO 15924 code such as Latn, Cyrl, Arab")
	}
	if n.Language != "" && !languageRe.MatchString(n.Language) {
		return lineErr(p+"/language", CodeInvalidValue, "language must be a BCP 47 tag such as ru, tg-Cyrl")
	}
	return nil
}

// Person is what matching compares: the record's names, dates and
// identifiers, with ID the recordId.
func (r *Record) Person() match.Person {
	p := match.Person{ID: r.RecordID, Names: names(r.Names), Sex: match.SexUnknown, BirthCountry: r.BirthCountry,
		MotherNames: names(r.MotherNames), FatherNames: names(r.FatherNames)}
	if r.BirthDate != "" {
		p.BirthDate, _ = match.ParseDate(r.BirthDate)
	}
	if r.Sex != nil {
		p.Sex = *r.Sex
	}
	for _, id := range r.Identifiers {
		p.Identifiers = append(p.Identifiers, match.Identifier{Scheme: id.Scheme, Value: id.Value, Country: id.IssuingCountry})
	}
	return p
}

func names(ns []Name) []match.Name {
	var out []match.Name
	for _, n := range ns {
		out = append(out, match.Name{Given: n.GivenNames, Family: n.FamilyName, Patronymic: n.Patronymic, Full: n.FullName, Script: n.Script, Language: n.Language})
	}
	return out
}

// Facts are the record's status facts.
func (r *Record) Facts() Facts {
	s := r.Status
	return Facts{HasBirthRecord: fact(s.HasBirthRecord), DeathRegistered: fact(s.DeathRegistered), CivilStatus: fact(s.CivilStatus),
		CitizenshipConfirmed: fact(s.CitizenshipConfirmed), IdentityDocumentValid: fact(s.IdentityDocumentValid), Withheld: r.Withheld}
}

func fact(v string) string {
	if v == "" {
		return Unknown
	}
	return v
}

// encode is the record's document as the embedded store keeps it.
func (r *Record) encode() ([]byte, error) { return json.Marshal(r) }
