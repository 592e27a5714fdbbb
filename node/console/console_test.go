package console

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image/jpeg"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/console/view"
	"github.com/ecrn/crvsx/node/server"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/attest/qr"
)

// DESIGN §2: a good token logs in; a bad one is refused and sets no session.
func TestLoginWithAnOperatorToken(t *testing.T) {
	h := newHarness(t, nil)
	sc, _ := h.login()
	res := h.get("/console/overview", sc)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.body, "Operator: alice") {
		t.Fatalf("overview after login: %d\n%s", res.StatusCode, res.body)
	}

	form := h.get("/console/login")
	bad := h.postForm("/console/login", url.Values{"csrf": {csrfOf(t, form.body)}, "token": {"not-the-token-0123456789abcdef0123"}}, cookie(form, preCookie))
	if bad.StatusCode != http.StatusUnauthorized || cookie(bad, sessionCookie) != nil || !strings.Contains(bad.body, `id="login-error"`) {
		t.Fatalf("bad token: %d, cookies %v\n%s", bad.StatusCode, bad.Cookies(), bad.body)
	}
	if strings.Contains(bad.body, "not-the-token") {
		t.Fatal("the refused token is echoed")
	}
}

// DESIGN §2: HttpOnly, SameSite=Strict, Path=/console/, Secure iff TLS
// (or a proxy says https, or AssumeTLS).
func TestSessionCookieAttributes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		tls, proxy bool
		assume     bool
		wantSecure bool
	}{
		{"plain HTTP on loopback", false, false, false, false},
		{"TLS", true, false, false, true},
		{"behind a TLS proxy that says so", false, true, false, true},
		{"configured behind a TLS proxy", false, false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(o *Options) { o.AssumeTLS = tc.assume })
			form := h.get("/console/login")
			r := httptest.NewRequest(http.MethodPost, "/console/login", strings.NewReader(url.Values{"csrf": {csrfOf(t, form.body)}, "token": {operatorToken}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.AddCookie(cookie(form, preCookie))
			if tc.tls {
				r = tlsRequest(r)
			}
			if tc.proxy {
				r.Header.Set("X-Forwarded-Proto", "https")
			}
			res := h.do(r)
			c := cookie(res, sessionCookie)
			if c == nil {
				t.Fatalf("no session cookie: %d", res.StatusCode)
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console/" || c.Secure != tc.wantSecure {
				t.Fatalf("cookie %+v", c)
			}
			if len(c.Value) != 43 {
				t.Fatalf("session id %q is not 32 random bytes", c.Value)
			}
		})
	}
}

// DESIGN §6: the sixth attempt from one address within the burst is 429,
// whatever the token, and the right token does not get through either.
func TestLoginBruteForceIsRateLimited(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.LoginLimiter = server.NewClientLimiter(5, time.Hour, 100, time.Hour) })
	form := h.get("/console/login")
	pre, csrf := cookie(form, preCookie), csrfOf(t, form.body)
	for i := range 5 {
		res := h.postForm("/console/login", url.Values{"csrf": {csrf}, "token": {fmt.Sprintf("guess-%d-0123456789abcdef0123456789", i)}}, pre)
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, res.StatusCode)
		}
	}
	res := h.postForm("/console/login", url.Values{"csrf": {csrf}, "token": {operatorToken}}, pre)
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || cookie(res, sessionCookie) != nil {
		t.Fatalf("sixth attempt: %d %v", res.StatusCode, res.Header)
	}
	if !strings.Contains(res.body, "RATE_LIMITED") {
		t.Fatalf("429 page:\n%s", res.body)
	}
	// Another address still may (the global budget is not spent).
	r := httptest.NewRequest(http.MethodPost, "/console/login", strings.NewReader(url.Values{"csrf": {csrf}, "token": {operatorToken}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = "198.51.100.7:4000"
	r.AddCookie(pre)
	if res := h.do(r); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("another address: %d", res.StatusCode)
	}
}

// DESIGN §6: the global bucket stops many addresses together.
func TestLoginGlobalRateLimit(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.LoginLimiter = server.NewClientLimiter(5, time.Hour, 3, time.Hour) })
	form := h.get("/console/login")
	var last int
	for i := range 4 {
		r := httptest.NewRequest(http.MethodPost, "/console/login", strings.NewReader(url.Values{"csrf": {csrfOf(t, form.body)}, "token": {"x"}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = fmt.Sprintf("198.51.100.%d:4000", i+1)
		r.AddCookie(cookie(form, preCookie))
		last = h.do(r).StatusCode
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("fourth address: %d", last)
	}
}

// DESIGN §2: logout deletes the session server-side.
func TestLogoutInvalidatesTheSession(t *testing.T) {
	h := newHarness(t, nil)
	sc, csrf := h.login()
	res := h.postForm("/console/logout", url.Values{"csrf": {csrf}}, sc)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/login" {
		t.Fatalf("logout: %d %v", res.StatusCode, res.Header)
	}
	if c := cookie(res, sessionCookie); c == nil || c.MaxAge >= 0 {
		t.Fatalf("logout does not expire the cookie: %+v", c)
	}
	again := h.get("/console/overview", sc) // the old cookie, replayed
	if again.StatusCode != http.StatusSeeOther || again.Header.Get("Location") != "/console/login" {
		t.Fatalf("old session after logout: %d", again.StatusCode)
	}
}

// DESIGN §2: idle sessions expire.
func TestIdleSessionExpires(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, func(o *Options) { o.Now = func() time.Time { return now } })
	sc, _ := h.login()
	now = now.Add(idleExpiry + time.Second)
	if res := h.get("/console/overview", sc); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("idle session: %d", res.StatusCode)
	}
}

