package console

import (
	"bytes"
	"io/fs"
	"maps"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ecrn/crvsx/node/console/view"
)

// DESIGN §8: every key in every language, no extra key, the same verbs.
func TestCataloguesAreComplete(t *testing.T) {
	cats, err := loadCatalogues()
	if err != nil {
		t.Fatal(err)
	}
	verbs := regexp.MustCompile(`%(\[\d+\])?[sdv]`)
	count := func(s string) []string {
		v := verbs.FindAllString(s, -1)
		for i := range v {
			v[i] = v[i][len(v[i])-1:]
		}
		slices.Sort(v)
		return v
	}
	en := cats["en"]
	for _, l := range languages {
		c := cats[l]
		for k, s := range en {
			tr, ok := c[k]
			if !ok {
				t.Errorf("%s: missing key %q", l, k)
				continue
			}
			if strings.TrimSpace(tr) == "" {
				t.Errorf("%s: %q is empty", l, k)
			}
			if !slices.Equal(count(s), count(tr)) {
				t.Errorf("%s: %q has verbs %v, English %v", l, k, count(tr), count(s))
			}
		}
		for k := range c {
			if _, ok := en[k]; !ok {
				t.Errorf("%s: extra key %q", l, k)
			}
		}
	}
}

// Every literal key a template uses exists in English (and so, by the
// test above, everywhere).
func TestTemplatesUseOnlyKnownKeys(t *testing.T) {
	cats, _ := loadCatalogues()
	key := regexp.MustCompile(`\.T "([a-z0-9.\-]+)"`)
	prefix := regexp.MustCompile(`\.Or "([a-z]+)"`)
	files, _ := fs.Glob(templateFS, "templates/*.html")
	n := 0
	for _, f := range files {
		b, _ := fs.ReadFile(templateFS, f)
		for _, m := range key.FindAllSubmatch(b, -1) {
			n++
			if _, ok := cats["en"][string(m[1])]; !ok {
				t.Errorf("%s: key %q is in no catalogue", f, m[1])
			}
		}
		for _, m := range prefix.FindAllSubmatch(b, -1) {
			found := false
			for k := range cats["en"] {
				found = found || strings.HasPrefix(k, string(m[1])+".")
			}
			if !found {
				t.Errorf("%s: no key with prefix %q", f, m[1])
			}
		}
	}
	if n < 50 {
		t.Fatalf("found only %d keys: the pattern is wrong", n)
	}
	// And the Go code's keys.
	for _, k := range []string{"error.session", "error.csrf", "error.toolarge", "error.formtype", "error.badform", "error.notfound",
		"error.ratelimited", "error.unavailable", "error.internal", "verify.noqr", "verify.toolarge", "verify.empty",
		"approvals.empty", "approvals.notjws", "approvals.notapproval", "verdict.valid", "verdict.expired", "verdict.notvalid",
		"verdict.reason.other", "match.other", "refusal.other"} {
		if _, ok := cats["en"][k]; !ok {
			t.Errorf("code key %q is in no catalogue", k)
		}
	}
}

// Every message key of the view models (view.MessageKeys) is in every
// catalogue, with the verbs of its {N} arguments (%[N+1]s, %[N+1]d).
func TestEveryViewMessageKeyIsInEveryCatalogue(t *testing.T) {
	cats, err := loadCatalogues()
	if err != nil {
		t.Fatal(err)
	}
	arg := regexp.MustCompile(`\{(\d)\}`)
	verb := regexp.MustCompile(`%\[(\d)\][sdv]`)
	if len(view.MessageKeys) < 60 {
		t.Fatalf("view.MessageKeys has %d keys", len(view.MessageKeys))
	}
	for _, l := range languages {
		for _, k := range view.SortedKeys() {
			text, ok := cats[l][k]
			if !ok {
				t.Errorf("%s: view key %q is missing", l, k)
				continue
			}
			want := map[string]bool{}
			for _, m := range arg.FindAllStringSubmatch(view.MessageKeys[k], -1) {
				want[string(rune(m[1][0]+1))] = true
			}
			got := map[string]bool{}
			for _, m := range verb.FindAllStringSubmatch(text, -1) {
				got[m[1]] = true
			}
			if !maps.Equal(want, got) {
				t.Errorf("%s: %q has arguments %v, the view's default %v", l, k, got, want)
			}
			if l != "en" && k != view.WarnNone && text == cats["en"][k] && !strings.Contains(text, "%") {
				t.Errorf("%s: %q is the English text %q", l, k, text)
			}
		}
	}
}

