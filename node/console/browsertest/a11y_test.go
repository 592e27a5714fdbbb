package browsertest

import (
	_ "embed"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The accessibility check run on every page a scenario visits (issue 12
// "Done when"; node/console DESIGN §9). testdata/a11y.js audits the DOM
// (lang, landmarks, one h1, labels, accessible names, contrast); the
// keyboard walk here presses Tab and checks that focus follows the DOM's
// order from the skip link on, and that every focused element shows it.

//go:embed testdata/a11y.js
var a11yJS string

// maxTabs bounds the keyboard walk on long pages.
const maxTabs = 40

type auditResult struct {
	Violations []string `json:"violations"`
	Focusables []string `json:"focusables"`
}

type focusState struct {
	Index int    `json:"index"`
	What  string `json:"what"`
	Drawn bool   `json:"drawn"`
	Style string `json:"style"`
}

// accessibility audits the page as loaded and walks it with the keyboard;
// it returns the violations ("rule: detail"). It must run on a freshly
// loaded page: Tab starts from the top of the document.
func (p *page) accessibility() []string {
	p.t.Helper()
	res := eval[auditResult](p, "(() => {\n"+a11yJS+"\nreturn audit();\n})()")
	out := res.Violations
	return append(out, p.keyboard(res.Focusables)...)
}

// keyboard presses Tab through the page: each stop is the next element of
// the DOM's focus order (audit checked that the first is the skip link to
// <main>), and each shows a focus indicator (an outline or a box shadow).
func (p *page) keyboard(order []string) []string {
	p.t.Helper()
	var out []string
	for i := range min(len(order), maxTabs) {
		p.run("press Tab", chromedp.KeyEvent(kb.Tab))
		st := eval[focusState](p, "(() => {\n"+a11yJS+"\nreturn focusState();\n})()")
		if st.Index != i {
			want := order[i]
			out = append(out, fmt.Sprintf("keyboard: Tab %d focused %s, want %s (the DOM's order)", i+1, st.What, want))
			break
		}
		if !st.Drawn {
			out = append(out, fmt.Sprintf("focus: %s shows no focus indicator (%s)", st.What, st.Style))
		}
	}
	return out
}

// TestAccessibilityCheckCatches proves each rule of the check can fail:
// a page that keeps every rule passes, and each page made to break one
// rule is caught by that rule.
func TestAccessibilityCheckCatches(t *testing.T) {
	browser(t) // no browser fails here, once
	const css = `
html{font:16px/1.5 sans-serif;color:#1a1a1a;background:#fff}
a{color:#0b3d91}
a:focus-visible,button:focus-visible,input:focus-visible,textarea:focus-visible{outline:3px solid #0b3d91;outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:#fff}
.skip:focus{left:.5em}
header{background:#1f3a5f;color:#fff}
header a{color:#fff}
header a:focus-visible{outline-color:#fff}
.pale{color:#777777}
.big{font-size:24px;color:#949494}
.noring:focus-visible{outline:none}
.ghost{color:#ffffff;background:#f4f4f4}
`
	good := map[string]string{
		"head":   `<title>T</title><style>` + css + `</style>`,
		"skip":   `<a class="skip" href="#main">Skip to content</a>`,
		"header": `<header><p>Console</p><nav aria-label="Main"><ul><li><a id="n1" href="/a">One</a></li><li><a id="n2" href="/b">Two</a></li></ul></nav></header>`,
		"main": `<main id="main" tabindex="-1"><h1>Title</h1>
<form><p><label for="f">Field</label><input id="f" name="f"></p>
<p><label for="x">Text</label><textarea id="x" name="x"></textarea></p>
<p><button type="submit">Send</button></p></form>
<svg role="img" aria-label="A chart" width="10" height="10"><rect width="10" height="10"/></svg>
<p class="big">Large grey text at 3:1</p></main>`,
		"footer": `<footer><p>Footer</p></footer>`,
	}
	build := func(lang string, parts map[string]string) string {
		return `<!DOCTYPE html><html lang="` + lang + `"><head>` + parts["head"] + `</head><body>` +
			parts["skip"] + parts["header"] + parts["main"] + parts["footer"] + `</body></html>`
	}
	with := func(key, value string) map[string]string {
		m := map[string]string{}
		for k, v := range good {
			m[k] = v
		}
		m[key] = value
		return m
	}
	pages := map[string]string{"/good": build("en", good)}
	cases := []struct {
		path, html, rule, detail string
	}{
		{"/lang", build("de", good), "lang:", `lang="de"`},
		{"/no-header", build("en", with("header", `<nav aria-label="Main"><a href="/a">One</a></nav>`)), "landmark:", "<header>"},
		{"/no-footer", build("en", with("footer", "")), "landmark:", "<footer>"},
		{"/two-navs", build("en", with("header", `<header><nav><a href="/a">One</a></nav><nav><a href="/b">Two</a></nav></header>`)), "landmark:", "aria-label"},
		{"/two-h1", build("en", with("main", `<main id="main"><h1>One</h1><h1>Two</h1></main>`)), "h1:", "found 2"},
		{"/no-label", build("en", with("main", `<main id="main"><h1>T</h1><input id="f" name="f"></main>`)), "label:", "input#f"},
		{"/placeholder-is-no-label", build("en", with("main", `<main id="main"><h1>T</h1><textarea name="t" placeholder="paste here"></textarea></main>`)), "label:", "textarea"},
		{"/svg", build("en", with("main", `<main id="main"><h1>T</h1><svg width="10" height="10"><rect width="10" height="10"/></svg></main>`)), "name:", "<svg>"},
		{"/img", build("en", with("main", `<main id="main"><h1>T</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="1" height="1"></main>`)), "name:", "alt"},
		{"/empty-button", build("en", with("main", `<main id="main"><h1>T</h1><button type="button"></button></main>`)), "name:", "button"},
		{"/contrast", build("en", with("main", `<main id="main"><h1>T</h1><p class="pale">4.48 to 1 is not enough</p></main>`)), "contrast:", "#777777 on #ffffff"},
		{"/contrast-background", build("en", with("main", `<main id="main"><h1>T</h1><p class="ghost">white on pale grey</p></main>`)), "contrast:", "#ffffff on #f4f4f4"},
		{"/no-skip", build("en", with("skip", "")), "keyboard:", "skip link"},
		{"/tab-order", build("en", with("main", `<main id="main"><h1>T</h1><a href="/1">first</a><a href="/2" tabindex="3">jumps</a></main>`)), "keyboard:", "the DOM's order"},
		{"/no-focus-ring", build("en", with("main", `<main id="main"><h1>T</h1><a class="noring" href="/1">hidden focus</a></main>`)), "focus:", "hidden focus"},
	}
	for _, c := range cases {
		pages[c.path] = c.html
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		html, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, html)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()

	t.Run("a page that keeps every rule", func(t *testing.T) {
		p := newPage(t, dir)
		p.run("open", chromedp.Navigate(srv.URL+"/good"))
		p.waitLoaded("open /good")
		if v := p.accessibility(); len(v) > 0 {
			t.Errorf("a page that keeps every rule has violations:\n%s", strings.Join(v, "\n"))
		}
	})
	for _, c := range cases {
		t.Run(strings.TrimPrefix(c.path, "/"), func(t *testing.T) {
			p := newPage(t, dir)
			p.run("open", chromedp.Navigate(srv.URL+c.path))
			p.waitLoaded("open " + c.path)
			v := p.accessibility()
			for _, s := range v {
				if strings.HasPrefix(s, c.rule) && strings.Contains(s, c.detail) {
					return
				}
			}
			t.Errorf("%s: want a %s violation mentioning %q, got:\n%s", c.path, c.rule, c.detail, strings.Join(v, "\n"))
		})
	}
}
