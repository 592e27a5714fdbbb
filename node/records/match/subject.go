package match

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ecrn/crvsx/schemas/semantic"
)

// ErrSubject is wrapped by every error ParseSubject returns.
var ErrSubject = errors.New("match: unreadable subject")

// wireName and wireSubject are status-query.schema.json's subject, with the
// schema's member names.
type wireName struct {
	Use                   string `json:"use"`
	Script                string `json:"script"`
	Language              string `json:"language"`
	TransliterationScheme string `json:"transliterationScheme"`
	FullName              string `json:"fullName"`
	FamilyName            string `json:"familyName"`
	GivenNames            string `json:"givenNames"`
	Patronymic            string `json:"patronymic"`
}

type wireIdentifier struct {
	Scheme         string `json:"scheme"`
	Value          string `json:"value"`
	IssuingCountry string `json:"issuingCountry"`
}

type wirePlace struct {
	Country string `json:"country"`
}

type wireSubject struct {
	Names       []wireName       `json:"names"`
	BirthDate   string           `json:"birthDate"`
	Sex         json.Number      `json:"sex"`
	BirthPlace  *wirePlace       `json:"birthPlace"`
	Identifiers []wireIdentifier `json:"identifiers"`
	MotherNames []wireName       `json:"motherNames"`
	FatherNames []wireName       `json:"fatherNames"`
}

// ParseSubject reads the `subject` object of a status.query payload as
// encoding/json decoded it (with or without UseNumber). The schema has
// already judged shapes; what does not fit is an error wrapping ErrSubject,
// never a panic.
func ParseSubject(subject map[string]any) (Subject, error) {
	raw, err := json.Marshal(subject)
	if err != nil {
		return Subject{}, fmt.Errorf("%w: %w", ErrSubject, err)
	}
	return ParseSubjectJSON(raw)
}

// ParseSubjectJSON reads the subject from its JSON text.
func ParseSubjectJSON(raw []byte) (Subject, error) {
	var w wireSubject
	if err := json.Unmarshal(raw, &w); err != nil {
		return Subject{}, fmt.Errorf("%w: %w", ErrSubject, err)
	}
	var s Subject
	for _, n := range w.Names {
		s.Names = append(s.Names, n.name())
	}
	for _, n := range w.MotherNames {
		s.MotherNames = append(s.MotherNames, n.name())
	}
	for _, n := range w.FatherNames {
		s.FatherNames = append(s.FatherNames, n.name())
	}
	if w.BirthDate != "" {
		d, ok := ParseDate(w.BirthDate)
		if !ok {
			return Subject{}, fmt.Errorf("%w: birthDate %q is not YYYY, YYYY-MM or YYYY-MM-DD", ErrSubject, w.BirthDate)
		}
		s.BirthDate = d
	}
	if w.Sex != "" {
		n, err := w.Sex.Int64()
		if err != nil || (n != SexUnknown && n != SexMale && n != SexFemale && n != SexNotApplicable) {
			return Subject{}, fmt.Errorf("%w: sex %q is not an ISO/IEC 5218 code", ErrSubject, w.Sex)
		}
		s.Sex = int(n)
	}
	if w.BirthPlace != nil {
		s.BirthCountry = w.BirthPlace.Country
	}
	for _, id := range w.Identifiers {
		s.Identifiers = append(s.Identifiers, Identifier{Scheme: id.Scheme, Value: id.Value, Country: id.IssuingCountry})
	}
	return s, nil
}

func (n wireName) name() Name {
	return Name{Given: n.GivenNames, Family: n.FamilyName, Patronymic: n.Patronymic, Full: n.FullName, Script: n.Script, Language: n.Language}
}

// ParseDate reads a partialDate (YYYY, YYYY-MM, YYYY-MM-DD) with
// schemas/semantic's rules.
func ParseDate(s string) (Date, bool) {
	y, m, d, ok := semantic.ParsePartialDate(s)
	return Date{Year: y, Month: m, Day: d}, ok
}