// DESIGN §3: every POST without the CSRF token is 403 and does nothing.
func TestEveryPostWithoutCSRFIsForbidden(t *testing.T) {
	h := newHarness(t, nil)
	sc, _ := h.login()
	for _, path := range []string{"/console/login", "/console/logout", "/console/dead-letters/d1/retry", "/console/approvals", "/console/verify"} {
		for _, csrf := range []string{"", "forged-token-of-the-right-length-0123456789a"} {
			t.Run(path+"/"+csrf, func(t *testing.T) {
				form := url.Values{"token": {operatorToken}, "approval": {"x.y.z"}}
				if csrf != "" {
					form.Set("csrf", csrf)
				}
				res := h.postForm(path, form, sc)
				if res.StatusCode != http.StatusForbidden {
					t.Fatalf("%d\n%s", res.StatusCode, res.body)
				}
				if cookie(res, sessionCookie) != nil {
					t.Fatal("a session cookie was set")
				}
			})
		}
	}
	for _, m := range []string{"RetryDeadLetter", "SubmitApproval", "Verify"} {
		if n := h.fb.count(m); n != 0 {
			t.Errorf("%s called %d times without a CSRF token", m, n)
		}
	}
	// The session is still there: a refused logout logged nobody out.
	if res := h.get("/console/overview", sc); res.StatusCode != http.StatusOK {
		t.Fatalf("session after refused logout: %d", res.StatusCode)
	}
}

// DESIGN §3: the pre-session token of one browser is not another's.
func TestLoginCSRFNeedsTheMatchingPreSessionCookie(t *testing.T) {
	h := newHarness(t, nil)
	a, b := h.get("/console/login"), h.get("/console/login")
	res := h.postForm("/console/login", url.Values{"csrf": {csrfOf(t, a.body)}, "token": {operatorToken}}, cookie(b, preCookie))
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("crossed pre-session tokens: %d", res.StatusCode)
	}
}

// DESIGN §2: an unknown or forged session cookie is no session.
func TestForgedSessionCookieRedirectsToLogin(t *testing.T) {
	h := newHarness(t, nil)
	h.login()
	for _, v := range []string{"forged", strings.Repeat("A", 43), strings.Repeat("x", 500), `"><script>`} {
		for _, path := range []string{"/console/overview", "/console/traffic", "/console/member/TJ", "/console/message/m1", "/console/approvals", "/console/"} {
			res := h.get(path, &http.Cookie{Name: sessionCookie, Value: url.QueryEscape(v)})
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/login" {
				t.Fatalf("%s with %q: %d %s", path, v, res.StatusCode, res.Header.Get("Location"))
			}
		}
	}
	if h.fb.count("Overview") != 1 { // the login's own page
		t.Fatalf("Overview called %d times", h.fb.count("Overview"))
	}
}

