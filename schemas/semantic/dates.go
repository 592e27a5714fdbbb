package semantic

import "time"

// Precision of a partial date (data dictionary "partialDate").
const (
	precNone  = 0
	precYear  = 1 // YYYY
	precMonth = 2 // YYYY-MM
	precDay   = 3 // YYYY-MM-DD
)

// pdate is a civil date at the precision it was written with. Partial dates
// are never padded: "1990" is not 1990-01-01, it is any day of 1990.
type pdate struct {
	y, m, d int
	prec    int
}

// parseDate reads YYYY, YYYY-MM or YYYY-MM-DD and checks that the month and
// day exist (2024-02-29 yes, 1995-02-29 no). Anything else is !ok.
func parseDate(s string) (pdate, bool) {
	var p pdate
	switch len(s) {
	case 4, 7, 10:
	default:
		return p, false
	}
	y, ok := digits(s[0:4])
	if !ok {
		return p, false
	}
	p.y, p.prec = y, precYear
	if len(s) == 4 {
		return p, true
	}
	if s[4] != '-' {
		return p, false
	}
	m, ok := digits(s[5:7])
	if !ok || m < 1 || m > 12 {
		return p, false
	}
	p.m, p.prec = m, precMonth
	if len(s) == 7 {
		return p, true
	}
	if s[7] != '-' {
		return p, false
	}
	d, ok := digits(s[8:10])
	if !ok || d < 1 || d > daysIn(y, m) {
		return p, false
	}
	p.d, p.prec = d, precDay
	return p, true
}

// digits parses a run of ASCII digits (no sign, no spaces).
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// cmpDate compares a and b on the precision both have: -1 when a is surely
// before b, +1 when surely after, 0 when equal or undecidable at that
// precision ("2024" vs "2024-05-03" is 0).
func cmpDate(a, b pdate) int {
	prec := min(a.prec, b.prec)
	if prec == precNone {
		return 0
	}
	if c := cmpInt(a.y, b.y); c != 0 || prec == precYear {
		return c
	}
	if c := cmpInt(a.m, b.m); c != 0 || prec == precMonth {
		return c
	}
	return cmpInt(a.d, b.d)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// first and last return the earliest and latest full dates a partial date
// may stand for.
func (p pdate) first() pdate {
	q := p
	if q.prec < precMonth {
		q.m = 1
	}
	if q.prec < precDay {
		q.d = 1
	}
	q.prec = precDay
	return q
}

func (p pdate) last() pdate {
	q := p
	if q.prec < precMonth {
		q.m = 12
	}
	if q.prec < precDay {
		q.d = daysIn(q.y, q.m)
	}
	q.prec = precDay
	return q
}

// completedYears is the age in completed years on day e of someone born on
// day b (both full dates). Someone born on 29 February has a birthday on
// 1 March in common years.
func completedYears(b, e pdate) int {
	age := e.y - b.y
	if e.m < b.m || (e.m == b.m && e.d < b.d) {
		age--
	}
	return age
}

// ageRange is the least and greatest age in completed years that a person
// born on birth can have on date at, over every day each partial date may
// stand for.
func ageRange(birth, at pdate) (lo, hi int) {
	return completedYears(birth.last(), at.first()), completedYears(birth.first(), at.last())
}

// easternmostOffset is the zone furthest ahead of UTC (Line Islands,
// UTC+14:00): a calendar date not yet begun there has begun nowhere.
const easternmostOffset = 14 * 60 * 60

var easternmost = time.FixedZone("UTC+14", easternmostOffset)

// latestDate is the latest calendar date current anywhere on Earth at t.
// Dates in a message are civil dates of the place of the event or of the
// registry office, whose zone the message does not state, so a date is
// "after createdAt" only when it is after this one. For the region's
// offsets (+03:00 … +06:00) it is createdAt's local date or the day after.
func latestDate(t time.Time) pdate {
	y, m, d := t.In(easternmost).Date()
	return pdate{y: y, m: int(m), d: d, prec: precDay}
}

// parseTimestamp reads an RFC 3339 timestamp with offset (the schema has
// checked the exact pattern).
func parseTimestamp(s string) (time.Time, bool) {
	if len(s) < 20 || len(s) > 35 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}
