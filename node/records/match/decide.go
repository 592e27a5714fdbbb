package match

import "sort"

// The decision rule (DESIGN.md M2).

// Margin is how far ahead of every other passing candidate the best must
// score to be a unique match.
const Margin = 2

// MaxCandidates is the most passing candidates reported as
// multiple-candidates; more is insufficient-data.
const MaxCandidates = 4

// The fixed reasons of a Result: they never name or count records.
const (
	reasonUnique      = "one record passes and no other comes within the margin"
	reasonNone        = "no record passes"
	reasonSeveral     = "several records pass; add a full birth date, an identifier or a parent's name"
	reasonTooMany     = "too many records share these details; add an identifier or more details"
	reasonUnderstated = "the subject needs an identifier, or names and a birth date"
)

// prepared is a person or subject with its keys computed once.
type prepared struct {
	id             string
	names          []pname
	date           Date
	sex            int
	country        string
	ids            []pid
	mother, father []pname
}

func prepareNames(ns []Name) []pname {
	var out []pname
	for _, n := range ns {
		if p := prepareName(n); len(p.toks) > 0 {
			out = append(out, p)
		}
	}
	return out
}

func preparePerson(p Person) prepared {
	return prepared{
		id: p.ID, names: prepareNames(p.Names), date: p.BirthDate, sex: p.Sex,
		country: p.BirthCountry, ids: prepareIDs(p.Identifiers),
		mother: prepareNames(p.MotherNames), father: prepareNames(p.FatherNames),
	}
}

func prepareSubject(s Subject) prepared {
	return preparePerson(Person{Names: s.Names, BirthDate: s.BirthDate, Sex: s.Sex, BirthCountry: s.BirthCountry,
		Identifiers: s.Identifiers, MotherNames: s.MotherNames, FatherNames: s.FatherNames})
}

// sufficient reports whether the subject can be searched for at all: a
// usable identifier, or names and a birth date (M2 last rule).
func (s *prepared) sufficient() bool {
	return len(s.ids) > 0 || len(s.names) > 0 && s.date.Known()
}

// Score components (M2). A component is known for a record when the record
// holds the data it compares; the margin is measured only over components
// known for both records, so that a record which cannot say (no mother's
// name on file, a year-only date) is never beaten by one that can.
const (
	cNames = iota
	cDate
	cSex
	cMother
	cFather
	cCountry
	cID
	nComp
)

// candidate is a passing record and its evidence.
type candidate struct {
	id    string
	score int
	comp  [nComp]int
	known [nComp]bool
	prec  int // the record's birth-date precision: 0 none, 1 year, 2 month, 3 day
}

// judge scores record r for subject s; pass is false when r is ruled out
// or the evidence is not enough (M2).
func judge(s, r *prepared) (c candidate, pass bool) {
	// > A candidate is ruled out by any contradiction …
	if (s.sex == SexMale || s.sex == SexFemale) && (r.sex == SexMale || r.sex == SexFemale) && s.sex != r.sex {
		return c, false
	}
	if !datesAgree(s.date, r.date) {
		return c, false
	}
	if s.country != "" && r.country != "" && s.country != r.country {
		return c, false
	}
	idMatch, idChecked, idConflict := compareIDs(s.ids, r.ids)
	if idConflict {
		return c, false
	}
	motherAgree, motherContra := parentsMeet(s.mother, r.mother)
	fatherAgree, fatherContra := parentsMeet(s.father, r.father)
	patroAgree, patroContra := patronymicsMeet(s.names, r.names)
	if motherContra || fatherContra || patroContra {
		return c, false
	}
	var nm nameMatch
	if len(s.names) > 0 && len(r.names) > 0 {
		nm = bestNames(s.names, r.names)
		if !nm.ok {
			return c, false
		}
		if patroAgree {
			nm.score += 2
		}
	}
	ds := dateScore(s.date, r.date)
	// > Otherwise it passes when an identifier with valid check digits
	// > matches, or one without check digits matches and a name or the full
	// > birth date agrees; or the names meet and the birth date agrees.
	switch {
	case idMatch && idChecked:
		c.comp[cID] = 20
	case idMatch && (nm.ok || ds == 4):
		c.comp[cID] = 10
	case nm.ok && s.date.Known() && r.date.Known():
	default:
		return c, false
	}
	c.id = r.id
	c.comp[cNames], c.known[cNames] = nm.score, true
	c.comp[cDate], c.known[cDate] = ds, r.date.Known()
	c.prec = boolInt(r.date.Known()) + boolInt(r.date.Month != 0) + boolInt(r.date.Full())
	c.known[cID] = true // a record without the number is beaten by the one that has it
	if s.sex != SexUnknown && s.sex == r.sex {
		c.comp[cSex] = 1
	}
	c.known[cSex] = r.sex == SexMale || r.sex == SexFemale
	if motherAgree {
		c.comp[cMother] = 3
	}
	c.known[cMother] = len(r.mother) > 0
	if fatherAgree {
		c.comp[cFather] = 2
	}
	c.known[cFather] = len(r.father) > 0
	if s.country != "" && s.country == r.country {
		c.comp[cCountry] = 1
	}
	c.known[cCountry] = r.country != ""
	for _, v := range c.comp {
		c.score += v
	}
	return c, true
}

// lead is how far a scores ahead of b over the components known for both,
// with the date compared only between records of the same date precision.
func lead(a, b *candidate) int {
	d := 0
	for k := range nComp {
		if a.known[k] && b.known[k] && (k != cDate || a.prec == b.prec) {
			d += a.comp[k] - b.comp[k]
		}
	}
	return d
}

// decide turns the passing candidates into a Result (M2).
func decide(pass []candidate) Result {
	if len(pass) == 0 {
		return Result{Outcome: NoMatch, Reason: reasonNone}
	}
	sort.Slice(pass, func(i, j int) bool {
		if pass[i].score != pass[j].score {
			return pass[i].score > pass[j].score
		}
		return pass[i].id < pass[j].id
	})
	close := 1
	for i := 1; i < len(pass); i++ {
		if lead(&pass[0], &pass[i]) < Margin {
			close++
		}
	}
	switch {
	case close == 1:
		return Result{Outcome: UniqueMatch, PersonID: pass[0].id, Score: pass[0].score, Reason: reasonUnique}
	case close <= MaxCandidates:
		return Result{Outcome: MultipleCandidates, Reason: reasonSeveral}
	}
	return Result{Outcome: InsufficientData, Reason: reasonTooMany}
}

// Match decides which of candidates the subject is (M2), comparing it with
// every one. Index.Query does the same over the records its keys retrieve.
func Match(subject Subject, candidates []Person) Result {
	s := prepareSubject(subject)
	if !s.sufficient() {
		return Result{Outcome: InsufficientData, Reason: reasonUnderstated}
	}
	recs := make([]prepared, len(candidates))
	names := newNameBook()
	for i, c := range candidates {
		recs[i] = preparePerson(c)
		names.addPerson(&recs[i])
	}
	names.mark(&s)
	var pass []candidate
	for i := range recs {
		if cand, ok := judge(&s, &recs[i]); ok {
			pass = append(pass, cand)
		}
	}
	return decide(pass)
}