// multipartBody is a form with a file of size n.
func multipartBody(t *testing.T, csrf string, file []byte) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", csrf)
	fw, err := mw.CreateFormFile("file", "upload.png")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(file)
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// DESIGN §5: a 10 MB upload is 413 with a page, with or without a
// Content-Length.
func TestTenMegabyteUploadIs413(t *testing.T) {
	h := newHarness(t, nil)
	sc, csrf := h.login()
	big := bytes.Repeat([]byte{'A'}, 10<<20)
	for _, path := range []string{"/console/verify", "/console/approvals"} {
		for _, chunked := range []bool{false, true} {
			body, ct := multipartBody(t, csrf, big)
			var r *http.Request
			if chunked {
				r = httptest.NewRequest(http.MethodPost, path, struct{ *bytes.Buffer }{body})
				r.ContentLength = -1
			} else {
				r = httptest.NewRequest(http.MethodPost, path, body)
			}
			r.Header.Set("Content-Type", ct)
			r.AddCookie(sc)
			res := h.do(r)
			if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(res.body, "MESSAGE_TOO_LARGE") {
				t.Fatalf("%s chunked=%v: %d\n%.300s", path, chunked, res.StatusCode, res.body)
			}
		}
	}
	if h.fb.count("Verify")+h.fb.count("SubmitApproval") != 0 {
		t.Fatal("an oversized upload reached the backend")
	}
}

// Everything shown back is escaped by html/template (DESIGN §4).
func TestEchoedFieldsAreEscaped(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.ShowPersonalData = true }) // the reasons and details shown too
	h.fb.text = xss
	sc, csrf := h.login()
	pages := map[string]resp{
		"overview": h.get("/console/overview", sc),
		"member":   h.get("/console/member/"+url.PathEscape(xss), sc),
		"traffic":  h.get("/console/traffic?retried="+url.QueryEscape(xss), sc),
		"message":  h.get("/console/message/"+url.PathEscape(xss), sc),
		"refused":  h.get("/console/message/audit/17", sc),
		"approval": h.postForm("/console/approvals", url.Values{"csrf": {csrf}, "approval": {approvalJWS("proposal.approve")}}, sc),
		"notfound": h.get("/console/"+url.PathEscape(xss), sc),
		"verify":   h.postForm("/console/verify", url.Values{"csrf": {csrf}, "token": {xss}}, sc),
	}
	for name, res := range pages {
		if strings.Contains(res.body, "<script>") || strings.Contains(res.body, "<img src=x") || strings.Contains(res.body, "onerror=alert") && !strings.Contains(res.body, "&lt;img") {
			t.Errorf("%s: hostile markup is not escaped:\n%s", name, res.body)
		}
		if name != "notfound" && name != "verify" && !strings.Contains(res.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: the escaped text is not shown (%d)", name, res.StatusCode)
		}
	}
	// The language switch's next is a query value, escaped too.
	res := h.get("/console/lang?to=ru&next="+url.QueryEscape("/console/"+xss), sc)
	if loc := res.Header.Get("Location"); strings.ContainsAny(loc, `<>"'`) {
		t.Fatalf("redirect to %q", loc)
	}
}

// DESIGN §4: every response has the CSP and the other headers.
func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.LoginLimiter = server.NewClientLimiter(1, time.Hour, 10, time.Hour) })
	sc, csrf := h.login()
	big, ct := multipartBody(t, csrf, bytes.Repeat([]byte{'A'}, 9<<20))
	bigReq := httptest.NewRequest(http.MethodPost, "/console/verify", big)
	bigReq.Header.Set("Content-Type", ct)
	reqs := []*http.Request{
		httptest.NewRequest(http.MethodGet, "/console/", nil),
		httptest.NewRequest(http.MethodGet, "/console/login", nil),
		httptest.NewRequest(http.MethodGet, "/console/overview", nil),
		httptest.NewRequest(http.MethodGet, "/console/verify", nil),
		httptest.NewRequest(http.MethodGet, "/console/bundle", nil),
		httptest.NewRequest(http.MethodGet, "/console/static/console.css", nil),
		httptest.NewRequest(http.MethodGet, "/console/lang?to=tr&next=/console/verify", nil),
		httptest.NewRequest(http.MethodGet, "/console/no-such-page", nil),
		httptest.NewRequest(http.MethodPost, "/console/login", strings.NewReader("token=x")), // rate-limited: 429
		httptest.NewRequest(http.MethodPost, "/console/verify", strings.NewReader("a=b")),    // 415
		bigReq, // 413
	}
	for _, r := range reqs {
		r.AddCookie(sc)
		res := h.do(r)
		for k, want := range map[string]string{"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("%s %s (%d): %s = %q", r.Method, r.URL, res.StatusCode, k, got)
			}
		}
		if strings.Contains(strings.ToLower(res.body), "<script") || strings.Contains(res.body, " style=") {
			t.Errorf("%s: script or inline style in the page", r.URL)
		}
	}
}

