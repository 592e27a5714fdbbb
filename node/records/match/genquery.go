package match

import (
	"slices"
	"strings"
	"unicode"
)

// The synthetic queries: 85 % about a record, written as a responder
// would (another script or transliteration scheme, the name order swapped,
// the patronymic left out, a typo, a year-only or year-month date, only an
// identifier, the mother's name added); 15 % about people not in the set
// (the same name born another year, a sibling who does not exist, an
// unknown identifier, a stranger).

func (g *generator) query() Query {
	if g.rng.IntN(100) < 15 {
		return g.absent()
	}
	i := g.rng.IntN(len(g.people))
	gp := g.people[i]
	q := Query{Truth: g.idOf(i), Kind: "derived"}
	s := &q.Subject
	idOnly := gp.id.Scheme != "" && g.rng.IntN(10) == 0
	if idOnly {
		s.Identifiers = []Identifier{gp.id}
		q.Kind = "identifier-only"
		return q
	}
	render := g.renderer(gp)
	s.Names = []Name{g.name(render, gp.given, gp.family, gp.patr)}
	s.BirthDate = gp.date
	switch r := g.rng.IntN(100); {
	case r < 20:
		s.BirthDate = Date{Year: gp.date.Year}
	case r < 35:
		s.BirthDate = Date{Year: gp.date.Year, Month: gp.date.Month}
	}
	if g.rng.IntN(5) != 0 {
		s.Sex = gp.sex
	}
	if g.rng.IntN(5) == 0 {
		s.MotherNames = []Name{{Full: render(gp.motherGiven), Script: "Latn"}}
	}
	if g.rng.IntN(3) == 0 {
		s.BirthCountry = gp.pool.country
	}
	if gp.id.Scheme != "" && g.rng.IntN(8) == 0 {
		id := gp.id
		if g.rng.IntN(2) == 0 && (id.Scheme == "TR-TCKN" || id.Scheme == "KZ-IIN" || id.Scheme == "UZ-PINFL") {
			id.Value = spoil(id.Value) // a mistyped number: no evidence
		}
		s.Identifiers = []Identifier{id}
	}
	q.FullyIdentified = s.BirthDate.Full() && s.Sex != SexUnknown
	return q
}

func (g *generator) idOf(i int) string { return RecordID(i) }

// RecordID is the ID Generate gives its i-th record: P000000, P000001 …
func RecordID(i int) string {
	const digits = "0123456789"
	b := []byte("P000000")
	for k := len(b) - 1; k > 0 && i > 0; k-- {
		b[k] = digits[i%10]
		i /= 10
	}
	return string(b)
}

// renderer picks how the responder writes this person's names: the
// registry's own script, a transliteration scheme, or for Turkish names the
// machine-readable upper case.
func (g *generator) renderer(gp gperson) func(string) string {
	if gp.pool.latinNative {
		switch g.rng.IntN(3) {
		case 0:
			return asciiTurkish
		case 1:
			return func(s string) string { return strings.ToUpperSpecial(unicode.TurkishCase, s) }
		}
		return func(s string) string { return s }
	}
	if g.rng.IntN(5) == 0 {
		return func(s string) string { return s }
	}
	sc := schemes[g.rng.IntN(len(schemes))]
	upper := g.rng.IntN(3) == 0
	return func(s string) string {
		out := sc.transliterate(s)
		if upper {
			out = strings.ToUpper(out)
		}
		return out
	}
}

// name writes given, family and patronymic in one of the shapes a query
// takes, sometimes with one typo.
func (g *generator) name(render func(string) string, given, family, patr string) Name {
	given, family = render(given), render(family)
	if patr != "" && g.rng.IntN(3) == 0 {
		patr = render(patr)
	} else {
		patr = ""
	}
	if g.rng.IntN(16) == 0 {
		if len([]rune(given)) >= len([]rune(family)) {
			given = g.typo(given)
		} else {
			family = g.typo(family)
		}
	}
	switch g.rng.IntN(4) {
	case 0:
		return Name{Full: strings.TrimSpace(given + " " + family), Script: "Latn"}
	case 1:
		return Name{Full: strings.TrimSpace(family + " " + given + " " + patr), Script: "Latn"}
	case 2: // the given and family fields swapped by the clerk
		return Name{Given: family, Family: given, Patronymic: patr, Full: given + " " + family, Script: "Latn"}
	}
	return Name{Given: given, Family: family, Patronymic: patr, Full: given + " " + family, Script: "Latn"}
}

// typo makes one edit in a word of six letters or more: a letter dropped,
// two swapped, or one doubled.
func (g *generator) typo(s string) string {
	r := []rune(s)
	if len(r) < 6 {
		return s
	}
	k := 1 + g.rng.IntN(len(r)-2)
	switch g.rng.IntN(3) {
	case 0:
		r = slices.Delete(r, k, k+1)
	case 1:
		r[k], r[k+1] = r[k+1], r[k]
	default:
		r = slices.Insert(r, k, r[k])
	}
	return string(r)
}

// absent is a query about someone not in the set.
func (g *generator) absent() Query {
	gp := g.people[g.rng.IntN(len(g.people))]
	render := g.renderer(gp)
	q := Query{Kind: "absent"}
	s := &q.Subject
	switch g.rng.IntN(4) {
	case 0: // the same name, born another year
		q.Kind = "absent-other-year"
		d := gp.date
		for g.exists[existsKey(gp.given, gp.family, d)] {
			d = Date{gp.date.Year + 1 + g.rng.IntN(3), 1 + g.rng.IntN(12), 1 + g.rng.IntN(28)}
		}
		s.Names = []Name{g.name(render, gp.given, gp.family, "")}
		s.BirthDate, s.Sex = d, gp.sex
	case 1: // a sibling or twin who does not exist: same family and date
		q.Kind = "absent-sibling"
		names := gp.pool.male
		if gp.sex == SexFemale {
			names = gp.pool.female
		}
		given := gp.given
		for g.exists[existsKey(given, gp.family, gp.date)] || given == gp.given {
			given = g.pick(names)
		}
		s.Names = []Name{g.name(render, given, gp.family, "")}
		s.BirthDate, s.Sex = gp.date, gp.sex
	case 2: // a valid identifier nobody in the set has
		q.Kind = "absent-identifier"
		s.Identifiers = []Identifier{g.newID(gp.pool.country, gp.date, gp.sex)}
	default: // a stranger from the same pools
		q.Kind = "absent-stranger"
		p := &pools[g.rng.IntN(len(pools))]
		given, family := g.pick(p.male), g.pick(p.families)
		d := Date{1950 + g.rng.IntN(70), 1 + g.rng.IntN(12), 1 + g.rng.IntN(28)}
		for g.exists[existsKey(given, family, d)] {
			d.Day = 1 + g.rng.IntN(28)
		}
		s.Names = []Name{g.name(g.renderer(gperson{pool: p}), given, family, "")}
		s.BirthDate, s.Sex = d, SexMale
	}
	return q
}
