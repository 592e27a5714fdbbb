package match

// Dates as intervals (DESIGN.md M1 "Dates"): a year or year-month stands for
// every day in it; two dates agree when their intervals overlap, so full vs
// full must be equal. No day/month swap.

// dayNum orders (y, m, d) so that intervals compare as integers.
func dayNum(y, m, d int) int { return (y*13+m)*32 + d }

// span is the first and last day a date stands for.
func (d Date) span() (lo, hi int) {
	switch {
	case d.Month == 0:
		return dayNum(d.Year, 1, 1), dayNum(d.Year, 12, 31)
	case d.Day == 0:
		return dayNum(d.Year, d.Month, 1), dayNum(d.Year, d.Month, 31)
	}
	n := dayNum(d.Year, d.Month, d.Day)
	return n, n
}

// datesAgree reports whether a and b may be the same day; an unknown date
// agrees with anything.
func datesAgree(a, b Date) bool {
	if !a.Known() || !b.Known() {
		return true
	}
	alo, ahi := a.span()
	blo, bhi := b.span()
	return alo <= bhi && blo <= ahi
}

// Date scores (M2), by the precision both dates have.
func dateScore(s, r Date) int {
	if !s.Known() || !r.Known() {
		return 0
	}
	switch {
	case s.Full() && r.Full():
		return 4
	case s.Month != 0 && r.Month != 0:
		return 2
	}
	return 1
}