func TestTheCSPIsTheDesignedOne(t *testing.T) {
	want := "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	if csp != want {
		t.Fatalf("csp = %q", csp)
	}
}

// DESIGN §1: the public handler serves verify, bundle, lang and the
// stylesheet, nothing that needs a login.
func TestPublicHandlerServesOnlyThePublicPages(t *testing.T) {
	h := newHarness(t, nil)
	pub := h.c.Public()
	for path, want := range map[string]int{"/console/verify": 200, "/console/bundle": 200, "/console/static/console.css": 200,
		"/console/lang?to=ru&next=/console/verify": 303, "/console/login": 404, "/console/overview": 404, "/console/traffic": 404, "/console/": 404} {
		w := httptest.NewRecorder()
		pub.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != want {
			t.Errorf("%s: %d, want %d", path, w.Code, want)
		}
		if w.Header().Get("Content-Security-Policy") != csp {
			t.Errorf("%s: no CSP", path)
		}
	}
}

func TestBundleDownloadCarriesItsGenesisPin(t *testing.T) {
	h := newHarness(t, nil)
	res := h.get("/console/bundle")
	pin := strings.Repeat("ab", 32)
	if res.StatusCode != 200 || res.Header.Get("Crvs-Genesis-Sha256") != pin || !strings.Contains(res.Header.Get("Content-Disposition"), "trust-bundle-abababababab.json") {
		t.Fatalf("%d %v", res.StatusCode, res.Header)
	}
	page := h.get("/console/verify")
	if !strings.Contains(page.body, `<code id="genesis-pin">`+pin+`</code>`) {
		t.Fatal("the verify page does not show the genesis pin")
	}
}

// DESIGN §8: Accept-Language, q-values, the cookie wins.
func TestLanguageChoice(t *testing.T) {
	for _, tc := range []struct{ header, cookie, want string }{
		{"", "", "en"},
		{"ru", "", "ru"},
		{"tr-TR,tr;q=0.9,en;q=0.8", "", "tr"},
		{"de-DE,ru;q=0.5,en;q=0.4", "", "ru"},
		{"en;q=0.3,ru;q=0.9", "", "ru"},
		{"fr, de", "", "en"},
		{"ru;q=abc", "", "en"},
		{"ru", "tr", "tr"},
		{"ru", "xx", "ru"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/console/verify", nil)
		if tc.header != "" {
			r.Header.Set("Accept-Language", tc.header)
		}
		if tc.cookie != "" {
			r.AddCookie(&http.Cookie{Name: langCookie, Value: tc.cookie})
		}
		if got := chooseLanguage(r); got != tc.want {
			t.Errorf("Accept-Language %q cookie %q: %s, want %s", tc.header, tc.cookie, got, tc.want)
		}
		h := newHarness(t, nil)
		if res := h.do(r); !strings.Contains(res.body, `<html lang="`+tc.want+`">`) || res.Header.Get("Content-Language") != tc.want {
			t.Errorf("%q: page not in %s", tc.header, tc.want)
		}
	}
}

// DESIGN §8: the switch sets the cookie and goes back, never elsewhere.
func TestLanguageSwitch(t *testing.T) {
	h := newHarness(t, nil)
	page := h.get("/console/verify")
	for _, l := range languages {
		if !strings.Contains(page.body, `id="lang-`+l+`"`) {
			t.Fatalf("no switch to %s", l)
		}
	}
	res := h.get("/console/lang?to=ru&next=/console/verify")
	c := cookie(res, langCookie)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/verify" || c == nil || c.Value != "ru" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("%d %v %+v", res.StatusCode, res.Header, c)
	}
	if ru := h.get("/console/verify", c); !strings.Contains(ru.body, `<html lang="ru">`) || !strings.Contains(ru.body, "Проверка подтверждения или сообщения") {
		t.Fatal("not Russian after the switch")
	}
	for _, next := range []string{"https://evil.example/", "//evil.example/console/", `/\evil.example`, "/v1/admin/backup", "/console/../v1/admin/backup", "javascript:alert(1)"} {
		res := h.get("/console/lang?to=tr&next=" + url.QueryEscape(next))
		if loc := res.Header.Get("Location"); loc != "/console/verify" {
			t.Errorf("next %q → %q", next, loc)
		}
	}
	if res := h.get("/console/lang?to=xx"); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown language: %d", res.StatusCode)
	}
}

