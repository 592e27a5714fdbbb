package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// rowsOf returns the <tr> elements of the table with the id.
func rowsOf(t *testing.T, body, table string) []string {
	t.Helper()
	i := strings.Index(body, `<table id="`+table+`"`)
	if i < 0 {
		t.Fatalf("no table#%s", table)
	}
	end := strings.Index(body[i:], "</table>")
	return regexp.MustCompile(`(?s)<tr[ >].*?</tr>`).FindAllString(body[i:i+end], -1)[1:] // without the header row
}

func must(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("no %s in the page", w)
		}
	}
}

// Issue 12 §1: members, nodes and roles, registry health, the key
// calendar (60/30/7 days), proposals with who may still approve,
// certificates and requesters.
func TestOverviewShowsTheNetwork(t *testing.T) {
	h := newHarness(t, nil)
	sc, _ := h.login()
	res := h.get("/console/overview", sc)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%d", res.StatusCode)
	}
	b := res.body
	must(t, b, `<dd id="registry-leader">TR-NVI-CRVS</dd>`, `<dd id="registry-applied">42</dd>`, `id="registry-fresh" data-stale="false">In sync with the leader`,
		`<table id="replicas">`, "Not known from this node", `<table id="nodes">`, "https://tj.crvs.example:8443", "Voting replica")
	if rows := rowsOf(t, b, "members"); len(rows) != 3 || !strings.Contains(rows[0], `<a href="/console/member/TJ">TJ</a>`) {
		t.Errorf("members: %q", rows)
	}
	var warns []string
	for _, r := range rowsOf(t, b, "key-calendar") {
		warns = append(warns, regexp.MustCompile(`data-warn="([^"]+)"`).FindStringSubmatch(r)[1])
	}
	if strings.Join(warns, ",") != "none,60,30" {
		t.Errorf("key calendar warnings %v", warns)
	}
	h.fb.members = 5
	b = h.get("/console/overview", sc).body
	cal := strings.Join(rowsOf(t, b, "key-calendar"), "\n")
	for _, w := range []string{`data-warn="60"`, `data-warn="30"`, `data-warn="7"`, `data-warn="expired"`, `data-warn="none"`,
		"Expires within 60 days (59 days left)", "Expires within 30 days (29 days left)", "Expires within 7 days (6 days left)", `class="bad">Expired<`} {
		if !strings.Contains(cal, w) {
			t.Errorf("key calendar: no %s", w)
		}
	}
	p := rowsOf(t, b, "proposals")
	if len(p) != 1 || !strings.Contains(p[0], `data-proposal="p-plain"`) || !strings.Contains(p[0], "TJ: Counts") ||
		!strings.Contains(p[0], "Approvals still needed: 1") || !strings.Contains(p[0], "1 of 2 approvals count") {
		t.Errorf("proposals: %q", p)
	}
	missing := regexp.MustCompile(`(?s)<td class="missing">(.*?)</td>`).FindStringSubmatch(p[0])
	if missing == nil || !strings.Contains(missing[1], "TR") || !strings.Contains(missing[1], "KZ") || !strings.Contains(missing[1], "TR-gov") || strings.Contains(missing[1], "TJ") {
		t.Errorf(".missing: %v", missing)
	}
	c := rowsOf(t, b, "certificates")
	if len(c) != 1 || !strings.Contains(c[0], `data-warn="30"`) || !strings.Contains(c[0], "conformance-1") {
		t.Errorf("certificates: %q", c)
	}
	r := rowsOf(t, b, "requesters")
	for _, w := range []string{`data-requester="INT-UNHCR"`, "<td>TJ, TR</td>", "is-registered, vital-status", "humanitarian-verification",
		"data-subject-consent", "60 a minute, burst 10", "Active"} {
		if len(r) != 1 || !strings.Contains(r[0], w) {
			t.Errorf("requesters: no %s in %q", w, r)
		}
	}
	ru := h.do(withLang(httptestGet("/console/overview", "ru"), sc)).body
	must(t, ru, "Истекает в течение 60 дней", "Ещё нужно одобрений: 1", "60 в минуту, пакет до 10")
}

func withLang(r *http.Request, c *http.Cookie) *http.Request { r.AddCookie(c); return r }

