package semantic

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ecrn/crvsx/protocol"
)

// ClockSkew is how far a timestamp written by one clock (consent.obtainedAt,
// receivedAt, attestedAt) may lie after the createdAt written by another
// before TIMESTAMP_AFTER_CREATED_AT is reported.
const ClockSkew = 5 * time.Minute

// Check returns every semantic finding on a schema-valid message, sorted by
// (pointer, code). Pure: no clock, no I/O.
//
// > SPEC.md §6.6 3. The semantic rules of schemas/semantic/RULES.md hold:
// > date order, identifier check digits, purpose and non-refoulement, text
// > hygiene (SEMANTIC_VALIDATION_FAILED, with its issues).
//
// doc is the message as encoding/json decodes it with UseNumber, after NFC
// normalisation. Check relies on the schema for types and shapes but never
// panics on any decoded JSON: what it cannot read it does not judge.
func Check(doc map[string]any) []protocol.Issue {
	c := checker{doc: doc}
	c.envelope()
	c.path = make([]string, 0, 16)
	c.walk(doc, "")
	c.byMessageType()
	return finish(c.issues)
}

type checker struct {
	doc    map[string]any
	issues []protocol.Issue
	path   []string // reference tokens of the value being walked

	created     time.Time
	createdOK   bool
	latest      pdate  // latest calendar date current anywhere at createdAt
	recipientCC string // recipient.country, "" for an international node
}

func (c *checker) add(code, pointer, format string, args ...any) {
	c.issues = append(c.issues, protocol.Issue{
		Severity: Severity(code),
		Code:     code,
		Pointer:  pointer,
		Message:  fmt.Sprintf(format, args...),
	})
}

// here is the pointer of the value being walked, extended by more tokens.
func (c *checker) here(more ...string) string {
	if len(more) == 0 {
		return protocol.Pointer(c.path...)
	}
	return ptr(c.path, more...)
}

// ptr builds a pointer from base and more tokens without touching base.
func ptr(base []string, more ...string) string {
	return protocol.Pointer(base...) + protocol.Pointer(more...)
}

func finish(issues []protocol.Issue) []protocol.Issue {
	if len(issues) == 0 {
		return nil
	}
	slices.SortFunc(issues, func(a, b protocol.Issue) int {
		if c := strings.Compare(a.Pointer, b.Pointer); c != 0 {
			return c
		}
		if c := strings.Compare(a.Code, b.Code); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
	return slices.CompactFunc(issues, func(a, b protocol.Issue) bool {
		return a.Pointer == b.Pointer && a.Code == b.Code
	})
}

// --- access to decoded JSON, never panicking ------------------------------

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func arr(v any) []any {
	a, _ := v.([]any)
	return a
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// integer reads a JSON integer as decoded with or without UseNumber.
func integer(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, false
		}
		return int64(n), true
	case int:
		return int64(n), true
	case int64:
		return n, true
	}
	return 0, false
}

func dateAt(m map[string]any, key string) (pdate, bool) {
	s, ok := m[key].(string)
	if !ok {
		return pdate{}, false
	}
	return parseDate(s)
}

// --- envelope ----------------------------------------------------------------

func (c *checker) envelope() {
	if t, ok := parseTimestamp(str(c.doc["createdAt"])); ok {
		c.created, c.createdOK = t, true
		c.latest = latestDate(t)
	}
	c.recipientCC = str(obj(c.doc["recipient"])["country"])
}

// --- the generic walk: every string, every object --------------------------

func (c *checker) walk(v any, key string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			c.path = append(c.path, k)
			c.member(x, k, e)
			c.walk(e, k)
			c.path = c.path[:len(c.path)-1]
		}
	case []any:
		for i, e := range x {
			c.path = append(c.path, strconv.Itoa(i))
			c.walk(e, "")
			c.path = c.path[:len(c.path)-1]
		}
	case string:
		c.text(x, key)
	}
}

// isDateKey tells the members holding civil dates that cannot lie after the
// message was created. validUntil (an identifier's expiry) is not one.
func isDateKey(k string) bool {
	switch k {
	case "dateOfOccurrence", "registrationDate", "birthDate", "decisionDate", "finalDate",
		"effectiveDate", "issueDate", "date", "dateOfInjury":
		return true
	}
	return false
}

// isTimestampKey tells the payload timestamps that record a past moment.
func isTimestampKey(k string) bool {
	return k == "receivedAt" || k == "attestedAt" || k == "obtainedAt"
}

