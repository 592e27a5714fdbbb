package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ecrn/crvsx/node/console/view"
	"github.com/ecrn/crvsx/node/internal/httpio"
	"github.com/ecrn/crvsx/protocol"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/console.css
var stylesheet []byte

// pageNames are the page templates (templates/NAME.html, each defining
// "content" inside templates/layout.html).
var pageNames = []string{"login", "overview", "traffic", "message", "member", "approvals", "verify", "error"}

type pages struct {
	set  map[string]*template.Template
	cats map[string]catalogue
}

func loadPages(loc *time.Location) (*pages, error) {
	cats, err := loadCatalogues()
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		// when is a time with its offset (view.FormatTime, DESIGN §9).
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return view.FormatTime(t, loc)
		},
		"iso": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.In(loc).Format(time.RFC3339)
		},
		"dur":  func(d time.Duration) string { return d.Round(time.Millisecond).String() },
		"join": strings.Join,
		"add":  func(a, b int) int { return a + b },
		// The expiry calendar (view.ExpiryWarning's keys): the data-warn
		// value, the cell's class (the word is always there too), and
		// whether days left are worth saying.
		"warn":      warnValue,
		"warnClass": warnClass,
		"warnDays":  func(k string) bool { v := warnValue(k); return v == "60" || v == "30" || v == "7" },
	}
	root, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	p := &pages{set: map[string]*template.Template{}, cats: cats}
	for _, name := range pageNames {
		t, err := root.Clone()
		if err != nil {
			return nil, err
		}
		src, err := fs.ReadFile(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: templates: %w", err)
		}
		if _, err := t.New(name).Parse(string(src)); err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		p.set[name] = t
	}
	return p, nil
}

// warnValue is a row's data-warn: 60, 30, 7, expired or none.
func warnValue(key string) string {
	switch key {
	case view.Warn60Days:
		return "60"
	case view.Warn30Days:
		return "30"
	case view.Warn7Days:
		return "7"
	case view.WarnExpired:
		return "expired"
	}
	return "none"
}

func warnClass(key string) string {
	switch warnValue(key) {
	case "7", "expired":
		return "bad"
	case "30", "60":
		return "warn"
	}
	return ""
}

// page is what every template gets.
type page struct {
	Lang      string
	L         catalogue
	Langs     []string
	Title     string // a catalogue key
	Nav       string // the active nav item
	Operator  string // "" when not logged in
	CSRF      string
	Path      string // this page's path, for the language switch
	RequestID string
	Data      any
}

// newPage starts a page for the request, with the session if any.
func (c *Console) newPage(w http.ResponseWriter, r *http.Request, ss *session, title string) *page {
	lang := chooseLanguage(r)
	p := &page{Lang: lang, L: c.pages.cats[lang], Langs: languages, Title: title, Path: r.URL.Path,
		RequestID: httpio.RequestID(r.Context())}
	if ss != nil {
		p.Operator, p.CSRF = ss.operator, ss.csrf
	} else {
		p.CSRF = c.preToken(w, r)
	}
	return p
}

// render executes a page into a buffer first: a failure is a plain 500,
// never half a page (DESIGN §7).
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	var buf bytes.Buffer
	if err := c.pages.set[name].ExecuteTemplate(&buf, "layout.html", p); err != nil {
		c.opt.Log.Error("console: template failed", slog.String("page", name), slog.Any("err", err))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, "internal error")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", p.Lang)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorData is the error page's content.
type errorData struct {
	Status  int
	Message string // a catalogue key
	Code    string // a stable protocol code, if any
}

// fail writes an error page (DESIGN §7).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, ss *session, status int, msgKey, code string) {
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "60")
	}
	p := c.newPage(w, r, ss, "error.title")
	p.Data = errorData{Status: status, Message: msgKey, Code: code}
	c.render(w, r, status, "error", p)
}

// formFailed answers a readForm error.
func (c *Console) formFailed(w http.ResponseWriter, r *http.Request, ss *session, err error) {
	switch err {
	case errTooLarge:
		c.fail(w, r, ss, http.StatusRequestEntityTooLarge, "error.toolarge", string(protocol.CodeTooLarge))
	case errFormType:
		c.fail(w, r, ss, http.StatusUnsupportedMediaType, "error.formtype", "")
	default:
		c.fail(w, r, ss, http.StatusBadRequest, "error.badform", "")
	}
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	ss, _ := c.sessionOf(r)
	c.fail(w, r, ss, http.StatusNotFound, "error.notfound", string(protocol.CodeNotFound))
}

func (c *Console) css(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Write(stylesheet)
}
