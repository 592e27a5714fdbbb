package match

// Name is one written form of a person's name, in one script (data
// dictionary "name"). Full is required on the wire; the parts are optional.
type Name struct {
	Given, Family, Patronymic, Full string
	Script                          string // ISO 15924: Latn, Cyrl, Arab
	Language                        string
}

// Date is a civil date at the precision it was written with: Month and Day
// are 0 when absent; the zero Date is "unknown".
type Date struct{ Year, Month, Day int }

// Known reports whether the date has at least a year.
func (d Date) Known() bool { return d.Year != 0 }

// Full reports whether the date has a day.
func (d Date) Full() bool { return d.Day != 0 }

// Identifier is a personal identifier (data dictionary "identifier").
type Identifier struct{ Scheme, Value, Country string }

// Sex codes, ISO/IEC 5218.
const (
	SexUnknown       = 0
	SexMale          = 1
	SexFemale        = 2
	SexNotApplicable = 9
)

// Person is what a registry record holds for matching.
type Person struct {
	ID                       string
	Names                    []Name
	BirthDate                Date
	Sex                      int
	BirthCountry             string
	Identifiers              []Identifier
	MotherNames, FatherNames []Name
}

// Subject is the subject of a status.query: the same shapes, every one
// optional.
type Subject struct {
	Names                    []Name
	BirthDate                Date
	Sex                      int
	BirthCountry             string
	Identifiers              []Identifier
	MotherNames, FatherNames []Name
}

// Outcome is the matchResult of a status.attestation.
type Outcome string

const (
	UniqueMatch        Outcome = "unique-match"
	NoMatch            Outcome = "no-match"
	MultipleCandidates Outcome = "multiple-candidates"
	InsufficientData   Outcome = "insufficient-data"
)

// Result is the decision. PersonID and Score are set only on UniqueMatch;
// Reason is one of a fixed set of phrases and never says which or how many
// records came close.
type Result struct {
	Outcome  Outcome
	PersonID string
	Score    int
	Reason   string
}
