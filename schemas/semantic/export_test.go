package semantic

import "testing"

func TestParsePartialDateExported(t *testing.T) {
	for _, c := range []struct {
		in      string
		y, m, d int
		ok      bool
	}{
		{"1994", 1994, 0, 0, true},
		{"1994-09", 1994, 9, 0, true},
		{"2024-02-29", 2024, 2, 29, true},
		{"1995-02-29", 0, 0, 0, false},
		{"94", 0, 0, 0, false},
	} {
		y, m, d, ok := ParsePartialDate(c.in)
		if y != c.y || m != c.m || d != c.d || ok != c.ok {
			t.Errorf("ParsePartialDate(%q) = %d %d %d %v", c.in, y, m, d, ok)
		}
	}
}

func TestCheckIdentifierExported(t *testing.T) {
	for _, c := range []struct {
		scheme, value string
		want          IdentifierCheck
	}{
		{"TR-TCKN", "10000000146", CheckValid},
		{"TR-TCKN", "10000000147", CheckInvalid},
		{"TR-TCKN", "1000000014", CheckNone},
		{"PASSPORT", "AB123", CheckNone},
	} {
		if got := CheckIdentifier(c.scheme, c.value); got != c.want {
			t.Errorf("CheckIdentifier(%s, %s) = %d, want %d", c.scheme, c.value, got, c.want)
		}
	}
}
