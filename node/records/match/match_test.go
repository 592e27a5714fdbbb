package match

import (
	"strings"
	"testing"
)

func cyr(family, given, patro string) Name {
	return Name{Family: family, Given: given, Patronymic: patro, Full: family + " " + given + " " + patro, Script: "Cyrl"}
}

func full(s, script string) Name { return Name{Full: s, Script: script} }

func d(y, m, dd int) Date { return Date{y, m, dd} }

// registry is a small family: twins, a sibling, a same-name cousin.
var registry = []Person{
	{ID: "dilnoza", Names: []Name{cyr("Юсупова", "Дилноза", "Рустамовна")}, BirthDate: d(1994, 9, 12), Sex: 2,
		MotherNames: []Name{full("Гулнора Каримова", "Cyrl")}},
	{ID: "hasan", Names: []Name{cyr("Ғафуров", "Ҳасан", "Шарифович")}, BirthDate: d(2001, 3, 4), Sex: 1,
		MotherNames: []Name{full("Мавҷуда Шарифзода", "Cyrl")}},
	{ID: "husan", Names: []Name{cyr("Ғафуров", "Ҳусан", "Шарифович")}, BirthDate: d(2001, 3, 4), Sex: 1,
		MotherNames: []Name{full("Мавҷуда Шарифзода", "Cyrl")}},
	{ID: "alisher1", Names: []Name{full("Alisher Qosimov", "Latn")}, BirthDate: d(1990, 2, 1), Sex: 1,
		MotherNames: []Name{full("Nodira Qosimova", "Latn")}},
	{ID: "alisher2", Names: []Name{full("Alisher Qosimov", "Latn")}, BirthDate: d(1990, 11, 20), Sex: 1,
		MotherNames: []Name{full("Shahnoza Qosimova", "Latn")}},
	{ID: "ismail", Names: []Name{{Given: "İsmail", Family: "Işık", Full: "İsmail Işık", Script: "Latn"}}, BirthDate: d(1985, 6, 30), Sex: 1,
		Identifiers: []Identifier{{Scheme: "TR-TCKN", Value: "10000000146", Country: "TR"}}},
	{ID: "gulomov", Names: []Name{full("Gʻulomov Oʻktam", "Latn")}, BirthDate: d(1979, 1, 15), Sex: 1},
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		name    string
		subject Subject
		want    Outcome
		id      string
	}{
		{"unique match", Subject{Names: []Name{cyr("Юсупова", "Дилноза", "")}, BirthDate: d(1994, 9, 12), Sex: 2}, UniqueMatch, "dilnoza"},
		{"no match: same name other year", Subject{Names: []Name{cyr("Юсупова", "Дилноза", "")}, BirthDate: d(1995, 9, 12)}, NoMatch, ""},
		{"no match: other sex", Subject{Names: []Name{cyr("Юсупова", "Дилноза", "")}, BirthDate: d(1994, 9, 12), Sex: 1}, NoMatch, ""},
		{"Latin query, Cyrillic record", Subject{Names: []Name{full("Dilnoza Yusupova", "Latn")}, BirthDate: d(1994, 9, 12)}, UniqueMatch, "dilnoza"},
		{"ICAO transliteration", Subject{Names: []Name{full("IUSUPOVA DILNOZA", "Latn")}, BirthDate: d(1994, 9, 12)}, UniqueMatch, "dilnoza"},
		{"Jusupova within one edit", Subject{Names: []Name{full("Dilnoza Jusupova", "Latn")}, BirthDate: d(1994, 9, 12)}, UniqueMatch, "dilnoza"},
		{"Cyrillic query, Latin record", Subject{Names: []Name{full("Алишер Косимов", "Cyrl")}, BirthDate: d(1990, 2, 1)}, UniqueMatch, "alisher1"},
		{"Tajik letters: Ғафуров Ҳасан as Gafurov Khasan", Subject{Names: []Name{full("Khasan Gafurov", "Latn")}, BirthDate: d(2001, 3, 4)}, UniqueMatch, "hasan"},
		{"G'afurov Hasan", Subject{Names: []Name{full("G'afurov Hasan", "Latn")}, BirthDate: d(2001, 3, 4)}, UniqueMatch, "hasan"},
		{"year-only date vs full date", Subject{Names: []Name{full("Yusupova Dilnoza", "Latn")}, BirthDate: d(1994, 0, 0)}, UniqueMatch, "dilnoza"},
		{"year-month date vs full date", Subject{Names: []Name{full("Yusupova Dilnoza", "Latn")}, BirthDate: d(1994, 9, 0)}, UniqueMatch, "dilnoza"},
		{"year-month outside", Subject{Names: []Name{full("Yusupova Dilnoza", "Latn")}, BirthDate: d(1994, 8, 0)}, NoMatch, ""},
		{"twins not confused: Hasan", Subject{Names: []Name{full("Hasan Gafurov", "Latn")}, BirthDate: d(2001, 3, 4), Sex: 1}, UniqueMatch, "hasan"},
		{"twins not confused: Husan", Subject{Names: []Name{full("Husan Gafurov", "Latn")}, BirthDate: d(2001, 3, 4), Sex: 1}, UniqueMatch, "husan"},
		{"cousins with a year only: several", Subject{Names: []Name{full("Alisher Qosimov", "Latn")}, BirthDate: d(1990, 0, 0)}, MultipleCandidates, ""},
		{"cousins told apart by the mother", Subject{Names: []Name{full("Alisher Qosimov", "Latn")}, BirthDate: d(1990, 0, 0), MotherNames: []Name{full("Shahnoza", "Latn")}}, UniqueMatch, "alisher2"},
		{"cousins told apart by the full date", Subject{Names: []Name{full("Qosimov Alisher", "Latn")}, BirthDate: d(1990, 11, 20)}, UniqueMatch, "alisher2"},
		{"swapped name order, patronymic absent", Subject{Names: []Name{{Given: "Yusupova", Family: "Dilnoza", Full: "x", Script: "Latn"}}, BirthDate: d(1994, 9, 12)}, UniqueMatch, "dilnoza"},
		{"other patronymic rules out", Subject{Names: []Name{full("Yusupova Dilnoza Alievna", "Latn")}, BirthDate: d(1994, 9, 12)}, NoMatch, ""},
		{"patronymic as a word (qizi)", Subject{Names: []Name{full("Yusupova Dilnoza Rustam qizi", "Latn")}, BirthDate: d(1994, 9, 12)}, UniqueMatch, "dilnoza"},
		{"Turkish İ/ı upper case", Subject{Names: []Name{full("ISMAIL ISIK", "Latn")}, BirthDate: d(1985, 6, 30)}, UniqueMatch, "ismail"},
		{"Turkish İ/ı Turkish capitals", Subject{Names: []Name{full("İSMAİL IŞIK", "Latn")}, BirthDate: d(1985, 0, 0)}, UniqueMatch, "ismail"},
		{"Uzbek ʻ as apostrophe", Subject{Names: []Name{full("G'ulomov O'ktam", "Latn")}, BirthDate: d(1979, 1, 15)}, UniqueMatch, "gulomov"},
		{"Uzbek ʻ dropped", Subject{Names: []Name{full("Gulomov Oktam", "Latn")}, BirthDate: d(1979, 0, 0)}, UniqueMatch, "gulomov"},
		{"Uzbek ʻ in Cyrillic", Subject{Names: []Name{full("Ғуломов Ўктам", "Cyrl")}, BirthDate: d(1979, 1, 15)}, UniqueMatch, "gulomov"},
		{"identifier alone", Subject{Identifiers: []Identifier{{Scheme: "TR-TCKN", Value: "10000000146"}}}, UniqueMatch, "ismail"},
		{"identifier with bad check digit ignored as evidence", Subject{Identifiers: []Identifier{{Scheme: "TR-TCKN", Value: "10000000147"}}}, InsufficientData, ""},
		{"bad check digit does not rule out", Subject{Names: []Name{full("Ismail Isik", "Latn")}, BirthDate: d(1985, 6, 30), Identifiers: []Identifier{{Scheme: "TR-TCKN", Value: "10000000147"}}}, UniqueMatch, "ismail"},
		{"identifier contradicted by sex", Subject{Identifiers: []Identifier{{Scheme: "TR-TCKN", Value: "10000000146"}}, Sex: 2}, NoMatch, ""},
		{"different lifelong identifier rules out", Subject{Names: []Name{full("Ismail Isik", "Latn")}, BirthDate: d(1985, 6, 30), Identifiers: []Identifier{{Scheme: "TR-TCKN", Value: "10000000078"}}}, NoMatch, ""},
		{"insufficient data: names without a date", Subject{Names: []Name{full("Dilnoza Yusupova", "Latn")}}, InsufficientData, ""},
		{"insufficient data: nothing", Subject{}, InsufficientData, ""},
		{"one given name is not enough", Subject{Names: []Name{full("Dilnoza", "Latn")}, BirthDate: d(1994, 9, 12)}, NoMatch, ""},
		{"Arabic script skeleton", Subject{Names: []Name{full("دلنوزه یوسوپوا", "Arab")}, BirthDate: d(1994, 9, 12)}, UniqueMatch, "dilnoza"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, got := range []Result{Match(c.subject, registry), NewIndex(registry).Query(c.subject)} {
				if got.Outcome != c.want || got.PersonID != c.id {
					t.Fatalf("got %+v, want %s %q", got, c.want, c.id)
				}
			}
		})
	}
}

