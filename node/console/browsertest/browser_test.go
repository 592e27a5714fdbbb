package browsertest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The harness: one headless Chromium for the whole package (started on
// first use, stopped by TestMain), and a page per scenario in a browser
// context of its own (its own cookies: the nodes of a devnet share the
// host 127.0.0.1, and cookies do not tell ports apart).

// Step bounds: a page load or a click that loads one, an element to
// appear, and the browser's start.
const (
	stepTimeout   = 30 * time.Second
	waitTimeout   = 30 * time.Second
	browserWithin = 60 * time.Second
)

var shared struct {
	once   sync.Once
	ctx    context.Context // a chromedp context whose browser runs
	cancel func()
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cancel != nil {
		shared.cancel()
	}
	os.Exit(code)
}

// chromiumPath is $CRVSX_CHROMIUM, or chromium (Debian's package) on
// $PATH.
func chromiumPath() (string, error) {
	if p := os.Getenv("CRVSX_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("CRVSX_CHROMIUM=%s: %w", p, err)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium on $PATH and CRVSX_CHROMIUM is not set: the console's browser tests need headless Chromium " +
		"(Debian: apt-get install chromium; .ci/run installs it)")
}

// browser returns the shared browser's context, starting it on first use.
// No browser fails the test: it is never skipped.
func browser(t *testing.T) context.Context {
	t.Helper()
	shared.once.Do(func() {
		path, err := chromiumPath()
		if err != nil {
			shared.err = err
			return
		}
		// Headless, no sandbox (CI runs as root, where Chromium's sandbox
		// refuses to start), a fresh temporary profile (chromedp makes one
		// and removes it when the browser stops: no user-data-dir flag).
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.NoSandbox,
			chromedp.WindowSize(1280, 900),
			chromedp.Flag("lang", "en-US"),
			chromedp.Flag("accept-lang", "en-US,en"),
		)
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		shared.cancel = func() { bcancel(); acancel() }
		// The first Run starts the browser and binds it to bctx: no
		// timeout on it (it would stop the browser), a watchdog instead.
		started := make(chan error, 1)
		go func() { started <- chromedp.Do(bctx) }()
		select {
		case err = <-started:
		case <-time.After(browserWithin):
			err = fmt.Errorf("%s did not start within %s", path, browserWithin)
			shared.cancel()
		}
		if err != nil {
			shared.err = fmt.Errorf("start %s: %w", path, err)
			return
		}
		shared.ctx = bctx
	})
	if shared.err != nil {
		t.Fatalf("headless Chromium: %v", shared.err)
	}
	return shared.ctx
}

// screenshotDir is $CRVSX_SCREENSHOTS (created), else a temporary folder
// of the test.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CRVSX_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("CRVSX_SCREENSHOTS: %v", err)
	}
	return dir
}

// page is one browser tab, in a browser context of its own, driven by
// one (sub)test. Every page it loads is checked for accessibility and
// photographed.
type page struct {
	t     *testing.T
	ctx   context.Context
	name  string // the scenario: the screenshots' prefix
	dir   string
	shots int
}

func newPage(t *testing.T, dir string) *page {
	t.Helper()
	b := browser(t)
	ctx, cancel := chromedp.NewContext(b, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &page{t: t, ctx: ctx, dir: dir, name: fileName(t.Name())}
	// The tab's first Run opens it: no timeout on that one either.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return p
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func fileName(s string) string { return strings.Trim(unsafeName.ReplaceAllString(s, "_"), "_") }

// run runs actions within stepTimeout; a failure saves a screenshot of
// the page as it is and stops the test.
func (p *page) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.screenshot("failed")
		p.t.Fatalf("%s: %v (at %s)", what, err, p.location())
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %.60q: %v", expr, err)
	}
	return v
}

func (p *page) location() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "(location unknown: " + err.Error() + ")"
	}
	return loc
}

// path is the path of the page's URL.
func (p *page) path() string {
	p.t.Helper()
	u, err := url.Parse(p.location())
	if err != nil {
		p.t.Fatalf("location: %v", err)
	}
	return u.Path
}

// open loads a URL, then checks and photographs the page.
func (p *page) open(u, step string) {
	p.t.Helper()
	p.run("open "+u, chromedp.Navigate(u))
	p.waitLoaded("open " + u)
	p.visited(step)
}

// follow clicks what sel selects (a link or a submit button), waits for
// the page it loads, then checks and photographs that page.
func (p *page) follow(sel, step string) {
	p.t.Helper()
	p.run("mark the page before "+sel, chromedp.Evaluate[chromedp.Void](`window.__crvsxOld = true`))
	p.run("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	p.waitLoaded("after clicking " + sel)
	p.visited(step)
}

// waitLoaded waits until a new document has loaded (the old one was
// marked by follow; Navigate's is new already).
func (p *page) waitLoaded(what string) {
	p.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
		done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!window.__crvsxOld && document.readyState === "complete"`))
		cancel()
		if err == nil && done {
			return
		}
		if time.Now().After(deadline) {
			p.screenshot("failed")
			p.t.Fatalf("%s: no new page loaded within %s (last error: %v; at %s)", what, waitTimeout, err, p.location())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// visited is every page's routine: a screenshot of the page as loaded,
// then the accessibility check (whose keyboard walk moves the focus).
func (p *page) visited(step string) {
	p.t.Helper()
	p.screenshot(step)
	for _, v := range p.accessibility() {
		p.t.Errorf("accessibility of %s (%s): %s", p.location(), step, v)
	}
}

// screenshot saves a full-page PNG: DIR/<test>-<nn>-<step>.png.
func (p *page) screenshot(step string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Errorf("screenshot %s: %v", step, err)
		return
	}
	p.shots++
	file := filepath.Join(p.dir, fmt.Sprintf("%s-%02d-%s.png", p.name, p.shots, fileName(step)))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		p.t.Errorf("screenshot %s: %v", step, err)
		return
	}
	p.t.Logf("screenshot: %s", file)
}

// has reports whether sel selects an element now.
func (p *page) has(sel string) bool {
	p.t.Helper()
	return eval[bool](p, fmt.Sprintf(`document.querySelector(%s) !== null`, jsString(sel)))
}

// text is the trimmed text of the element sel selects; the test fails if
// there is none within waitTimeout.
func (p *page) text(sel string) string {
	p.t.Helper()
	p.waitFor(sel)
	return strings.TrimSpace(eval[string](p, fmt.Sprintf(`document.querySelector(%s).textContent`, jsString(sel))))
}

// attr is an attribute of the element sel selects ("" if it has none).
func (p *page) attr(sel, name string) string {
	p.t.Helper()
	p.waitFor(sel)
	return eval[string](p, fmt.Sprintf(`document.querySelector(%s).getAttribute(%s) || ""`, jsString(sel), jsString(name)))
}

// texts are the trimmed texts of every element sel selects.
func (p *page) texts(sel string) []string {
	p.t.Helper()
	return eval[[]string](p, fmt.Sprintf(`Array.from(document.querySelectorAll(%s), e => e.textContent.trim())`, jsString(sel)))
}

// waitFor waits until sel selects an element.
func (p *page) waitFor(sel string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(sel))); err != nil {
		p.screenshot("failed")
		p.t.Fatalf("no %s on %s: %v", sel, p.location(), err)
	}
}

// fill sets a form field's value (as pasting would).
func (p *page) fill(sel, value string) {
	p.t.Helper()
	p.run("fill "+sel, chromedp.SetValue(chromedp.CSS(sel), value, chromedp.NodeVisible))
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// cssString quotes s for an attribute value in a CSS selector.
func cssString(s string) string { return jsString(s) }