// checkApproval refuses what is not a proposal.approve before the
// registry sees it.
func TestUploadedApprovalMustBeAProposalApprove(t *testing.T) {
	for _, tc := range []struct{ data, want string }{
		{"", "approvals.empty"},
		{"not a jws", "approvals.notjws"},
		{"a.!!!.c", "approvals.notjws"},
		{approvalJWS("member.suspend"), "approvals.notapproval"},
		{approvalJWS("proposal.approve"), ""},
		{approvalJWS("proposal.approve") + "\n" + approvalJWS("proposal.approve"), ""},
	} {
		if got := checkApproval([]byte(tc.data)); got != tc.want {
			t.Errorf("%.40q: %q, want %q", tc.data, got, tc.want)
		}
	}
	h := newHarness(t, nil)
	sc, csrf := h.login()
	res := h.postForm("/console/approvals", url.Values{"csrf": {csrf}, "approval": {approvalJWS("member.suspend")}}, sc)
	if res.StatusCode != http.StatusUnprocessableEntity || h.fb.count("SubmitApproval") != 0 {
		t.Fatalf("a non-approval: %d, submitted %d", res.StatusCode, h.fb.count("SubmitApproval"))
	}
	body, ct := multipartBody(t, csrf, []byte(approvalJWS("proposal.approve")+"\n"))
	r := httptest.NewRequest(http.MethodPost, "/console/approvals", body)
	r.Header.Set("Content-Type", ct)
	r.AddCookie(sc)
	if res := h.do(r); !strings.Contains(res.body, `id="approval-result"`) || h.fb.count("SubmitApproval") != 1 {
		t.Fatalf("an uploaded approval file: %d\n%s", res.StatusCode, res.body)
	}
}

