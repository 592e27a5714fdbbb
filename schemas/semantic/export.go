package semantic

// The date and identifier readers, exported for the matching core
// (node/records/match), which must read subjects exactly as this package
// judges them rather than keep a second copy of the rules.

// ParsePartialDate reads YYYY, YYYY-MM or YYYY-MM-DD as the data dictionary's
// partialDate, checking that the month and day exist. month and day are 0
// when the date does not have them: a partial date is never padded.
func ParsePartialDate(s string) (year, month, day int, ok bool) {
	p, ok := parseDate(s)
	if !ok {
		return 0, 0, 0, false
	}
	return p.y, p.m, p.d, true
}

// IdentifierCheck is what the check digits of an identifier say.
type IdentifierCheck int

const (
	// CheckNone: the scheme has no check digits this package knows, or the
	// value does not have the scheme's shape.
	CheckNone IdentifierCheck = iota
	// CheckValid: the check digits hold (TR-TCKN, KZ-IIN, UZ-PINFL).
	CheckValid
	// CheckInvalid: the value has the scheme's shape and its check digits
	// fail: a mistyped or invented number.
	CheckInvalid
)

// CheckIdentifier runs the check-digit rule of scheme on value.
func CheckIdentifier(scheme, value string) IdentifierCheck {
	var valid, wellFormed bool
	switch scheme {
	case "TR-TCKN":
		valid, wellFormed = tcknValid(value)
	case "KZ-IIN":
		_, valid, wellFormed = iinDecode(value)
	case "UZ-PINFL":
		_, valid, wellFormed = pinflDecode(value)
	default:
		return CheckNone
	}
	switch {
	case !wellFormed:
		return CheckNone
	case valid:
		return CheckValid
	}
	return CheckInvalid
}

// SchemeCountry is the only issuingCountry a national identifier scheme can
// have ("TR" for TR-TCKN …), or "" for the schemes any country issues
// (PASSPORT, UNHCR-IND, CRVS-REGNO, OTHER …).
func SchemeCountry(scheme string) string { return schemeCountry(scheme) }
