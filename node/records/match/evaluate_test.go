package match

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestTargetsOnGeneratedSet holds the matcher to DESIGN.md M4's targets on
// the 10 000-record sets of seeds 1, 4, 5, 6 and 7: fewer than 1 wrong
// unique match per 10 000 queries, and recall ≥ 0.95 on fully identified
// subjects. cmd/crvsx's TestBenchMatch holds seeds 2, 3 and 8.
func TestTargetsOnGeneratedSet(t *testing.T) {
	for _, seed := range []uint64{1, 4, 5, 6, 7} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			m := Evaluate(seed, 10000)
			out, _ := json.Marshal(m)
			t.Logf("%s", out)
			if m.WrongUniquePer10k >= 1 {
				t.Errorf("wrong unique matches: %.2f per 10 000 queries (%v): %+v", m.WrongUniquePer10k, m.WrongByKind, m.Wrong)
			}
			if m.UniqueMatchRecall < 0.95 {
				t.Errorf("unique-match recall on fully identified subjects: %.4f", m.UniqueMatchRecall)
			}
		})
	}
}

func TestWrongMatchNamesTheRecords(t *testing.T) {
	ts := TestSet{People: []Person{{ID: "a"}, {ID: "b"}}}
	q := Query{Kind: "derived", Truth: "b", Subject: Subject{BirthDate: d(1990, 0, 0)}}
	w := wrongMatch(ts, q, Result{Outcome: UniqueMatch, PersonID: "a", Score: 7})
	if w.Kind != "derived" || w.Matched.ID != "a" || w.Truth == nil || w.Truth.ID != "b" || w.Score != 7 || w.Subject.BirthDate.Year != 1990 {
		t.Fatalf("%+v", w)
	}
	if w := wrongMatch(ts, Query{Kind: "absent-sibling"}, Result{PersonID: "b"}); w.Truth != nil || w.Matched.ID != "b" {
		t.Fatalf("%+v", w)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, _ := json.Marshal(Generate(7, 300))
	b, _ := json.Marshal(Generate(7, 300))
	if string(a) != string(b) {
		t.Fatal("two sets from one seed differ")
	}
}

func BenchmarkMatch(b *testing.B) {
	ts := Generate(1, 10000)
	idx := NewIndex(ts.People)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		idx.Query(ts.Queries[i%len(ts.Queries)].Subject)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}
