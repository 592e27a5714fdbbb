package match

import "strconv"

// Blocking keys for a store that files records outside this package
// (node/records' embedded store): the same keys Index files and probes
// (DESIGN.md M3), as strings. A store that files each record under
// RecordKeys and hands Match the records any of SubjectKeys retrieves gets
// the decision Index.Query gives over the same records.

// RecordKeys are the keys a record is filed under: "i|scheme|value" for
// each identifier with usable check digits, and "n|skeleton|birth year"
// for each non-patronymic name token (year 0 when the record has no birth
// date). Sorted order is not promised; repeats are possible.
func RecordKeys(p Person) []string {
	r := preparePerson(p)
	var out []string
	for _, id := range r.ids {
		out = append(out, "i|"+idKey(id.scheme, id.value))
	}
	for _, n := range r.names {
		for _, t := range n.toks {
			if !t.patro {
				out = append(out, "n|"+nameKey(t.skel, r.date.Year))
			}
		}
	}
	return out
}

// SubjectKeys are the keys a subject probes: its identifiers, and each
// non-patronymic name token in its birth year and in year 0. A subject
// without a birth date probes its identifiers only: without one, only an
// identifier can make a record pass (M2), so the name probes of Index.Query
// over every year retrieve nothing that could. An insufficient subject
// (Match answers insufficient-data before any search) has no keys.
func SubjectKeys(s Subject) []string {
	p := prepareSubject(s)
	if !p.sufficient() {
		return nil
	}
	var out []string
	for _, id := range p.ids {
		out = append(out, "i|"+idKey(id.scheme, id.value))
	}
	if !p.date.Known() {
		return out
	}
	for _, n := range p.names {
		for _, t := range n.toks {
			if t.patro {
				continue
			}
			for _, y := range []int{p.date.Year, 0} {
				out = append(out, "n|"+t.skel+"|"+strconv.Itoa(y))
			}
		}
	}
	return out
}
