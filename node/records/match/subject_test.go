package match

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseSubjectReadsTheSchemaFields(t *testing.T) {
	for _, c := range []struct {
		name, json string
		want       Subject
	}{
		{"names with parts", `{"names":[{"script":"Cyrl","language":"tg","use":"registered","transliterationScheme":"other","fullName":"Юсупова Дилноза","familyName":"Юсупова","givenNames":"Дилноза","patronymic":"Рустамовна"}],"birthDate":"1994-09-12"}`,
			Subject{Names: []Name{{Given: "Дилноза", Family: "Юсупова", Patronymic: "Рустамовна", Full: "Юсупова Дилноза", Script: "Cyrl", Language: "tg"}}, BirthDate: Date{1994, 9, 12}}},
		{"year-only date and sex", `{"names":[{"script":"Latn","fullName":"A B"}],"birthDate":"1994","sex":2}`,
			Subject{Names: []Name{{Full: "A B", Script: "Latn"}}, BirthDate: Date{Year: 1994}, Sex: 2}},
		{"year-month date", `{"names":[{"script":"Latn","fullName":"A B"}],"birthDate":"1994-09"}`,
			Subject{Names: []Name{{Full: "A B", Script: "Latn"}}, BirthDate: Date{1994, 9, 0}}},
		{"identifiers and birthPlace", `{"identifiers":[{"scheme":"KZ-IIN","value":"900101300001","issuingCountry":"KZ"}],"birthPlace":{"country":"KZ","locality":"Almaty"}}`,
			Subject{Identifiers: []Identifier{{"KZ-IIN", "900101300001", "KZ"}}, BirthCountry: "KZ"}},
		{"parents", `{"identifiers":[{"scheme":"PASSPORT","value":"X1"}],"motherNames":[{"script":"Latn","fullName":"Gulnora"}],"fatherNames":[{"script":"Latn","fullName":"Rustam"}]}`,
			Subject{Identifiers: []Identifier{{Scheme: "PASSPORT", Value: "X1"}}, MotherNames: []Name{{Full: "Gulnora", Script: "Latn"}}, FatherNames: []Name{{Full: "Rustam", Script: "Latn"}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var m map[string]any
			d := json.NewDecoder(strings.NewReader(c.json))
			d.UseNumber()
			if err := d.Decode(&m); err != nil {
				t.Fatal(err)
			}
			got, err := ParseSubject(m)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestParseSubjectRefusesWhatItCannotRead(t *testing.T) {
	for _, in := range []string{`{"birthDate":"1994-13"}`, `{"birthDate":"94"}`, `{"sex":3}`, `{"sex":"x"}`, `{"names":"x"}`, `[]`} {
		if _, err := ParseSubjectJSON([]byte(in)); !errors.Is(err, ErrSubject) {
			t.Errorf("%s: err = %v, want ErrSubject", in, err)
		}
	}
}
