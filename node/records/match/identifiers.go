package match

import (
	"strings"

	"github.com/ecrn/crvsx/schemas/semantic"
)

// Identifiers (DESIGN.md M1 "Identifiers").

// pid is a prepared identifier.
type pid struct {
	scheme, value, country string
	checked                bool // valid check digits
	lifelong               bool // a national number a person keeps for life
}

// lifelong lists the schemes of which a person has one, for life: a
// different value of one of them is a different person. Passports renew,
// UNHCR numbers are per case, OTHER is anything.
var lifelong = map[string]bool{
	"TR-TCKN": true, "KZ-IIN": true, "UZ-PINFL": true, "KG-PIN": true, "TJ-INN": true,
	"AZ-FIN": true, "GE-PN": true, "AM-PSN": true, "MN-RD": true,
}

// normValue upper-cases a value and drops spaces, dashes and dots.
func normValue(v string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '/', '\t':
			return -1
		}
		return r
	}, strings.ToUpper(v))
}

// prepareIDs normalises identifiers and drops those whose check digits
// fail: a mistyped number is no evidence either way.
func prepareIDs(ids []Identifier) []pid {
	var out []pid
	for _, id := range ids {
		v := normValue(id.Value)
		if v == "" {
			continue
		}
		c := semantic.CheckIdentifier(id.Scheme, v)
		if c == semantic.CheckInvalid {
			continue
		}
		country := strings.ToUpper(id.Country)
		if country == "" {
			country = semantic.SchemeCountry(id.Scheme)
		}
		out = append(out, pid{scheme: id.Scheme, value: v, country: country, checked: c == semantic.CheckValid, lifelong: lifelong[id.Scheme]})
	}
	return out
}

// compareIDs reports whether an identifier of the subject is on the
// record (checked: one with valid check digits) and whether the record has
// a different lifelong number of the same scheme and country.
func compareIDs(s, r []pid) (match, checked, conflict bool) {
	for _, a := range s {
		same, differ := false, false
		for _, b := range r {
			if a.scheme != b.scheme || (a.country != "" && b.country != "" && a.country != b.country) {
				continue
			}
			if a.value == b.value {
				same = true
			} else if a.lifelong {
				differ = true
			}
		}
		if same {
			match = true
			checked = checked || a.checked
		} else if differ {
			conflict = true
		}
	}
	return match, checked, conflict
}

func idKey(scheme, value string) string { return scheme + "|" + value }