// Issue 12 §2: the window, the two charts, latency, receipts, refused by
// code with a link to one refusal, dead letters with "retry now".
func TestTrafficPage(t *testing.T) {
	h := newHarness(t, nil)
	sc, _ := h.login()
	b := h.get("/console/traffic", sc).body
	must(t, b, `<option value="24h" selected>Last 24 hours</option>`, `<label for="window">`, `<form id="window-form" class="window" method="get"`,
		`<figure id="chart-out"><svg`, `<figure id="chart-in"><svg`, `<title>Messages sent</title>`, `<title>Messages received</title>`,
		"Messages sent per hour from 2026-12-03 10:00:00 +00:00 to 2026-12-04 10:00:00 +00:00",
		`<td id="receipts">8</td>`, `<td id="latency-p50">120ms</td>`, `<td id="latency-p90">900ms</td>`, `<td id="latency-p99">2.5s</td>`,
		`<td id="retries">3</td>`, `<td id="attempts">12</td>`, "KZ-CRVS</th><td>2</td>")
	refused := rowsOf(t, b, "refused")
	if len(refused) != 2 || !strings.Contains(refused[0], `data-code="JWS_SIGNATURE_INVALID"`) ||
		!strings.Contains(refused[0], `<a class="refused-link" href="/console/message/audit/17">`) {
		t.Errorf("refused: %q", refused)
	}
	dead := rowsOf(t, b, "dead-letters")
	if len(dead) != 1 || !strings.Contains(dead[0], `data-ref="delivery/3"`) || !strings.Contains(dead[0], `id="retry-delivery/3"`) ||
		!strings.Contains(dead[0], `action="/console/dead-letters/3/retry"`) || !strings.Contains(dead[0], "<code>UNAVAILABLE</code>") ||
		!strings.Contains(dead[0], "event.live-birth") {
		t.Errorf("dead letters: %q", dead)
	}
	for q, want := range map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour} {
		h.fb.windows = nil
		res := h.get("/console/traffic?window="+q, sc)
		if res.StatusCode != http.StatusOK || len(h.fb.windows) != 1 || h.fb.windows[0] != want || !strings.Contains(res.body, `value="`+q+`" selected`) {
			t.Errorf("window %s: %d %v", q, res.StatusCode, h.fb.windows)
		}
	}
	if res := h.get("/console/traffic?window=1y", sc); res.StatusCode != http.StatusBadRequest {
		t.Errorf("window 1y: %d", res.StatusCode)
	}
	tr := h.do(withLang(httptestGet("/console/traffic?window=7d", "tr"), sc)).body
	must(t, tr, "<title>Gönderilen iletiler</title>", "Son 7 gün")
}

// Issue 12 §2: "retry now" through HTTP — the form on the page, its CSRF
// token, the operator's name to the audit, then #retried.
func TestRetryNowThroughHTTP(t *testing.T) {
	h := newHarness(t, nil)
	sc, _ := h.login()
	page := h.get("/console/traffic", sc).body
	form := regexp.MustCompile(`<form method="post" action="(/console/dead-letters/3/retry)"><input type="hidden" name="csrf" value="([^"]+)">`).FindStringSubmatch(page)
	if form == nil {
		t.Fatalf("no retry form:\n%s", page)
	}
	if res := h.postForm(form[1], url.Values{"csrf": {"forged-token-of-the-right-length-0123456789a"}}, sc); res.StatusCode != http.StatusForbidden {
		t.Fatalf("forged CSRF: %d", res.StatusCode)
	}
	res := h.postForm(form[1], url.Values{"csrf": {form[2]}}, sc)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/traffic?retried=delivery%2F3" {
		t.Fatalf("%d %v", res.StatusCode, res.Header)
	}
	if len(h.fb.retried) != 1 || h.fb.retried[0] != "delivery/3 alice" {
		t.Fatalf("retried %v: the operator's token name is what the audit names", h.fb.retried)
	}
	done := h.get(res.Header.Get("Location"), sc)
	must(t, done.body, `<p id="retried" class="notice good" role="status">Delivery delivery/3 is due again now.</p>`)
	if res := h.postForm("/console/dead-letters/9/retry", url.Values{"csrf": {form[2]}}, sc); res.StatusCode != http.StatusConflict {
		t.Errorf("a retry of what is no longer dead: %d", res.StatusCode)
	}
	for _, key := range []string{"0", "x", "-1", "3%2F..%2F4"} {
		if res := h.postForm("/console/dead-letters/"+key+"/retry", url.Values{"csrf": {form[2]}}, sc); res.StatusCode != http.StatusNotFound {
			t.Errorf("key %q: %d", key, res.StatusCode)
		}
	}
	if len(h.fb.retried) != 1 {
		t.Errorf("retried %v", h.fb.retried)
	}
}

