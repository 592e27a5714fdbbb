package semantic

import (
	"os"
	"testing"
)

// BenchmarkCheckBirth runs Check on the live birth of the examples (a Tajik
// child born in İstanbul: three persons, six names, four identifiers; about
// 4.5 KB compact). Check runs on every inbound message.
func BenchmarkCheckBirth(b *testing.B) {
	raw, err := os.ReadFile("../testdata/valid/live-birth-tajik-child-in-istanbul.json")
	if err != nil {
		b.Fatal(err)
	}
	doc := mustDecode(b, string(raw))
	if issues := Check(doc); len(issues) != 0 {
		b.Fatalf("the example has findings:%s", dump(issues))
	}
	b.ReportAllocs()
	for b.Loop() {
		Check(doc)
	}
}

// BenchmarkFoldName: the matching key of a Turkish name (x/text path) and of
// an ASCII one.
func BenchmarkFoldName(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		FoldName("Ayşe IŞIK")
		FoldName("Madina Rahimzoda")
	}
}