func (c *checker) text(s, key string) {
	if hasBidiControl(s) {
		c.add(CodeBidiControl, c.here(), "text holds a bidirectional embedding, override or isolate control (U+202A–U+202E, U+2066–U+2069)")
	}
	if !c.createdOK || len(c.path) < 2 { // envelope members are not payload dates
		return
	}
	switch {
	case isDateKey(key):
		if d, ok := parseDate(s); ok && cmpDate(d, c.latest) > 0 {
			c.add(CodeDateAfterCreatedAt, c.here(), "date %s is after the message was created (%s)", s, c.created.Format(time.RFC3339))
		}
	case isTimestampKey(key):
		if t, ok := parseTimestamp(s); ok && t.After(c.created.Add(ClockSkew)) {
			c.add(CodeTimestampAfterCreatedAt, c.here(), "timestamp %s is after the message was created (%s)", s, c.created.Format(time.RFC3339))
		}
	}
}

// member runs the rules that belong to a member of a given name, wherever
// it is in the message; c.path ends with k, the member of parent.
func (c *checker) member(parent map[string]any, k string, v any) {
	switch k {
	case "names", "motherNames", "fatherNames":
		for i, n := range arr(v) {
			if n := obj(n); n != nil {
				c.path = append(c.path, strconv.Itoa(i))
				c.name(n)
				c.path = c.path[:len(c.path)-1]
			}
		}
	case "familyNameAfterEvent":
		if s, ok := v.(string); ok {
			if _, mixed := nameScripts(s); mixed {
				c.add(CodeNameMixedScript, c.here(), "a word of %q mixes scripts (e.g. a Cyrillic letter in a Latin name)", s)
			}
		}
	case "identifiers":
		if ids := arr(v); ids != nil {
			c.identifiers(parent, ids)
		}
	case "estimatedAgeYears":
		est := obj(v)
		lo, ok1 := integer(est["min"])
		hi, ok2 := integer(est["max"])
		if ok1 && ok2 && lo > hi {
			c.add(CodeEstimatedAgeInverted, c.here(), "estimated age minimum %d is above the maximum %d", lo, hi)
		}
	case "finalDate":
		if dec, ok := dateAt(parent, "decisionDate"); ok {
			if fin, ok := dateAt(parent, "finalDate"); ok && cmpDate(fin, dec) < 0 {
				c.add(CodeFinalBeforeDecision, c.here(), "the decision became final before it was made")
			}
		}
	}
}

func ptrTokens(base []string, more ...string) []string {
	out := make([]string, 0, len(base)+len(more))
	return append(append(out, base...), more...)
}

// --- names -----------------------------------------------------------------

var nameParts = [...]string{"fullName", "familyName", "givenNames", "patronymic"}

// name checks the name object at c.path: mixed scripts in a word, letters
// outside the declared script, parts missing from the full name.
func (c *checker) name(n map[string]any) {
	want := scriptBits(str(n["script"]))
	for _, k := range nameParts {
		s, ok := n[k].(string)
		if !ok {
			continue
		}
		all, mixed := nameScripts(s)
		switch {
		case mixed:
			c.add(CodeNameMixedScript, c.here(k), "a word of %q mixes scripts (e.g. a Cyrillic letter in a Latin name)", s)
		case want != 0 && all&^want != 0:
			c.add(CodeNameScriptMismatch, c.here(k), "%q has letters outside the declared script %s", s, str(n["script"]))
		}
	}
	full, ok := n["fullName"].(string)
	if !ok {
		return
	}
	var foldedFull string
	for _, k := range nameParts[1:] {
		part, ok := n[k].(string)
		if !ok || part == "" || strings.Contains(full, part) {
			continue
		}
		if foldedFull == "" {
			foldedFull = FoldName(full)
		}
		if !strings.Contains(foldedFull, FoldName(part)) {
			c.add(CodeNamePartNotInFull, c.here(k), "%s %q is not part of fullName %q", k, part, full)
		}
	}
}

// --- identifiers -----------------------------------------------------------

