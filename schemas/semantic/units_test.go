package semantic

import (
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		prec int
	}{
		{"2024-02-29", true, precDay}, // leap day
		{"2000-02-29", true, precDay}, // divisible by 400
		{"1995-02-29", false, 0},
		{"1900-02-29", false, 0}, // divisible by 100, not 400
		{"2023-02-30", false, 0},
		{"2023-04-31", false, 0},
		{"2023-12-31", true, precDay},
		{"1990", true, precYear},
		{"1990-07", true, precMonth},
		{"1990-00", false, 0},
		{"1990-13", false, 0},
		{"1990-07-00", false, 0},
		{"199", false, 0},
		{"1990-7-01", false, 0},
		{"1990/07/01", false, 0},
		{"+990-07-01", false, 0},
		{"", false, 0},
	}
	for _, tt := range tests {
		d, ok := parseDate(tt.in)
		if ok != tt.ok || (ok && d.prec != tt.prec) {
			t.Errorf("parseDate(%q) = %+v, %v; want ok=%v prec=%d", tt.in, d, ok, tt.ok, tt.prec)
		}
	}
}

func mustDate(t *testing.T, s string) pdate {
	t.Helper()
	d, ok := parseDate(s)
	if !ok {
		t.Fatalf("bad date %q", s)
	}
	return d
}

