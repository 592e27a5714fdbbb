package match

import "time"

// Metrics is what Evaluate measured (DESIGN.md M4); `crvsx bench match
// --json` prints it.
type Metrics struct {
	Seed    uint64 `json:"seed"`
	Records int    `json:"records"`
	Queries int    `json:"queries"`
	// UniqueMatchPrecision: of the unique matches, the share that named the
	// right record.
	UniqueMatchPrecision float64 `json:"uniqueMatchPrecision"`
	// UniqueMatchRecall: of the queries about a record with names, a full
	// birth date and sex, the share answered unique-match with that record.
	UniqueMatchRecall float64 `json:"uniqueMatchRecall"`
	FullyIdentified   int     `json:"fullyIdentified"`
	// WrongUniquePer10k: unique matches naming the wrong record, or naming
	// one for a person not in the set, per 10 000 queries.
	WrongUniquePer10k float64         `json:"wrongUniquePer10k"`
	Outcomes          map[Outcome]int `json:"outcomes"`
	QueriesPerSecond  float64         `json:"queriesPerSecond"`
	// WrongByKind counts the wrong unique matches by query kind.
	WrongByKind map[string]int `json:"wrongByKind,omitempty"`
	// Wrong lists the first MaxWrongListed wrong unique matches: the
	// query, the record it was matched to and the record it is about (nil
	// for a person not in the set), so that a regression can be read and
	// turned into a table test. The data are synthetic.
	Wrong []WrongMatch `json:"wrong,omitempty"`
}

// MaxWrongListed bounds Metrics.Wrong.
const MaxWrongListed = 20

// WrongMatch is one wrong unique match of Evaluate.
type WrongMatch struct {
	Kind    string  `json:"kind"`
	Subject Subject `json:"subject"`
	Matched Person  `json:"matched"`
	Score   int     `json:"score"`
	Truth   *Person `json:"truth,omitempty"`
}

// Evaluate generates n records and n queries from seed, indexes the
// records and answers every query, timing the answers. It is the one
// function of the package that reads the clock, and only to measure.
func Evaluate(seed uint64, n int) Metrics {
	ts := Generate(seed, n)
	idx := NewIndex(ts.People)
	m := Metrics{Seed: seed, Records: len(ts.People), Queries: len(ts.Queries), Outcomes: map[Outcome]int{}, WrongByKind: map[string]int{}}
	results := make([]Result, len(ts.Queries))
	start := time.Now()
	for i, q := range ts.Queries {
		results[i] = idx.Query(q.Subject)
	}
	if el := time.Since(start).Seconds(); el > 0 {
		m.QueriesPerSecond = float64(len(ts.Queries)) / el
	}
	var unique, right, wrong, recalled int
	for i, q := range ts.Queries {
		r := results[i]
		m.Outcomes[r.Outcome]++
		if r.Outcome == UniqueMatch {
			unique++
			if r.PersonID == q.Truth {
				right++
			} else {
				wrong++
				m.WrongByKind[q.Kind]++
				if len(m.Wrong) < MaxWrongListed {
					m.Wrong = append(m.Wrong, wrongMatch(ts, q, r))
				}
			}
		}
		if q.FullyIdentified && q.Truth != "" {
			m.FullyIdentified++
			if r.Outcome == UniqueMatch && r.PersonID == q.Truth {
				recalled++
			}
		}
	}
	if unique > 0 {
		m.UniqueMatchPrecision = float64(right) / float64(unique)
	}
	if m.FullyIdentified > 0 {
		m.UniqueMatchRecall = float64(recalled) / float64(m.FullyIdentified)
	}
	if m.Queries > 0 {
		m.WrongUniquePer10k = float64(wrong) * 10000 / float64(m.Queries)
	}
	return m
}

// wrongMatch describes a wrong unique match with the records involved.
func wrongMatch(ts TestSet, q Query, r Result) WrongMatch {
	w := WrongMatch{Kind: q.Kind, Subject: q.Subject, Score: r.Score}
	for i := range ts.People {
		switch ts.People[i].ID {
		case r.PersonID:
			w.Matched = ts.People[i]
		case q.Truth:
			w.Truth = &ts.People[i]
		}
	}
	return w
}