// identifiers checks the identifiers of holder (a person, an informant, a
// query's subject) and, where the holder states them, that the birth date
// and sex they encode agree with birthDate (at its precision) and sex
// (ISO 5218; 0 and 9 are not compared).
func (c *checker) identifiers(holder map[string]any, ids []any) {
	birth, hasBirth := dateAt(holder, "birthDate")
	sex, hasSex := integer(holder["sex"])
	if hasSex && sex != 1 && sex != 2 {
		hasSex = false
	}
	estimated, _ := holder["birthDateEstimated"].(bool)
	for i, v := range ids {
		id := obj(v)
		if id == nil {
			continue
		}
		scheme, value := str(id["scheme"]), str(id["value"])
		idx := strconv.Itoa(i)
		valuePtr := c.here(idx, "value")
		if want := schemeCountry(scheme); want != "" {
			if got := str(id["issuingCountry"]); got != "" && got != want {
				c.add(CodeIdentifierCountry, c.here(idx, "issuingCountry"), "a %s is issued by %s, not %s", scheme, want, got)
			}
		}
		var (
			e                   encoded
			checkOK, wellFormed bool
			codeCheck, codeDate string
			codeBirth, codeSex  string
		)
		switch scheme {
		case "TR-TCKN":
			if valid, wf := tcknValid(value); wf && !valid {
				c.add(CodeTCKNCheckDigit, valuePtr, "the check digits (10th, 11th) of the TCKN do not match")
			}
			continue
		case "KZ-IIN":
			e, checkOK, wellFormed = iinDecode(value)
			codeCheck, codeDate, codeBirth, codeSex = CodeIINCheckDigit, CodeIINDateInvalid, CodeIINBirthDate, CodeIINSex
		case "UZ-PINFL":
			e, checkOK, wellFormed = pinflDecode(value)
			codeCheck, codeDate, codeBirth, codeSex = CodePINFLCheckDigit, CodePINFLDateInvalid, CodePINFLBirthDate, CodePINFLSex
		default:
			continue
		}
		if !wellFormed {
			continue
		}
		if !checkOK {
			c.add(codeCheck, valuePtr, "the check digit of the %s does not match", scheme)
		}
		if e.birth.prec == precNone {
			c.add(codeDate, valuePtr, "the %s encodes %04d-%02d-%02d, which is not a calendar date", scheme, e.rawYMD[0], e.rawYMD[1], e.rawYMD[2])
		} else if hasBirth && cmpDate(e.birth, birth) != 0 {
			sev := Severity(codeBirth)
			if estimated {
				sev = protocol.SeverityWarning // an estimated birth date may differ from the registered one
			}
			c.issues = append(c.issues, protocol.Issue{
				Severity: sev, Code: codeBirth, Pointer: valuePtr,
				Message: fmt.Sprintf("the %s encodes the birth date %04d-%02d-%02d, the person's birthDate is %s", scheme, e.birth.y, e.birth.m, e.birth.d, str(holder["birthDate"])),
			})
		}
		if hasSex && int64(e.sex) != sex {
			c.add(codeSex, valuePtr, "the %s encodes sex %d, the person's sex is %d", scheme, e.sex, sex)
		}
	}
}

// --- rules by message type -------------------------------------------------

// party is a person of the message, found where its message type keeps it.
type party struct {
	path    []string
	person  map[string]any
	birth   birthRule
	subject bool // the message is about this person (citizenship-notification)
	mother  bool
	spouse  bool
}

// birthRule says how the event date must relate to a party's birth date.
type birthRule int

const (
	bornBefore     birthRule = iota // strictly before the event (parents, spouses)
	bornOnOrBefore                  // on or before (the deceased, the adoptee, a legitimated child)
	birthFree                       // not compared (a live birth's child; a child recognised before birth)
)

func (c *checker) byMessageType() {
	mt := str(c.doc["messageType"])
	p := obj(c.doc["payload"])
	if p == nil {
		return
	}
	switch mt {
	case protocol.MTCancellation:
		c.cancellation(p)
		return
	case protocol.MTStatusAttestation:
		c.attestation(p)
		return
	case protocol.MTStatusQuery, protocol.MTReceipt:
		return
	}
	parties := partiesOf(mt, p)
	if parties == nil && !strings.HasPrefix(mt, "event.") {
		return
	}
	c.event(mt, p, parties)
	c.protection(mt, parties)
}

func person(p map[string]any, path ...string) (party, bool) {
	var v any = p
	for _, k := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return party{}, false
			}
			v = x[i]
		default:
			return party{}, false
		}
	}
	m := obj(v)
	if m == nil {
		return party{}, false
	}
	return party{path: ptrTokens([]string{"payload"}, path...), person: m, subject: true}, true
}

