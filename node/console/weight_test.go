package console

import (
	"net/url"
	"testing"
)

// DESIGN §10: the stylesheet ≤ 6 KiB; each page ≤ 24 KiB of HTML for a
// network of 16 members; a page with its stylesheet ≤ 30 KiB.
func TestPageWeight(t *testing.T) {
	const cssMax, pageMax, totalMax = 6 << 10, 24 << 10, 30 << 10
	if len(stylesheet) > cssMax {
		t.Fatalf("stylesheet %d bytes > %d", len(stylesheet), cssMax)
	}
	h := newHarness(t, nil)
	h.fb.members = 16
	h.fb.text = "Civil Registry Office of a member country"
	w := newAttestWorld(t)
	h.fb.view, h.fb.now = w.view, w.now
	sc, csrf := h.login()
	pages := map[string]resp{
		"login":     h.get("/console/login"),
		"overview":  h.get("/console/overview", sc),
		"traffic":   h.get("/console/traffic", sc),
		"message":   h.get("/console/message/m1", sc),
		"member":    h.get("/console/member/TJ", sc),
		"approvals": h.get("/console/approvals", sc),
		"verify":    h.postForm("/console/verify", url.Values{"csrf": {csrf}, "token": {string(w.token(t, "Civil Registry Office"))}}, sc),
	}
	for name, res := range pages {
		n := len(res.body)
		t.Logf("%s: %d bytes (+ %d of stylesheet)", name, n, len(stylesheet))
		if n > pageMax || n+len(stylesheet) > totalMax {
			t.Errorf("%s: %d bytes of HTML, over the budget", name, n)
		}
		if n < 500 {
			t.Errorf("%s: %d bytes: not a page (%d)", name, n, res.StatusCode)
		}
	}
}