// Every reason attest.Verdict.reason knows has its own sentence.
func TestEveryVerdictCodeHasASentence(t *testing.T) {
	cats, _ := loadCatalogues()
	for _, code := range []string{"JWS_SIGNATURE_INVALID", "KEY_UNKNOWN", "ATTESTATION_ISSUER_NOT_MEMBER", "KEY_NOT_VALID",
		"ATTESTATION_ISSUER_NOT_ACTIVE", "SENDER_MISMATCH", "ATTESTATION_TIME_MISMATCH", "MESSAGE_FROM_FUTURE", "JWS_TYP_MISMATCH",
		"MESSAGE_TYPE_MISMATCH", "MESSAGE_TOO_LARGE", "SCHEMA_VALIDATION_FAILED", "SEMANTIC_VALIDATION_FAILED"} {
		if !cats["en"].Has("verdict.reason." + code) {
			t.Errorf("no sentence for %s", code)
		}
	}
}

// DESIGN §9: the landmarks, one h1, labels, and tables with captions on
// every page, in every language.
func TestPagesAreSemantic(t *testing.T) {
	h := newHarness(t, nil)
	sc, _ := h.login()
	for _, path := range []string{"/console/login", "/console/overview", "/console/traffic", "/console/traffic?window=1h", "/console/traffic?window=7d",
		"/console/message/m1", "/console/message/audit/17", "/console/member/TJ", "/console/approvals", "/console/verify", "/console/nothing"} {
		for _, lang := range languages {
			r := httptestGet(path, lang)
			if path != "/console/login" {
				r.AddCookie(sc)
			}
			res := h.do(r)
			b := res.body
			for _, want := range []string{`<html lang="` + lang + `">`, `<a class="skip-link" href="#main">`, "<header>", "<nav ", `<main id="main"`, "<footer>"} {
				if !strings.Contains(b, want) {
					t.Errorf("%s %s: no %s", path, lang, want)
				}
			}
			if n := strings.Count(b, "<h1"); n != 1 {
				t.Errorf("%s %s: %d h1", path, lang, n)
			}
			for _, id := range regexp.MustCompile(`<(?:input|textarea|select) id="([^"]+)"`).FindAllStringSubmatch(b, -1) {
				if !strings.Contains(b, `<label for="`+id[1]+`">`) {
					t.Errorf("%s: input %s has no label", path, id[1])
				}
			}
			if strings.Count(b, "<table") != strings.Count(b, "<caption>") {
				t.Errorf("%s: a table without a caption", path)
			}
			if n := len(regexp.MustCompile(`<th[ >]`).FindAllString(b, -1)); n != strings.Count(b, `<th scope="`) {
				t.Errorf("%s: a th without scope", path)
			}
			// Charts carry their name and description (role=img, title, desc).
			if n := strings.Count(b, "<svg"); n != strings.Count(b, `role="img"`) || n != strings.Count(b, "<title>")-1 || n != strings.Count(b, "<desc ") {
				t.Errorf("%s: an svg without role, title or desc", path)
			}
			if strings.Contains(path, "traffic") && strings.Count(b, "<svg") != 2 {
				t.Errorf("%s: %d charts, want 2", path, strings.Count(b, "<svg"))
			}
		}
	}
}

func httptestGet(path, lang string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, path, nil)
	r.RemoteAddr = "192.0.2.1:1234"
	r.Header.Set("Accept-Language", lang)
	return r
}

// DESIGN §9: the palette's pairs meet WCAG AA (4.5:1), and the stylesheet
// uses those colours.
func TestPaletteContrast(t *testing.T) {
	for _, p := range []struct {
		use, fg, bg string
		want        float64
	}{
		{"text", "#1a1a1a", "#ffffff", 17.4},
		{"muted", "#555555", "#ffffff", 7.5},
		{"link", "#0b3d91", "#ffffff", 10.0},
		{"header", "#ffffff", "#1f3a5f", 11.5},
		{"button", "#ffffff", "#0b3d91", 10.0},
		{"valid", "#14532d", "#e8f5ec", 8.1},
		{"expired", "#6b4400", "#fff4d6", 7.8},
		{"not valid", "#8b1a1a", "#fdeaea", 8.0},
	} {
		r := contrast(p.fg, p.bg)
		if r < 4.5 {
			t.Errorf("%s: %s on %s is %.2f:1, under WCAG AA", p.use, p.fg, p.bg, r)
		}
		if r < p.want-0.1 || r > p.want+0.1 {
			t.Errorf("%s: %.2f:1, DESIGN says %.1f", p.use, r, p.want)
		}
		if !bytes.Contains(stylesheet, []byte(p.fg)) || !bytes.Contains(stylesheet, []byte(p.bg)) {
			t.Errorf("%s: the stylesheet does not use %s/%s", p.use, p.fg, p.bg)
		}
	}
}

func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(hex string) float64 {
	var rgb [3]float64
	for i := range 3 {
		var v int
		for _, c := range hex[1+2*i : 3+2*i] {
			v = v*16 + strings.IndexRune("0123456789abcdef", c)
		}
		s := float64(v) / 255
		if s <= 0.03928 {
			rgb[i] = s / 12.92
		} else {
			rgb[i] = pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*rgb[0] + 0.7152*rgb[1] + 0.0722*rgb[2]
}

func pow(x, y float64) float64 { return math.Pow(x, y) }
