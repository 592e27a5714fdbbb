package records

import (
	"encoding/json"
	"testing"
)

// FuzzParseRecord: the JSONL line parser never panics, and a line it
// accepts encodes to a document it accepts again, unchanged.
func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{lineAigul, lineAsel, lineTwinA, lineHidden, `{}`, `{"recordId":1}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, le := ParseRecord(line)
		if le != nil {
			return
		}
		doc, err := r.encode()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		r2, le := ParseRecord(doc)
		if le != nil {
			t.Fatalf("the encoding of an accepted line is refused: %v\n%s", le, doc)
		}
		a, _ := json.Marshal(r)
		b, _ := json.Marshal(r2)
		if string(a) != string(b) {
			t.Fatalf("round trip changed the record:\n%s\n%s", a, b)
		}
		_ = r.Person()
		_ = r.Facts()
	})
}