// partiesOf lists the persons of an event message and who the message is
// about. Live birth: the child and the known parents; death: the deceased;
// fetal death: the parents; marriage and its dissolutions: both spouses;
// adoption: the adoptee and the adoptive parents (birth parents are persons
// of the message, not its subjects); legitimation: the child and both
// parents; recognition: the child, the recognising and the other parent.
func partiesOf(mt string, p map[string]any) []party {
	var out []party
	add := func(birth birthRule, subject, mother, spouse bool, path ...string) {
		if pt, ok := person(p, path...); ok {
			pt.birth, pt.subject, pt.mother, pt.spouse = birth, subject, mother, spouse
			out = append(out, pt)
		}
	}
	each := func(key string, birth birthRule, subject, spouse bool, sub ...string) {
		for i := range arr(p[key]) {
			add(birth, subject, false, spouse, append([]string{key, strconv.Itoa(i)}, sub...)...)
		}
	}
	switch mt {
	case protocol.MTLiveBirth:
		add(birthFree, true, false, false, "child")
		add(bornBefore, true, true, false, "mother", "person")
		add(bornBefore, true, false, false, "father", "person")
	case protocol.MTFetalDeath:
		add(bornBefore, true, true, false, "mother", "person")
		add(bornBefore, true, false, false, "father", "person")
	case protocol.MTDeath:
		add(bornOnOrBefore, true, false, false, "deceased")
	case protocol.MTMarriage, protocol.MTDivorce, protocol.MTAnnulment, protocol.MTJudicialSeparation:
		each("spouses", bornBefore, true, true, "person")
	case protocol.MTAdoption:
		add(bornOnOrBefore, true, false, false, "adoptee")
		each("adoptiveParents", bornBefore, true, false)
		each("birthParents", bornBefore, false, false, "person")
	case protocol.MTLegitimation:
		add(bornOnOrBefore, true, false, false, "child")
		each("parents", bornBefore, true, false)
	case protocol.MTRecognition:
		add(birthFree, true, false, false, "child")
		add(bornBefore, true, false, false, "recognizingParent")
		add(bornBefore, true, false, false, "otherParent", "person")
	}
	return out
}

func (c *checker) event(mt string, p map[string]any, parties []party) {
	ev := obj(p["event"])
	occ, hasOcc := dateAt(ev, "dateOfOccurrence")
	if !hasOcc {
		return
	}
	const occPtr = "/payload/event/dateOfOccurrence"
	if reg, ok := dateAt(obj(p["registration"]), "registrationDate"); ok && cmpDate(reg, occ) < 0 {
		c.add(CodeRegistrationBeforeEvent, "/payload/registration/registrationDate", "registered on %s, before the event (%s)", str(obj(p["registration"])["registrationDate"]), str(ev["dateOfOccurrence"]))
	}
	if eff, ok := dateAt(obj(p["amendment"]), "effectiveDate"); ok && cmpDate(eff, occ) < 0 {
		c.add(CodeAmendmentBeforeEvent, "/payload/amendment/effectiveDate", "the amendment takes effect before the event it amends")
	}

	for _, pt := range parties {
		birth, ok := dateAt(pt.person, "birthDate")
		if !ok {
			continue
		}
		bp := ptr(pt.path, "birthDate")
		cmp := cmpDate(occ, birth)
		before := cmp < 0 || (cmp == 0 && pt.birth == bornBefore && occ.prec == precDay && birth.prec == precDay)
		if pt.birth != birthFree && before {
			c.add(CodeEventBeforeBirth, bp, "the event (%s) is not after this person's birth (%s)", str(ev["dateOfOccurrence"]), str(pt.person["birthDate"]))
			continue
		}
		lo, hi := ageRange(birth, occ)
		switch {
		case pt.mother:
			switch {
			case hi < 5 || lo > 80:
				c.add(CodeMotherAgeImplausible, bp, "the mother would be %s at the birth", ageText(lo, hi))
			case hi < 13 || lo > 55:
				c.add(CodeMotherAgeUnusual, bp, "the mother would be %s at the birth", ageText(lo, hi))
			}
		case pt.spouse && mt == protocol.MTMarriage:
			if hi < 16 {
				c.add(CodeSpouseAgeUnusual, bp, "this spouse would be %s at the marriage, below every member's minimum age", ageText(lo, hi))
			}
		}
	}

	switch mt {
	case protocol.MTLiveBirth:
		child := obj(p["child"])
		if b, ok := dateAt(child, "birthDate"); ok && cmpDate(b, occ) != 0 {
			c.add(CodeChildBirthDateMismatch, "/payload/child/birthDate", "the child's birthDate %s is not the date of the birth %s", str(child["birthDate"]), str(ev["dateOfOccurrence"]))
		}
	case protocol.MTDeath:
		c.ageAtDeath(p, ev, occ)
	case protocol.MTDivorce, protocol.MTAnnulment, protocol.MTJudicialSeparation:
		if reg, ok := dateAt(obj(p["dissolvedMarriage"]), "registrationDate"); ok && cmpDate(occ, reg) < 0 {
			c.add(CodeDissolutionBeforeMarriage, occPtr, "the dissolution (%s) precedes the registration of the marriage it dissolves (%s)", str(ev["dateOfOccurrence"]), str(obj(p["dissolvedMarriage"])["registrationDate"]))
		}
		fallthrough
	case protocol.MTAdoption:
		if dec, ok := dateAt(obj(p["decision"]), "decisionDate"); ok && cmpDate(occ, dec) < 0 {
			c.add(CodeEventBeforeDecision, occPtr, "the event (%s) precedes the decision that makes it (%s)", str(ev["dateOfOccurrence"]), str(obj(p["decision"])["decisionDate"]))
		}
	}
}

