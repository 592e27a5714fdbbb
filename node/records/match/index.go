package match

import "strconv"

// Index retrieves the records a subject could be (DESIGN.md M3) so that a
// query compares it with tens of records, not all of them. It is immutable
// after NewIndex and safe for concurrent use.
type Index struct {
	recs   []prepared
	byID   map[string][]int32 // identifier scheme|value → records
	byName map[string][]int32 // token skeleton|birth year → records
	years  []int              // the distinct birth years, for identifier-less probes without a year
	names  *nameBook          // every record's name keys (M2 "A name is not a typo of another")
}

// NewIndex prepares every record's keys and files them.
func NewIndex(people []Person) *Index {
	idx := &Index{recs: make([]prepared, len(people)), byID: map[string][]int32{}, byName: map[string][]int32{}, names: newNameBook()}
	seenYear := map[int]bool{}
	for i, p := range people {
		r := preparePerson(p)
		idx.recs[i] = r
		idx.names.addPerson(&r)
		for _, id := range r.ids {
			k := idKey(id.scheme, id.value)
			idx.byID[k] = appendOnce(idx.byID[k], int32(i))
		}
		y := r.date.Year
		if !seenYear[y] {
			seenYear[y] = true
			idx.years = append(idx.years, y)
		}
		for _, n := range r.names {
			for _, t := range n.toks {
				if t.patro {
					continue
				}
				k := nameKey(t.skel, y)
				idx.byName[k] = appendOnce(idx.byName[k], int32(i))
			}
		}
	}
	return idx
}

// Len is the number of records.
func (idx *Index) Len() int { return len(idx.recs) }

func nameKey(skel string, year int) string { return skel + "|" + strconv.Itoa(year) }

// appendOnce appends i unless it is already last (a record files a key
// once however many of its names share it).
func appendOnce(s []int32, i int32) []int32 {
	if len(s) > 0 && s[len(s)-1] == i {
		return s
	}
	return append(s, i)
}

// Query decides which record the subject is, as Match does over the
// records its identifiers and name tokens retrieve (M3).
func (idx *Index) Query(subject Subject) Result {
	s := prepareSubject(subject)
	if !s.sufficient() {
		return Result{Outcome: InsufficientData, Reason: reasonUnderstated}
	}
	idx.names.mark(&s)
	seen := map[int32]bool{}
	var pass []candidate
	try := func(list []int32) {
		for _, i := range list {
			if seen[i] {
				continue
			}
			seen[i] = true
			if c, ok := judge(&s, &idx.recs[i]); ok {
				pass = append(pass, c)
			}
		}
	}
	for _, id := range s.ids {
		try(idx.byID[idKey(id.scheme, id.value)])
	}
	years := []int{s.date.Year, 0}
	if !s.date.Known() {
		years = idx.years
	}
	for _, n := range s.names {
		for _, t := range n.toks {
			if t.patro {
				continue
			}
			for _, y := range years {
				try(idx.byName[nameKey(t.skel, y)])
			}
		}
	}
	return decide(pass)
}
