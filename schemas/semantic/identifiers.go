package semantic

// Check digits and encoded data of the national identifiers (data dictionary
// "identifier": "Check digits are checked in Go, not in the schema"). Each
// function takes the identifier's value; a value that does not have the
// scheme's shape is the schema's business and is reported as !wellFormed,
// never as a check-digit failure.

// tcknValid checks a Turkish T.C. Kimlik No (also used, with a leading 99,
// as the foreigners' identity number): 11 digits, the first not 0;
// d10 = (7·(d1+d3+d5+d7+d9) − (d2+d4+d6+d8)) mod 10 and
// d11 = (d1+…+d10) mod 10. A TCKN encodes neither birth date nor sex.
func tcknValid(s string) (valid, wellFormed bool) {
	var d [11]int
	if !digitsInto(s, d[:]) || d[0] == 0 {
		return false, false
	}
	odd := d[0] + d[2] + d[4] + d[6] + d[8]
	even := d[1] + d[3] + d[5] + d[7]
	d10 := ((7*odd-even)%10 + 10) % 10
	sum := 0
	for _, x := range d[:10] {
		sum += x
	}
	return d[9] == d10 && d[10] == sum%10, true
}

// encoded is what an identifier says about its holder.
type encoded struct {
	birth  pdate // full date, or prec 0 when the digits are not a calendar date
	sex    int   // ISO 5218: 1 male, 2 female
	rawYMD [3]int
}

// centurySex decodes the century-and-sex digit shared by KZ-IIN (7th digit)
// and UZ-PINFL (1st digit): 1/2 → 1800s, 3/4 → 1900s, 5/6 → 2000s; odd is
// male, even female.
func centurySex(c int) (century, sex int, ok bool) {
	if c < 1 || c > 6 {
		return 0, 0, false
	}
	century = 1800 + (c-1)/2*100
	sex = 2
	if c%2 == 1 {
		sex = 1
	}
	return century, sex, true
}

func decodeDate(y, m, d int) pdate {
	if m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return pdate{}
	}
	return pdate{y: y, m: m, d: d, prec: precDay}
}

// iinDecode checks a Kazakh ИИН/ЖСН: YYMMDD, a century-and-sex digit, four
// serial digits and a check digit. The check digit is Σ dᵢ·i (i = 1…11)
// mod 11; when that is 10 it is recomputed with the weights
// 3,4,5,6,7,8,9,10,11,1,2, and a number whose second result is also 10 is
// never issued (Government Decree of Kazakhstan No. 565 of 11 June 2003).
func iinDecode(s string) (e encoded, checkOK, wellFormed bool) {
	var d [12]int
	if !digitsInto(s, d[:]) {
		return e, false, false
	}
	century, sex, ok := centurySex(d[6])
	if !ok {
		return e, false, false
	}
	sum := 0
	for i := 0; i < 11; i++ {
		sum += d[i] * (i + 1)
	}
	c := sum % 11
	if c == 10 {
		sum = 0
		for i := 0; i < 11; i++ {
			sum += d[i] * ((i+2)%11 + 1)
		}
		c = sum % 11
	}
	checkOK = c != 10 && c == d[11]
	y, m, dd := century+d[0]*10+d[1], d[2]*10+d[3], d[4]*10+d[5]
	e = encoded{birth: decodeDate(y, m, dd), sex: sex, rawYMD: [3]int{y, m, dd}}
	return e, checkOK, true
}

// pinflDecode checks an Uzbek ЖШШИР/PINFL: a century-and-sex digit, DDMMYY,
// a three-digit district code, a three-digit serial and a check digit equal
// to Σ dᵢ·wᵢ mod 10 over the first 13 digits with the weights 7,3,1
// repeating.
func pinflDecode(s string) (e encoded, checkOK, wellFormed bool) {
	var d [14]int
	if !digitsInto(s, d[:]) {
		return e, false, false
	}
	century, sex, ok := centurySex(d[0])
	if !ok {
		return e, false, false
	}
	weights := [3]int{7, 3, 1}
	sum := 0
	for i := 0; i < 13; i++ {
		sum += d[i] * weights[i%3]
	}
	checkOK = sum%10 == d[13]
	dd, m, y := d[1]*10+d[2], d[3]*10+d[4], century+d[5]*10+d[6]
	e = encoded{birth: decodeDate(y, m, dd), sex: sex, rawYMD: [3]int{y, m, dd}}
	return e, checkOK, true
}

// digitsInto fills out with the digits of s; false unless s is exactly
// len(out) ASCII digits.
func digitsInto(s string, out []int) bool {
	if len(s) != len(out) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		out[i] = int(c - '0')
	}
	return true
}

// schemeCountry is the only issuingCountry a national scheme can have.
func schemeCountry(scheme string) string {
	switch scheme {
	case "TR-TCKN":
		return "TR"
	case "KZ-IIN":
		return "KZ"
	case "UZ-PINFL":
		return "UZ"
	case "KG-PIN":
		return "KG"
	case "TJ-INN":
		return "TJ"
	case "AZ-FIN":
		return "AZ"
	case "GE-PN":
		return "GE"
	case "AM-PSN":
		return "AM"
	case "MN-RD":
		return "MN"
	}
	return ""
}