func TestSeveralCandidatesLeakNothing(t *testing.T) {
	got := Match(Subject{Names: []Name{full("Alisher Qosimov", "Latn")}, BirthDate: d(1990, 0, 0)}, registry)
	if got.Outcome != MultipleCandidates || got.PersonID != "" || got.Score != 0 {
		t.Fatalf("got %+v", got)
	}
	for _, p := range registry {
		if strings.Contains(got.Reason, p.ID) {
			t.Fatalf("reason %q names %s", got.Reason, p.ID)
		}
	}
}

func TestTooManyIsInsufficientData(t *testing.T) {
	var many []Person
	for i := range 6 {
		many = append(many, Person{ID: string(rune('a' + i)), Names: []Name{full("Aziz Karimov", "Latn")}, BirthDate: d(1990, 1+i, 1)})
	}
	if got := NewIndex(many).Query(Subject{Names: []Name{full("Karimov Aziz", "Latn")}, BirthDate: d(1990, 0, 0)}); got.Outcome != InsufficientData {
		t.Fatalf("got %+v", got)
	}
}

func TestResultDoesNotDependOnOrder(t *testing.T) {
	s := Subject{Names: []Name{full("Alisher Qosimov", "Latn")}, BirthDate: d(1990, 0, 0), MotherNames: []Name{full("Nodira", "Latn")}}
	rev := make([]Person, len(registry))
	for i, p := range registry {
		rev[len(rev)-1-i] = p
	}
	if a, b := Match(s, registry), Match(s, rev); a != b {
		t.Fatalf("%+v != %+v", a, b)
	}
}