func TestCmpDateAtCommonPrecision(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"2024-03-14", "2024-03-15", -1},
		{"2024-03-15", "2024-03-15", 0},
		{"2024", "2024-12-31", 0}, // never padded: "2024" is not 2024-01-01
		{"2024", "2025-01-01", -1},
		{"2024-03", "2024-03-01", 0},
		{"2024-03", "2024-02-29", 1},
		{"2024-03", "2024", 0},
		{"1999-12", "2000", -1},
	}
	for _, tt := range tests {
		if got := cmpDate(mustDate(t, tt.a), mustDate(t, tt.b)); got != tt.want {
			t.Errorf("cmpDate(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := cmpDate(mustDate(t, tt.b), mustDate(t, tt.a)); got != -tt.want {
			t.Errorf("cmpDate(%s, %s) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestAgeRange(t *testing.T) {
	tests := []struct {
		birth, at string
		lo, hi    int
	}{
		{"1996-07-02", "2024-03-14", 27, 27},
		{"1996-03-14", "2024-03-14", 28, 28}, // birthday
		{"1996-02-29", "2023-02-28", 26, 26}, // leap-day birthday falls on 1 March in common years
		{"1996-02-29", "2023-03-01", 27, 27},
		{"1996-02-29", "2024-02-29", 28, 28},
		{"1996", "2024-03-14", 27, 28},
		{"1996-07", "2024-07-15", 27, 28},
		{"1996-07-02", "2024", 27, 28},
		{"1938", "2025-01", 86, 87},
	}
	for _, tt := range tests {
		lo, hi := ageRange(mustDate(t, tt.birth), mustDate(t, tt.at))
		if lo != tt.lo || hi != tt.hi {
			t.Errorf("ageRange(%s, %s) = %d..%d, want %d..%d", tt.birth, tt.at, lo, hi, tt.lo, tt.hi)
		}
	}
}

func TestLatestDate(t *testing.T) {
	tests := []struct{ ts, want string }{
		{"2024-03-20T10:15:00+03:00", "2024-03-20"},
		{"2024-03-20T12:59:59+03:00", "2024-03-20"},
		{"2024-03-20T13:00:00+03:00", "2024-03-21"}, // 10:00Z is midnight in UTC+14
		{"2024-03-20T23:30:00+06:00", "2024-03-21"},
		{"2024-12-31T23:00:00Z", "2025-01-01"},
		{"2024-03-20T23:30:00-12:00", "2024-03-22"}, // Baker Island is 26 hours behind Kiritimati
	}
	for _, tt := range tests {
		ts, err := time.Parse(time.RFC3339, tt.ts)
		if err != nil {
			t.Fatal(err)
		}
		if got := latestDate(ts); got != mustDate(t, tt.want) {
			t.Errorf("latestDate(%s) = %+v, want %s", tt.ts, got, tt.want)
		}
	}
}

// Identifier vectors are built by hand from the published algorithms (the
// arithmetic is in the comments) and from numbers published as valid.
func TestTCKN(t *testing.T) {
	valid := []string{
		"10000000146", // published; 7·(1+0+0+0+1) − 0 = 14 → 4; 1+1+4 = 6
		"17463529030", // 7·(1+4+3+2+0) − (7+6+5+9) = 70 − 27 = 43 → 3; 37+3 = 40 → 0
		"38521647084",
		"99234567892", // a foreign resident's number (99…), same algorithm
	}
	for _, s := range valid {
		if ok, wf := tcknValid(s); !ok || !wf {
			t.Errorf("tcknValid(%s) = %v, %v; want valid", s, ok, wf)
		}
		mutateEachDigit(t, s, func(m string) bool { ok, wf := tcknValid(m); return ok || !wf })
	}
	for _, s := range []string{"01234567890", "1234567890", "123456789012", "1746352903a", ""} {
		if _, wf := tcknValid(s); wf {
			t.Errorf("tcknValid(%q) well-formed, want not", s)
		}
	}
	if ok, _ := tcknValid("17463529041"); ok { // 11th digit agrees with a wrong 10th
		t.Error("17463529041 accepted")
	}
}

// mutateEachDigit asserts that every single-digit change of a valid number
// is rejected (accepted returns true when the mutant would pass).
func mutateEachDigit(t *testing.T, s string, accepted func(string) bool) {
	t.Helper()
	b := []byte(s)
	for i := range b {
		orig := b[i]
		for c := byte('0'); c <= '9'; c++ {
			if c == orig || (i == 0 && c == '0') {
				continue
			}
			b[i] = c
			if accepted(string(b)) {
				t.Errorf("%s: mutant %s accepted", s, b)
			}
		}
		b[i] = orig
	}
}

func TestIIN(t *testing.T) {
	tests := []struct {
		value string
		birth string
		sex   int
	}{
		// 1·9+2·1+3·0+4·4+5·2+6·3+7·4+8·0+9·3+10·1+11·8 = 208 = 18·11+10 → second weights:
		// 3·9+4·1+5·0+6·4+7·2+8·3+9·4+10·0+11·3+1·1+2·8 = 179 = 16·11+3 → 3.
		{"910423403183", "1991-04-23", 2},
		// Published example: first pass 87 mod 11 = 10, second 112 mod 11 = 2.
		{"061211600012", "2006-12-11", 2},
		{"931105304575", "1993-11-05", 1},
		{"960702422101", "1996-07-02", 2},
		{"850808331079", "1985-08-08", 1},
	}
	for _, tt := range tests {
		e, ok, wf := iinDecode(tt.value)
		if !ok || !wf {
			t.Errorf("iinDecode(%s): check %v, well-formed %v", tt.value, ok, wf)
		}
		if e.birth != mustDate(t, tt.birth) || e.sex != tt.sex {
			t.Errorf("iinDecode(%s) = %+v, want %s sex %d", tt.value, e, tt.birth, tt.sex)
		}
		// Every other 12th digit is wrong.
		for c := byte('0'); c <= '9'; c++ {
			m := tt.value[:11] + string(c)
			if _, ok, _ := iinDecode(m); ok != (m == tt.value) {
				t.Errorf("iinDecode(%s) check = %v", m, ok)
			}
		}
	}
	if _, _, wf := iinDecode("910423703183"); wf { // 7th digit 7: not a century-and-sex digit
		t.Error("7th digit 7 accepted as well-formed")
	}
	if e, _, _ := iinDecode("931305304572"); e.birth.prec != precNone {
		t.Error("month 13 decoded as a date")
	}
	// An IIN whose both passes give 10 is never issued: no 12th digit makes it valid.
	base := findDoubleTen(t)
	for c := byte('0'); c <= '9'; c++ {
		if _, ok, _ := iinDecode(base + string(c)); ok {
			t.Errorf("unissuable IIN %s%c accepted", base, c)
		}
	}
}

// findDoubleTen finds 11 leading digits for which both weightings give 10.
func findDoubleTen(t *testing.T) string {
	w2 := [11]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2}
	for serial := 0; serial < 10000; serial++ {
		s := []byte("9104234" + string(rune('0'+serial/1000)) + string(rune('0'+serial/100%10)) + string(rune('0'+serial/10%10)) + string(rune('0'+serial%10)))
		s1, s2 := 0, 0
		for i := 0; i < 11; i++ {
			s1 += int(s[i]-'0') * (i + 1)
			s2 += int(s[i]-'0') * w2[i]
		}
		if s1%11 == 10 && s2%11 == 10 {
			return string(s)
		}
	}
	t.Fatal("no double-ten IIN prefix found")
	return ""
}

func TestPINFL(t *testing.T) {
	tests := []struct {
		value string
		birth string
		sex   int
	}{
		// 7·3+3·1+1·5+7·0+3·5+1·9+7·0+3·2+1·6+7·1+3·0+1·0+7·1 = 79 → 9.
		{"31505902610019", "1990-05-15", 1},
		{"40207963051179", "1996-07-02", 2},
	}
	for _, tt := range tests {
		e, ok, wf := pinflDecode(tt.value)
		if !ok || !wf {
			t.Errorf("pinflDecode(%s): check %v, well-formed %v", tt.value, ok, wf)
		}
		if e.birth != mustDate(t, tt.birth) || e.sex != tt.sex {
			t.Errorf("pinflDecode(%s) = %+v, want %s sex %d", tt.value, e, tt.birth, tt.sex)
		}
		mutateEachDigit(t, tt.value, func(m string) bool {
			_, ok, wf := pinflDecode(m)
			return ok && wf
		})
	}
	if _, _, wf := pinflDecode("71505902610019"); wf {
		t.Error("first digit 7 accepted as well-formed")
	}
}

func TestFoldName(t *testing.T) {
	same := [][]string{
		{"İstanbul", "ISTANBUL", "istanbul", "İSTANBUL", "Istanbul"},
		{"Işık", "IŞIK", "ışık"},
		{"Oʻzbek", "O'zbek", "O’zbek", "OʻZBEK"},
		{"Gʻulomov", "G'ulomov", "G‘ulomov"},
		{"Әбенов", "ӘБЕНОВ"},
		{"Мадина  Раҳимзода", " Мадина Раҳимзода"},
		{"رحیم\u200cزاده", "رحیمزاده"},
		{"علی", "علي"}, // Arabic yeh typed for Persian yeh
		{"Ali\u2010Rıza", "ALİ-RIZA"},
		{"I\u0307stanbul", "İstanbul"}, // decomposed İ
	}
	for _, group := range same {
		want := FoldName(group[0])
		for _, s := range group[1:] {
			if got := FoldName(s); got != want {
				t.Errorf("FoldName(%q) = %q, FoldName(%q) = %q; want equal", s, got, group[0], want)
			}
		}
	}
	different := [][2]string{
		{"Şahin", "Sahin"}, // diacritics are letters
		{"Oʻzbek", "Ozbek"},
		{"Айгүл", "Айгул"},
	}
	for _, p := range different {
		if FoldName(p[0]) == FoldName(p[1]) {
			t.Errorf("FoldName(%q) == FoldName(%q), want different", p[0], p[1])
		}
	}
	if got := FoldName("IŞIK"); got != "işik" {
		t.Errorf("FoldName(IŞIK) = %q", got)
	}
}

func TestNameScripts(t *testing.T) {
	tests := []struct {
		in    string
		mixed bool
	}{
		{"Oʻktam Gʻulomov", false},
		{"Qo'chqorov", false},
		{"O’Brien", false},
		{"Нұрлан Серікұлы", false},
		{"M\u0430dina", true},     // Cyrillic а
		{"Ali-Алиев", false},      // two words, one script each
		{"Айгүл Aigul", false},    // words of different scripts
		{"رحیم\u200cزاده", false}, // ZWNJ is not a script
		{"Мадина\u0301", false},   // combining mark
		{"Ιωάννης", false},        // Greek
		{"Pаvеl", true},           // Cyrillic а and е
		{"山田たろう", false},          // Japanese
		{"Abd\u0627llah", true},   // Arabic alef in a Latin word
		{"", false},
	}
	for _, tt := range tests {
		if _, mixed := nameScripts(tt.in); mixed != tt.mixed {
			t.Errorf("nameScripts(%q) mixed = %v, want %v", tt.in, mixed, tt.mixed)
		}
	}
}

func TestHasBidiControl(t *testing.T) {
	for r := rune(0x2000); r <= 0x206F; r++ {
		want := (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
		if got := hasBidiControl("a" + string(r) + "b"); got != want {
			t.Errorf("U+%04X: %v, want %v", r, got, want)
		}
	}
	for _, s := range []string{"", "\xe2", "\xe2\x80", "İstanbul €", "رحیم\u200cزاده", "\u200f", "\u061c"} {
		if hasBidiControl(s) {
			t.Errorf("%q flagged", s)
		}
	}
	if !hasBidiControl("€€\u202e") {
		t.Error("RLO after other E2 sequences not found")
	}
}
