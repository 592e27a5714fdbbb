package semantic

import (
	"testing"
)

// FuzzCheck: no input that decodes as JSON makes Check (or
// CheckAttestationAnswers) panic, and every result keeps its promises:
// listed codes with their severity, sorted and without duplicates, pointers
// that resolve in the document. The seed corpus (testdata/fuzz/FuzzCheck)
// holds example messages and ill-typed variants of them.
func FuzzCheck(f *testing.F) {
	for _, b := range []string{baseBirth, baseDeath, baseMarriage, baseDivorce, baseAdoption, baseCancellation, baseAttestation, baseQuery, baseReceipt} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decode(data)
		if err != nil {
			return
		}
		doc, ok := v.(map[string]any)
		if !ok {
			return
		}
		checkIssues(t, doc, Check(doc))
		checkIssues(t, doc, CheckAttestationAnswers(doc, doc))
	})
}