func approvalJWS(typ string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"EdDSA"}`)) + "." + enc([]byte(`{"type":"`+typ+`","id":"x"}`)) + "." + enc([]byte("sig"))
}

func TestUnknownMemberIs404Page(t *testing.T) {
	h := newHarness(t, nil)
	sc, _ := h.login()
	res := h.get("/console/member/nobody", sc)
	if res.StatusCode != http.StatusNotFound || !strings.Contains(res.body, `id="error-code">NOT_FOUND`) {
		t.Fatalf("%d\n%s", res.StatusCode, res.body)
	}
}

// The verify page, in every language: a good attestation, a tampered one,
// and a QR code's PNG round trip.
func TestVerifyPage(t *testing.T) {
	w := newAttestWorld(t)
	good := w.token(t, "Civil Registry Office, Ministry of Justice")
	tampered := []byte(string(good[:len(good)-4]) + "AAAA")
	code, err := qr.Encode(good, "")
	if err != nil {
		t.Fatal(err)
	}
	png, err := code.PNG(4)
	if err != nil {
		t.Fatal(err)
	}
	img, err := code.Image(4)
	if err != nil {
		t.Fatal(err)
	}
	var photo bytes.Buffer // a phone's JPEG of the printed code
	if err := jpeg.Encode(&photo, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	headline := map[string]map[string]string{
		"valid":     {"en": "VALID: genuine and current", "ru": "ДЕЙСТВИТЕЛЬНО", "tr": "GEÇERLİ"},
		"not-valid": {"en": "NOT VALID", "ru": "НЕДЕЙСТВИТЕЛЬНО", "tr": "GEÇERSİZ"},
	}
	issuer := map[string]string{"en": "Tajikistan (TJ)", "ru": "Таджикистан (TJ)", "tr": "Tacikistan (TJ)"}
	for _, lang := range languages {
		for _, tc := range []struct {
			name  string
			text  []byte
			file  []byte
			class string
		}{
			{"good pasted", good, nil, "valid"},
			{"tampered pasted", tampered, nil, "not-valid"},
			{"good as a QR photo", nil, png, "valid"},
			{"good as a JPEG photo of the QR code", nil, photo.Bytes(), "valid"},
			{"good as a file", nil, append(good, '\n'), "valid"},
		} {
			t.Run(lang+"/"+tc.name, func(t *testing.T) {
				h := newHarness(t, nil)
				h.fb.view, h.fb.now = w.view, w.now
				form := h.get("/console/verify")
				var buf bytes.Buffer
				mw := multipart.NewWriter(&buf)
				mw.WriteField("csrf", csrfOf(t, form.body))
				mw.WriteField("token", string(tc.text))
				if tc.file != nil {
					fw, _ := mw.CreateFormFile("file", "upload")
					fw.Write(tc.file)
				}
				mw.Close()
				r := httptest.NewRequest(http.MethodPost, "/console/verify", &buf)
				r.Header.Set("Content-Type", mw.FormDataContentType())
				r.Header.Set("Accept-Language", lang)
				r.AddCookie(cookie(form, preCookie))
				res := h.do(r)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("%d\n%s", res.StatusCode, res.body)
				}
				if !strings.Contains(res.body, `<html lang="`+lang+`">`) || !strings.Contains(res.body, `class="verdict `+tc.class+`"`) ||
					!strings.Contains(res.body, headline[tc.class][lang]) {
					t.Fatalf("verdict:\n%s", res.body)
				}
				if tc.class == "valid" {
					if !strings.Contains(res.body, issuer[lang]) || !strings.Contains(res.body, "&#43;00:00") {
						t.Fatalf("valid verdict without issuer or time offset:\n%s", res.body)
					}
				} else if !strings.Contains(res.body, "JWS_SIGNATURE_INVALID") || strings.Contains(res.body, "Tajikistan") {
					t.Fatalf("tampered verdict:\n%s", res.body)
				}
				if lang != "en" && strings.Contains(res.body, "VALID —") {
					t.Fatal("the English Verdict.String() is shown")
				}
			})
		}
	}
}

// DESIGN §13: a signed message (a birth, typ crvs-event+jws) is verified
// as a message, in every language: valid with its sender, type, id and
// createdAt and no personal data; tampered, not valid with the code and
// its sentence and nothing from the payload.
func TestVerifyPageMessage(t *testing.T) {
	w := newAttestWorld(t)
	const id = "3b0f5a8e-6c1d-4e7a-9f2b-8d4c6e1a0b57"
	good := w.birth(t, id, w.now.Add(-30*time.Minute).In(time.FixedZone("", 3*3600)))
	tampered := []byte(string(good[:len(good)-4]) + "AAAA")
	headline := map[string]map[string]string{
		"valid":     {"en": "VALID: genuine, signed by the sender", "ru": "ДЕЙСТВИТЕЛЬНО: подлинное, подписано отправителем", "tr": "GEÇERLİ: gerçek; gönderen tarafından"},
		"not-valid": {"en": "NOT VALID", "ru": "НЕДЕЙСТВИТЕЛЬНО", "tr": "GEÇERSİZ"},
	}
	issuer := map[string]string{"en": "Türkiye (TR)", "ru": "Турция (TR)", "tr": "Türkiye (TR)"}
	signature := map[string]string{"en": "The signature does not match the content", "ru": "Подпись не соответствует содержимому", "tr": "İmza içerikle uyuşmuyor"}
	personal := []string{"Rahimzoda", "Раҳимзода", "34-BYO-2025-0012345", "Beyoğlu", "Hamidiye"}
	for _, lang := range languages {
		for _, tc := range []struct {
			name  string
			text  []byte
			class string
		}{
			{"birth", good, "valid"},
			{"tampered birth", tampered, "not-valid"},
		} {
			t.Run(lang+"/"+tc.name, func(t *testing.T) {
				h := newHarness(t, nil)
				h.fb.view, h.fb.now = w.view, w.now
				form := h.get("/console/verify")
				r := httptest.NewRequest(http.MethodPost, "/console/verify", strings.NewReader(url.Values{"csrf": {csrfOf(t, form.body)}, "token": {string(tc.text)}}.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Accept-Language", lang)
				r.AddCookie(cookie(form, preCookie))
				res := h.do(r)
				if res.StatusCode != http.StatusOK || h.fb.count("VerifyMessage") != 1 || h.fb.count("Verify") != 0 {
					t.Fatalf("%d, VerifyMessage %d, Verify %d\n%s", res.StatusCode, h.fb.count("VerifyMessage"), h.fb.count("Verify"), res.body)
				}
				if !strings.Contains(res.body, `<html lang="`+lang+`">`) || !strings.Contains(res.body, `data-outcome="`+tc.class+`"`) ||
					!strings.Contains(res.body, headline[tc.class][lang]) {
					t.Fatalf("verdict:\n%s", res.body)
				}
				for _, p := range personal {
					if strings.Contains(res.body, p) {
						t.Fatalf("the page shows personal data %q:\n%s", p, res.body)
					}
				}
				if tc.class == "valid" {
					for _, want := range []string{`id="verdict-issuer">` + issuer[lang] + `, <code>TR-`, `<code>event.live-birth</code> (<code>crvs-event&#43;jws</code>)`,
						`id="verdict-message-id"><code>` + id + `</code>`, `id="verdict-created"><time datetime="`, "&#43;00:00"} {
						if !strings.Contains(res.body, want) {
							t.Fatalf("valid message verdict without %q:\n%s", want, res.body)
						}
					}
				} else if !strings.Contains(res.body, `id="verdict-code">JWS_SIGNATURE_INVALID`) || !strings.Contains(res.body, signature[lang]) ||
					strings.Contains(res.body, id) || strings.Contains(res.body, "verdict-issuer") {
					t.Fatalf("tampered message verdict:\n%s", res.body)
				}
			})
		}
	}
}