func ageText(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo) + " years old"
	}
	return strconv.Itoa(lo) + "–" + strconv.Itoa(hi) + " years old"
}

// ageAtDeath compares an age at death given in years with the age the
// birth and death dates allow (a warning: which one is wrong is not known).
func (c *checker) ageAtDeath(p, ev map[string]any, occ pdate) {
	age := obj(ev["ageAtDeath"])
	if str(age["unit"]) != "years" {
		return
	}
	v, ok := integer(age["value"])
	if !ok {
		return
	}
	birth, ok := dateAt(obj(p["deceased"]), "birthDate")
	if !ok || cmpDate(occ, birth) < 0 {
		return
	}
	if lo, hi := ageRange(birth, occ); v < int64(lo) || v > int64(hi) {
		c.add(CodeAgeAtDeathInconsistent, "/payload/event/ageAtDeath/value", "ageAtDeath %d years, but the birth and death dates give %s", v, ageText(lo, hi))
	}
}

// protection: non-refoulement for every person of the message, and the
// citizenship-notification purpose against the subjects' citizenships.
func (c *checker) protection(mt string, parties []party) {
	cc := c.recipientCC
	for _, pt := range parties {
		switch str(pt.person["nationalityStatus"]) {
		case "refugee", "asylum-seeker":
			if cc != "" && holds(pt.person, cc) {
				c.add(CodeRefoulement, ptr(pt.path, "nationalityStatus"), "this person is a %s and %s is a country of their citizenship: the message must not go there (non-refoulement)", str(pt.person["nationalityStatus"]), cc)
			}
		}
	}
	if str(c.doc["purpose"]) != "citizenship-notification" {
		return
	}
	if cc != "" {
		for _, pt := range parties {
			if pt.subject && holds(pt.person, cc) {
				return
			}
		}
	}
	if cc == "" {
		c.add(CodeNotCitizenshipCountry, "/purpose", "a citizenship notification goes to a country: the recipient has none")
		return
	}
	c.add(CodeNotCitizenshipCountry, "/purpose", "a citizenship notification to %s, but no person the %s is about has %s among their citizenships", cc, mt, cc)
}

func holds(person map[string]any, cc string) bool {
	for _, v := range arr(person["citizenships"]) {
		if str(v) == cc {
			return true
		}
	}
	return false
}

func (c *checker) cancellation(p map[string]any) {
	eff, ok := dateAt(p, "effectiveDate")
	if !ok {
		return
	}
	if reg, ok := dateAt(obj(p["record"]), "registrationDate"); ok && cmpDate(eff, reg) < 0 {
		c.add(CodeCancellationBeforeRecord, "/payload/effectiveDate", "the cancellation takes effect before the record was registered (%s)", str(obj(p["record"])["registrationDate"]))
	}
}

// attestation checks what the attestation alone can show. That the answers
// are a subset of the questions asked needs the query, which only the node
// holds: CheckAttestationAnswers.
func (c *checker) attestation(p map[string]any) {
	at, ok1 := parseTimestamp(str(p["attestedAt"]))
	until, ok2 := parseTimestamp(str(p["validUntil"]))
	if ok1 && ok2 && !until.After(at) {
		c.add(CodeAttestationValidity, "/payload/validUntil", "the attestation expires before it is made")
	}
	issuer := str(obj(p["issuer"])["country"])
	// A sender without a country (an international organisation's node,
	// SPEC §1) attests no country's records: it is never the issuer.
	sender := str(obj(c.doc["sender"])["country"])
	if issuer != "" && issuer != sender {
		c.add(CodeIssuerNotSender, "/payload/issuer/country", "a node attests only its own country's records: issuer %s, sender %s", issuer, sender)
	}
}
