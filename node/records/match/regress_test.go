package match

import "testing"

// families holds the records behind the wrong unique matches the
// generated set found (DESIGN.md M2 "A name is not a typo of another",
// M1 "Patronymics"), each with the seed it came from.
var families = []Person{
	// seeds 2 and 8: Kurt Mehmet, whose absent brother is Ahmet.
	{ID: "kurt-mehmet", Names: []Name{{Given: "Mehmet", Family: "Kurt", Full: "Kurt Mehmet", Script: "Latn"}}, BirthDate: d(1988, 7, 28), Sex: 1, BirthCountry: "TR"},
	// seed 2: Demir Ahmet, whose absent brother is Mehmet.
	{ID: "demir-ahmet", Names: []Name{{Given: "Ahmet", Family: "Demir", Full: "Demir Ahmet", Script: "Latn"}}, BirthDate: d(2012, 1, 24), Sex: 1, BirthCountry: "TR"},
	// seed 3: Ҳасанов Ҳусан, whose absent twin is Hasan; Ҳасан is a name the registry holds.
	{ID: "hasanov-husan", Names: []Name{cyr("Ҳасанов", "Ҳусан", "Шарифович")}, BirthDate: d(2001, 7, 11), Sex: 1, BirthCountry: "TJ"},
	{ID: "gafurov-hasan", Names: []Name{cyr("Ғафуров", "Ҳасан", "Шарифович")}, BirthDate: d(2001, 3, 4), Sex: 1, BirthCountry: "TJ"},
	// seed 10: Осмонов Бектур; Үсөнов Бектур, born another year, shares his birthday.
	{ID: "osmonov-bektur", Names: []Name{cyr("Осмонов", "Бектур", "Мирланович")}, BirthDate: d(1991, 4, 12), Sex: 1, BirthCountry: "KG"},
	{ID: "usonov-bektur", Names: []Name{cyr("Үсөнов", "Бектур", "Алмазович")}, BirthDate: d(1989, 2, 3), Sex: 1, BirthCountry: "KG"},
	// seed 17: Өмүров Эрлан (with his passport form); Омаров Эрлан, born another year, shares his birthday.
	{ID: "omurov-erlan", Names: []Name{cyr("Өмүров", "Эрлан", "Алмазович"), {Given: "Erlan", Family: "Omurov", Full: "Erlan Omurov", Script: "Latn"}},
		BirthDate: d(1965, 6, 2), Sex: 1, BirthCountry: "KG"},
	{ID: "omarov-erlan", Names: []Name{cyr("Омаров", "Эрлан", "Серікович")}, BirthDate: d(1963, 9, 9), Sex: 1, BirthCountry: "KZ"},
	// seed 15: Раҳимов Тоҳир Санжарович, whose passport form leaves the patronymic out.
	{ID: "rahimov-sanjarovich", Names: []Name{cyr("Раҳимов", "Тоҳир", "Санжарович"), {Given: "Tohir", Family: "Rahimov", Full: "Tohir Rahimov", Script: "Latn"}},
		BirthDate: d(1992, 3, 6), Sex: 1, BirthCountry: "UZ"},
	// seed 1: Бахтиёр, whose ICAO passport form Bakhtier the registry holds for one record.
	{ID: "gafurov-bakhtiyor", Names: []Name{cyr("Ғафуров", "Бахтиёр", "Комронович"), {Given: "Bakhtier", Family: "Gafurov", Full: "Bakhtier Gafurov", Script: "Latn"}},
		BirthDate: d(1970, 5, 5), Sex: 1, BirthCountry: "TJ"},
	{ID: "kodirov-bakhtiyor", Names: []Name{cyr("Қодиров", "Бахтиёр", "Ҷаҳонгирович")}, BirthDate: d(1977, 8, 19), Sex: 1, BirthCountry: "TJ"},
	// seed 2: Шаршеналиева Жылдыз; her brother Шаршеналиев is in the registry.
	{ID: "sharshenalieva-jyldyz", Names: []Name{cyr("Шаршеналиева", "Жылдыз", "Нурбековна")}, BirthDate: d(1999, 10, 1), Sex: 2, BirthCountry: "KG"},
	{ID: "sharshenaliev-nurbek", Names: []Name{cyr("Шаршеналиев", "Азамат", "Нурбекович")}, BirthDate: d(2002, 4, 4), Sex: 1, BirthCountry: "KG"},
}

