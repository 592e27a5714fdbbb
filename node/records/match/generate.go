package match

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Generate builds a deterministic synthetic test set: n registry records
// of Tajik, Uzbek, Kazakh, Kyrgyz and Turkish families (siblings sharing a
// family name and a mother, twins born the same day, cousins with the same
// given and family name born the same year) and n queries, most derived
// from a record with realistic variation, the rest about people not in the
// set. The same seed gives the same set.

// Query is a generated status.query subject and the record it is about
// ("" when the person is not in the set).
type Query struct {
	Subject Subject
	Truth   string
	// FullyIdentified: names in some script, a full birth date and sex.
	FullyIdentified bool
	Kind            string
}

// TestSet is what Generate returns.
type TestSet struct {
	People  []Person
	Queries []Query
}

// gperson is a generated person in its registry's own script.
type gperson struct {
	pool                        *pool
	given, family, father, patr string
	motherGiven, motherFamily   string
	sex                         int
	date                        Date
	id                          Identifier
}

type generator struct {
	rng      *rand.Rand
	people   []gperson
	exists   map[string]bool // given|family|date of every record, for the not-in-set queries
	idSerial int
	ids      map[string]bool
}

// Generate returns n records and n queries for seed.
func Generate(seed uint64, n int) TestSet {
	g := &generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), exists: map[string]bool{}, ids: map[string]bool{}}
	var families [][]int // indexes of each family's children
	for len(g.people) < n {
		p := &pools[g.rng.IntN(len(pools))]
		var cousinOf []int
		if len(families) > 0 && g.rng.IntN(4) == 0 {
			prev := families[len(families)-1]
			if g.people[prev[0]].pool == p {
				cousinOf = prev
			}
		}
		families = append(families, g.family(p, cousinOf, n))
	}
	ts := TestSet{People: make([]Person, len(g.people))}
	for i := range g.people {
		ts.People[i] = g.record(i)
	}
	for range n {
		ts.Queries = append(ts.Queries, g.query())
	}
	return ts
}

func (g *generator) pick(s []string) string { return s[g.rng.IntN(len(s))] }

// family adds the children of one couple; a cousin family shares the
// father's family name and names a child like a cousin born the same year.
func (g *generator) family(p *pool, cousins []int, limit int) []int {
	family := g.pick(p.families)
	father := g.pick(p.male)
	if cousins != nil {
		family = g.people[cousins[0]].family
	}
	motherGiven, motherFamily := g.pick(p.female), g.pick(p.families)
	base := 1950 + g.rng.IntN(62)
	used := map[string]bool{}
	var kids []int
	year := base
	for k := 0; k < 1+g.rng.IntN(4) && len(g.people) < limit; k++ {
		sex := 1 + g.rng.IntN(2)
		date := Date{year, 1 + g.rng.IntN(12), 1 + g.rng.IntN(28)}
		twins := g.rng.IntN(12) == 0
		for t := 0; t < 1+boolInt(twins) && len(g.people) < limit; t++ {
			if t == 1 {
				sex = 1 + g.rng.IntN(2)
			}
			names := p.male
			if sex == SexFemale {
				names = p.female
			}
			given := g.pick(names)
			if cousins != nil && k == 0 && t == 0 { // named like a cousin, born the same year
				c := g.people[cousins[g.rng.IntN(len(cousins))]]
				given, sex, date.Year = c.given, c.sex, c.date.Year
			}
			for used[given] {
				given = g.pick(names)
			}
			used[given] = true
			gp := gperson{pool: p, given: given, family: family, father: father, sex: sex, date: date,
				motherGiven: motherGiven, motherFamily: motherFamily}
			if sex == SexFemale {
				gp.family = feminineFamily(family)
			}
			if !p.latinNative {
				gp.patr = patronymicOfFather(father, sex)
			}
			if g.rng.IntN(5) != 0 {
				gp.id = g.newID(p.country, date, sex)
			}
			g.exists[existsKey(gp.given, gp.family, date)] = true
			kids = append(kids, len(g.people))
			g.people = append(g.people, gp)
		}
		year += 1 + g.rng.IntN(4)
	}
	return kids
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func existsKey(given, family string, d Date) string {
	return fmt.Sprintf("%s|%s|%d-%d-%d", given, family, d.Year, d.Month, d.Day)
}

// record is the registry's record of person i: its native-script name,
// often a Latin passport form too, the mother's name, the identifier.
func (g *generator) record(i int) Person {
	gp := g.people[i]
	r := Person{ID: RecordID(i), BirthDate: gp.date, Sex: gp.sex, BirthCountry: gp.pool.country}
	script := "Cyrl"
	if gp.pool.latinNative {
		script = "Latn"
	}
	r.Names = append(r.Names, Name{Given: gp.given, Family: gp.family, Patronymic: gp.patr,
		Full: strings.TrimSpace(gp.family + " " + gp.given + " " + gp.patr), Script: script})
	if !gp.pool.latinNative && g.rng.IntN(2) == 0 {
		sc := schemes[0] // the ICAO form of the passport
		if gp.pool.country == "UZ" {
			sc = schemes[3]
		}
		r.Names = append(r.Names, Name{Given: sc.transliterate(gp.given), Family: sc.transliterate(gp.family),
			Full: sc.transliterate(gp.given + " " + gp.family), Script: "Latn"})
	}
	if g.rng.IntN(7) != 0 {
		r.MotherNames = []Name{{Given: gp.motherGiven, Family: feminineFamily(gp.motherFamily),
			Full: gp.motherGiven + " " + feminineFamily(gp.motherFamily), Script: script}}
	}
	if gp.id.Scheme != "" {
		r.Identifiers = []Identifier{gp.id}
	}
	return r
}
