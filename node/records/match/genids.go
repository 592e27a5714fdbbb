package match

import (
	"fmt"
	"strings"
)

// Identifiers for the synthetic records: TR-TCKN, KZ-IIN and UZ-PINFL with
// valid check digits (and the birth date and sex the latter two encode),
// KG-PIN with its sex digit and date, TJ-INN nine digits. Unique in a set.

func (g *generator) newID(country string, d Date, sex int) Identifier {
	for {
		id := g.makeID(country, d, sex)
		if !g.ids[id.Value] {
			g.ids[id.Value] = true
			return id
		}
	}
}

func (g *generator) digits(n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte(byte('0' + g.rng.IntN(10)))
	}
	return b.String()
}

func (g *generator) makeID(country string, d Date, sex int) Identifier {
	switch country {
	case "TR":
		return Identifier{"TR-TCKN", tckn(g.digits(9), 1+g.rng.IntN(9)), "TR"}
	case "KZ":
		for {
			c := 3 + boolInt(sex == SexFemale)
			if d.Year >= 2000 {
				c += 2
			}
			v := fmt.Sprintf("%02d%02d%02d%d%s", d.Year%100, d.Month, d.Day, c, g.digits(4))
			if check, ok := iinCheck(v); ok {
				return Identifier{"KZ-IIN", v + string(rune('0'+check)), "KZ"}
			}
		}
	case "UZ":
		c := 3 + boolInt(sex == SexFemale)
		if d.Year >= 2000 {
			c += 2
		}
		v := fmt.Sprintf("%d%02d%02d%02d%s", c, d.Day, d.Month, d.Year%100, g.digits(6))
		return Identifier{"UZ-PINFL", v + string(rune('0'+pinflCheck(v))), "UZ"}
	case "KG":
		return Identifier{"KG-PIN", fmt.Sprintf("%d%02d%02d%04d%s", 1+boolInt(sex == SexFemale), d.Day, d.Month, d.Year, g.digits(5)), "KG"}
	}
	return Identifier{"TJ-INN", g.digits(9), "TJ"}
}

// tckn completes nine digits (the first replaced by first, never 0) with
// the two TCKN check digits.
func tckn(nine string, first int) string {
	d := []int{first}
	for _, c := range nine[1:] {
		d = append(d, int(c-'0'))
	}
	odd := d[0] + d[2] + d[4] + d[6] + d[8]
	even := d[1] + d[3] + d[5] + d[7]
	d = append(d, ((7*odd-even)%10+10)%10)
	sum := 0
	for _, x := range d {
		sum += x
	}
	d = append(d, sum%10)
	var b strings.Builder
	for _, x := range d {
		b.WriteByte(byte('0' + x))
	}
	return b.String()
}

// iinCheck is the IIN check digit of eleven digits; !ok when none exists.
func iinCheck(v string) (int, bool) {
	sum := 0
	for i := range 11 {
		sum += int(v[i]-'0') * (i + 1)
	}
	if c := sum % 11; c != 10 {
		return c, true
	}
	sum = 0
	for i := range 11 {
		sum += int(v[i]-'0') * ((i+2)%11 + 1)
	}
	c := sum % 11
	return c, c != 10
}

// pinflCheck is the PINFL check digit of thirteen digits (weights 7,3,1).
func pinflCheck(v string) int {
	w := [3]int{7, 3, 1}
	sum := 0
	for i := range 13 {
		sum += int(v[i]-'0') * w[i%3]
	}
	return sum % 10
}

// spoil changes the last digit: the check digits then fail.
func spoil(v string) string {
	last := v[len(v)-1]
	return v[:len(v)-1] + string(rune('0'+(last-'0'+1)%10))
}
