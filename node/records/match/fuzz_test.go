package match

import "testing"

// FuzzMatch feeds arbitrary subject JSON through ParseSubjectJSON, Match
// and Index.Query over two registries: no panic, and the two decide alike.
func FuzzMatch(f *testing.F) {
	for _, s := range []string{
		`{"names":[{"script":"Latn","fullName":"Dilnoza Yusupova"}],"birthDate":"1994"}`,
		`{"names":[{"script":"Arab","fullName":"دلنوزه یوسوپوا"}],"birthDate":"1994-09-12","sex":2}`,
		`{"identifiers":[{"scheme":"TR-TCKN","value":"10000000146"}]}`,
		`{"names":[{"script":"Latn","fullName":"Gʻulomov Oʻktam Rustam oʻgʻli"}],"birthDate":"1979-01"}`,
		`{"names":[{"script":"Latn","fullName":"KURT AHMET"}],"birthDate":"1988-07-28","sex":1}`,
		`{"names":[{"script":"Latn","givenNames":"Tokhir","familyName":"Rakhimov","patronymic":"Ekubovich"}],"birthDate":"1992"}`,
		`{"names":[{"script":"Latn","fullName":"Sharshenaliev Zhyldyz"}],"birthDate":"1999-10-01","sex":2}`,
	} {
		f.Add([]byte(s))
	}
	idx, fam := NewIndex(registry), NewIndex(families)
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := ParseSubjectJSON(raw)
		if err != nil {
			return
		}
		a, b := Match(s, registry), idx.Query(s)
		if a != b {
			t.Fatalf("Match %+v, Query %+v", a, b)
		}
		if a.Outcome != UniqueMatch && a.PersonID != "" {
			t.Fatalf("%+v names a record", a)
		}
		if a, b := Match(s, families), fam.Query(s); a != b {
			t.Fatalf("families: Match %+v, Query %+v", a, b)
		}
	})
}