// DESIGN §12: console.showPersonalData off (the default) shows no reason
// text nor a peer's detail, even when the data has some; on shows them.
func TestPersonalDataSetting(t *testing.T) {
	for _, on := range []bool{false, true} {
		h := newHarness(t, func(o *Options) { o.ShowPersonalData = on })
		sc, _ := h.login()
		traffic := h.get("/console/traffic", sc).body
		refused := h.get("/console/message/audit/17", sc).body
		must(t, traffic, "<code>UNAVAILABLE</code>")
		must(t, refused, `<code id="refusal-code">JWS_SIGNATURE_INVALID</code>`, `<dd id="refusal-reason">The signature does not match the content`)
		if strings.Contains(traffic, "detail-plain") {
			t.Error("a refusal's detail on the traffic page")
		}
		for name, b := range map[string]string{"dead letter reason": traffic, "refusal detail": refused} {
			marker := "reason-plain"
			if name != "dead letter reason" {
				marker = "detail-plain"
			}
			if got := strings.Contains(b, marker); got != on {
				t.Errorf("showPersonalData=%v: %s shown: %v", on, name, got)
			}
		}
	}
}

// Issue 12 §3: keys with their history in words, endpoints, the
// certificate, recent traffic.
func TestMemberPage(t *testing.T) {
	h := newHarness(t, nil)
	sc, _ := h.login()
	b := h.get("/console/member/TJ", sc).body
	keys := rowsOf(t, b, "member-keys")
	if len(keys) != 2 || !strings.Contains(keys[0], `data-kid="TJ-sig-2025plain"`) || !strings.Contains(keys[0], `<td class="key-history">`) {
		t.Fatalf("member keys: %q", keys)
	}
	must(t, keys[0], "Revoked as compromised", "Compromised since 2026-11-24 10:00:00 &#43;00:00: messages signed at or after 2026-11-24 10:00:00 &#43;00:00 are refused; messages signed before 2026-11-24 10:00:00 &#43;00:00 are still valid.")
	must(t, keys[1], "Retired at 2026-11-04 10:00:00 &#43;00:00: messages created before 2026-11-04 10:00:00 &#43;00:00 remain valid")
	must(t, b, "https://tj.crvs.example:8443/plain", "<code>tj:7000</code>", "<code>pin-plain</code>", `<table id="member-certificates">`, "conformance-1",
		`<table id="member-traffic">`, "Messages sent</th><td>12</td>", "Receipts received</th><td>11</td>")
	ru := h.do(withLang(httptestGet("/console/member/TJ", "ru"), sc)).body
	must(t, ru, "Скомпрометирован с 2026-11-24 10:00:00 &#43;00:00: сообщения, подписанные в 2026-11-24 10:00:00 &#43;00:00 или позже, отклоняются")
	tr := h.do(withLang(httptestGet("/console/member/TJ", "tr"), sc)).body
	must(t, tr, "2026-11-04 10:00:00 &#43;00:00 tarihinde kullanımdan kaldırıldı")
}

// Issue 12 §2: a message's timeline; a refused message's code and its
// sentence in the reader's language.
func TestMessagePage(t *testing.T) {
	h := newHarness(t, nil)
	sc, _ := h.login()
	b := h.get("/console/message/m-1", sc).body
	must(t, b, `<ol id="timeline" aria-labelledby="h-timeline">`, `<dd id="message-type">event.live-birth</dd>`, `<dd id="message-state">Dead letter</dd>`,
		`data-kind="accepted"><time datetime="2026-12-04T10:00:00Z">2026-12-04 10:00:00 &#43;00:00</time>: Accepted for delivery`,
		"Delivery attempt failed · <code>plain</code>", "time not recorded</span>: Taken by the national system (plain)", "a dead letter: an operator may retry")
	for lang, want := range map[string]string{"en": "The signature does not match", "ru": "Подпись не соответствует содержимому", "tr": "İmza içerikle eşleşmiyor"} {
		r := h.do(withLang(httptestGet("/console/message/audit/17", lang), sc)).body
		must(t, r, `<code id="refusal-code">JWS_SIGNATURE_INVALID</code>`, `<dd id="refusal-reason">`+want)
	}
	l := h.c.pages.cats["en"]
	for code, want := range map[string]string{"KEY_UNKNOWN": "problem.KEY_UNKNOWN", "JWS_HEADER_DUPLICATE": "problem.jws", "PAYLOAD_NOT_NFC": "problem.payload",
		"NEW_CODE": "problem.other", "": ""} {
		if got := problemKey(l, code); got != want {
			t.Errorf("%q: %q, want %q", code, got, want)
		}
	}
	if res := h.get("/console/message/nobody", sc); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown message: %d", res.StatusCode)
	}
}
