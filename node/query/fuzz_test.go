package query

import (
	"net/http"
	"testing"
)

// FuzzHandler: any body gives a 200 or a problem document, never a panic
// or a 5xx (the collaborators work; only the input varies).
func FuzzHandler(f *testing.F) {
	e := newEnv(f)
	f.Add(e.signQuery(baseQuery(qid)))
	f.Add([]byte("a.b.c"))
	f.Add([]byte(""))
	f.Add([]byte(`{"payload":"e30","signatures":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		w := e.post(body, unhcrPin)
		if w.Code != http.StatusOK && (w.Code >= 500 || problemCode(t, w) == "") {
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	})
}