func TestNotInTheRegistry(t *testing.T) {
	for _, c := range []struct {
		name    string
		subject Subject
		want    Outcome
		id      string
	}{
		// M2 "A name is not a typo of another".
		{"absent sibling: Ahmet is a name, not a typo of Mehmet (seed 2)",
			Subject{Names: []Name{full("KURT AHMET", "Latn")}, BirthDate: d(1988, 7, 28), Sex: 1}, NoMatch, ""},
		{"absent sibling: Mehmet is a name, not a typo of Ahmet (seed 2)",
			Subject{Names: []Name{{Given: "DEMIR", Family: "MEHMET", Full: "MEHMET DEMIR", Script: "Latn"}}, BirthDate: d(2012, 1, 24), Sex: 1}, NoMatch, ""},
		{"absent twin: Hasan is a name, not a typo of Husan (seed 3)",
			Subject{Names: []Name{full("Hasanov Hasan", "Latn")}, BirthDate: d(2001, 7, 11), Sex: 1}, NoMatch, ""},
		{"other family, same birthday: Usonov is not Osmonov (seed 10)",
			Subject{Names: []Name{full("Usonov Bektur", "Latn")}, BirthDate: d(1991, 4, 12), Sex: 1}, NoMatch, ""},
		{"other family, same birthday: Omarov is not Omurov (seed 17)",
			Subject{Names: []Name{full("Omarov Erlan", "Latn")}, BirthDate: d(1965, 6, 2), Sex: 1}, NoMatch, ""},
		// M1 "Patronymics": the person's, across the record's name forms.
		{"another patronymic rules out, though the passport form has none (seed 15)",
			Subject{Names: []Name{{Given: "Tokhir", Family: "Rakhimov", Patronymic: "Ekubovich", Full: "Tokhir Rakhimov", Script: "Latn"}}, BirthDate: d(1992, 0, 0), Sex: 1}, NoMatch, ""},
		// What the rule keeps.
		{"the same patronymic across name forms agrees",
			Subject{Names: []Name{{Given: "Tokhir", Family: "Rakhimov", Patronymic: "Sanjarovich", Full: "Tokhir Rakhimov", Script: "Latn"}}, BirthDate: d(1992, 0, 0), Sex: 1}, UniqueMatch, "rahimov-sanjarovich"},
		{"a spelling one record holds for a name is that name: Bakhtier = Бахтиёр (seed 1)",
			Subject{Names: []Name{full("Kodirov Bakhtier", "Latn")}, BirthDate: d(1977, 8, 19), Sex: 1}, UniqueMatch, "kodirov-bakhtiyor"},
		{"a family name's masculine form is a gender form, not another name (seed 2)",
			Subject{Names: []Name{full("Sharshenaliev Zhyldyz", "Latn")}, BirthDate: d(1999, 10, 1), Sex: 2}, UniqueMatch, "sharshenalieva-jyldyz"},
		{"a typo that is no name the registry holds is still a typo",
			Subject{Names: []Name{full("Hasanov Husna", "Latn")}, BirthDate: d(2001, 7, 11), Sex: 1}, UniqueMatch, "hasanov-husan"},
		{"the exact name still matches",
			Subject{Names: []Name{full("Kurt Mehmet", "Latn")}, BirthDate: d(1988, 7, 28), Sex: 1}, UniqueMatch, "kurt-mehmet"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, got := range []Result{Match(c.subject, families), NewIndex(families).Query(c.subject)} {
				if got.Outcome != c.want || got.PersonID != c.id {
					t.Fatalf("got %+v, want %s %q", got, c.want, c.id)
				}
			}
		})
	}
}

// TestNameBookIsTheRegistrys: the rule reads the records, not a list: with
// no Ahmet in the registry, "Kurt Ahmet" is read as a typo of Kurt Mehmet.
func TestNameBookIsTheRegistrys(t *testing.T) {
	s := Subject{Names: []Name{full("KURT AHMET", "Latn")}, BirthDate: d(1988, 7, 28), Sex: 1}
	got := Match(s, families[:1])
	if got.Outcome != UniqueMatch || got.PersonID != "kurt-mehmet" {
		t.Fatalf("got %+v", got)
	}
}

func TestGenderForms(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"iusupuv", "iusupuva", true}, {"isaav", "isaava", true}, {"ilin", "ilina", true},
		{"iusupuva", "iusupuv", true}, {"aziz", "aziza", false}, {"malik", "malika", false}, {"iusupuv", "iusupuv", false},
	} {
		if got := genderForms(c.a, c.b); got != c.want {
			t.Errorf("genderForms(%q, %q) = %v", c.a, c.b, got)
		}
	}
}