func TestKeysMeet(t *testing.T) {
	for _, group := range [][]string{
		{"Шарифзода", "Sharifzoda", "Sharifzade"},
		{"Юсупова", "Yusupova", "Iusupova", "YUSUPOVA"},
		{"Хуҷанд", "Khujand", "Xo'jand", "Xoʻjand"},
		{"Ғафуров", "Gafurov", "Ghafurov", "G'afurov", "Gʻafurov"},
		{"Қосимов", "Kosimov", "Qosimov"},
		{"Ҳасан", "Hasan", "Khasan", "Xasan"},
		{"Жанар", "Zhanar", "Janar"},
		{"Әлия", "Aliya", "Äliia", "Alia"},
		{"Өмүрбек", "Omurbek", "Ömürbek"},
		{"Айбек", "Aybek", "Aibek"},
		{"Muhammad", "Muhamad", "Мухаммад"},
		{"Işık", "IŞIK", "ışık"},
	} {
		want := keyOf(semanticFold(group[0])).key
		for _, s := range group[1:] {
			if got := keyOf(semanticFold(s)).key; got != want {
				t.Errorf("%s → %q, %s → %q", group[0], want, s, got)
			}
		}
	}
}

func TestASCIIfiedTurkishWithinOneEdit(t *testing.T) {
	if tokenScore(keyOf(semanticFold("Şahin")), keyOf(semanticFold("SAHIN"))) != scoreOneEdit {
		t.Fatal("Şahin and SAHIN (ICAO) should meet within one edit")
	}
}

func semanticFold(s string) string { return words(s)[0] }

func TestWithinOneEdit(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"abc", "abc", true}, {"abc", "abd", false}, {"abt", "abd", true}, {"abc", "acb", true}, {"abc", "ab", true},
		{"abc", "xabc", true}, {"abc", "cab", false}, {"abc", "a", false}, {"", "a", true}, {"ab", "ba", true},
	} {
		if got := withinOneEdit(c.a, c.b); got != c.want {
			t.Errorf("withinOneEdit(%q, %q) = %v", c.a, c.b, got)
		}
	}
}