// A message's refusal sentence is the message one where the attestation's
// would name an attestation, the shared one otherwise, and the message
// catch-all for a code with no sentence.
func TestMessageVerdictSentences(t *testing.T) {
	cats, err := loadCatalogues()
	if err != nil {
		t.Fatal(err)
	}
	en := cats["en"]
	for _, tc := range []struct {
		code protocol.Code
		key  string
	}{
		{protocol.CodeSignatureInvalid, "verdict.reason.JWS_SIGNATURE_INVALID"},
		{protocol.CodeKeyNotValid, "verdict.reason.KEY_NOT_VALID"},
		{protocol.CodeTypeMismatch, "verdict.message.reason.MESSAGE_TYPE_MISMATCH"},
		{protocol.CodeSchemaInvalid, "verdict.message.reason.SCHEMA_VALIDATION_FAILED"},
		{protocol.CodeBadBase64, "verdict.message.reason.other"},
		{"", "verdict.message.reason.other"},
	} {
		v := viewMessageVerdict(&view.MessageVerdict{Code: tc.code}, en)
		if v.Class != "not-valid" || v.Reason != en.T(tc.key) {
			t.Errorf("%s: %q %q, want %s", tc.code, v.Class, v.Reason, tc.key)
		}
		if strings.Contains(strings.ToLower(v.Reason), "attestation") && tc.key != "verdict.message.reason.other" {
			t.Errorf("%s: a message's sentence names an attestation: %q", tc.code, v.Reason)
		}
	}
}

// A PNG without a QR code, and nothing at all, are a 422 page.
func TestVerifyWithoutAToken(t *testing.T) {
	h := newHarness(t, nil)
	form := h.get("/console/verify")
	res := h.postForm("/console/verify", url.Values{"csrf": {csrfOf(t, form.body)}}, cookie(form, preCookie))
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, `id="verify-problem"`) {
		t.Fatalf("%d", res.StatusCode)
	}
	body, ct := multipartBody(t, csrfOf(t, form.body), append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 100)...))
	r := httptest.NewRequest(http.MethodPost, "/console/verify", body)
	r.Header.Set("Content-Type", ct)
	r.AddCookie(cookie(form, preCookie))
	if res := h.do(r); res.StatusCode != http.StatusUnprocessableEntity || h.fb.count("Verify") != 0 {
		t.Fatalf("broken PNG: %d", res.StatusCode)
	}
}

// DESIGN §6: verify POSTs are rate-limited too.
func TestVerifyIsRateLimited(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.VerifyLimiter = server.NewClientLimiter(1, time.Hour, 10, time.Hour) })
	form := h.get("/console/verify")
	v := url.Values{"csrf": {csrfOf(t, form.body)}}
	h.postForm("/console/verify", v, cookie(form, preCookie))
	if res := h.postForm("/console/verify", v, cookie(form, preCookie)); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("%d", res.StatusCode)
	}
}
