package console

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/attest"
	"github.com/ecrn/crvsx/protocol/attest/qr"
)

// DESIGN §5: the form of each POST.
var (
	loginSpec    = formSpec{fields: map[string]int{"csrf": 64, "token": 512}, totalMax: smallFormLimit}
	csrfOnlySpec = formSpec{fields: map[string]int{"csrf": 64}, totalMax: smallFormLimit}
	approvalSpec = formSpec{fields: map[string]int{"csrf": 64, "approval": 1 << 20}, file: "file", fileMax: 1 << 20,
		totalMax: 1<<20 + formOverhead}
	verifySpec = formSpec{fields: map[string]int{"csrf": 64, "token": attest.MaxTokenBytes}, file: "file", fileMax: qr.MaxPNGBytes,
		totalMax: qr.MaxPNGBytes + formOverhead}
)

func (c *Console) root(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.sessionOf(r); ok {
		http.Redirect(w, r, "/console/overview", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

type loginData struct{ Failed bool }

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.sessionOf(r); ok {
		http.Redirect(w, r, "/console/overview", http.StatusSeeOther)
		return
	}
	p := c.newPage(w, r, nil, "login.title")
	p.Data = loginData{}
	c.render(w, r, http.StatusOK, "login", p)
}

// login is DESIGN §2, §3, §6: rate limit, CSRF (double submit), then the
// constant-time token check; a fresh session on success.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if !allow(c.opt.LoginLimiter, r) {
		c.opt.Log.Warn("console: login rate-limited", slog.String("client", clientIP(r)))
		c.fail(w, r, nil, http.StatusTooManyRequests, "error.ratelimited", string(protocol.CodeRateLimited))
		return
	}
	f, err := readForm(w, r, loginSpec)
	if err != nil {
		c.formFailed(w, r, nil, err)
		return
	}
	if !csrfOK(r, nil, f.get("csrf")) {
		c.fail(w, r, nil, http.StatusForbidden, "error.csrf", "")
		return
	}
	name, ok := "", false
	if c.opt.Tokens != nil {
		name, ok = c.opt.Tokens.Match(strings.TrimSpace(f.get("token")))
	}
	if !ok {
		c.opt.Log.Warn("console: login refused", slog.String("client", clientIP(r)))
		p := c.newPage(w, r, nil, "login.title")
		p.Data = loginData{Failed: true}
		c.render(w, r, http.StatusUnauthorized, "login", p)
		return
	}
	ss := c.sessions.create(name)
	c.setCookie(w, r, sessionCookie, ss.id, 0)
	c.setCookie(w, r, preCookie, "", -1)
	c.opt.Log.Info("console: operator logged in", slog.String("operator", name), slog.String("client", clientIP(r)))
	http.Redirect(w, r, "/console/overview", http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, ss *session) {
	if !c.checkPost(w, r, ss, csrfOnlySpec) {
		return
	}
	c.sessions.delete(ss.id)
	c.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

// checkPost reads a form and checks its CSRF token; false when it
// answered.
func (c *Console) checkPost(w http.ResponseWriter, r *http.Request, ss *session, spec formSpec) bool {
	_, ok := c.postForm(w, r, ss, spec)
	return ok
}

func (c *Console) postForm(w http.ResponseWriter, r *http.Request, ss *session, spec formSpec) (*form, bool) {
	f, err := readForm(w, r, spec)
	if err != nil {
		c.formFailed(w, r, ss, err)
		return nil, false
	}
	if !csrfOK(r, ss, f.get("csrf")) {
		c.fail(w, r, ss, http.StatusForbidden, "error.csrf", "")
		return nil, false
	}
	return f, true
}

func trimSpace(b []byte) []byte { return bytes.TrimSpace(b) }

// checkApproval returns "" if data is entry data (REGISTRY §4: compact JWS
// separated by LF) whose payload says type proposal.approve, else the
// catalogue key of why not. It checks no signature: the registry does.
func checkApproval(data []byte) string {
	if len(data) == 0 {
		return "approvals.empty"
	}
	first, _, _ := bytes.Cut(data, []byte("\n"))
	seg := bytes.Split(bytes.TrimSpace(first), []byte("."))
	if len(seg) != 3 || len(seg[1]) > protocol.MaxMessageBytes {
		return "approvals.notjws"
	}
	payload, err := base64.RawURLEncoding.DecodeString(string(seg[1]))
	if err != nil {
		return "approvals.notjws"
	}
	var cmd struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(payload, &cmd) != nil {
		return "approvals.notjws"
	}
	if cmd.Type != "proposal.approve" {
		return "approvals.notapproval"
	}
	return ""
}

// verifyData is the verify page: the verdict, or why nothing was checked.
type verifyData struct {
	Verdict *verdictView
	Problem string // a catalogue key
	Pin     string // the genesis SHA-256
}

func (c *Console) verifyForm(w http.ResponseWriter, r *http.Request) {
	ss, _ := c.sessionOf(r)
	p := c.newPage(w, r, ss, "verify.title")
	p.Nav, p.Data = "verify", verifyData{Pin: c.opt.Data.GenesisSHA256()}
	c.render(w, r, http.StatusOK, "verify", p)
}

// verify checks a pasted or uploaded attestation or signed message, or a
// PNG photo of its QR code (protocol/attest/qr), against the node's trust
// view.
func (c *Console) verify(w http.ResponseWriter, r *http.Request) {
	ss, _ := c.sessionOf(r)
	if !allow(c.opt.VerifyLimiter, r) {
		c.fail(w, r, ss, http.StatusTooManyRequests, "error.ratelimited", string(protocol.CodeRateLimited))
		return
	}
	f, ok := c.postForm(w, r, ss, verifySpec)
	if !ok {
		return
	}
	p := c.newPage(w, r, ss, "verify.title")
	p.Nav = "verify"
	token, problem := tokenOf(f)
	if problem != "" {
		p.Data = verifyData{Problem: problem, Pin: c.opt.Data.GenesisSHA256()}
		c.render(w, r, http.StatusUnprocessableEntity, "verify", p)
		return
	}
	if !attest.IsAttestation(token) {
		// Issue 12 item 4: anything else is checked as a signed message
		// of the exchange (an event such as a birth), SPEC §6.
		mv, err := c.opt.Data.VerifyMessage(token, c.opt.Now())
		if mv == nil {
			if err == nil {
				err = errors.New("no verdict")
			}
			c.dataFailed(w, r, ss, err)
			return
		}
		p.Data = verifyData{Verdict: viewMessageVerdict(mv, p.L), Pin: c.opt.Data.GenesisSHA256()}
		c.render(w, r, http.StatusOK, "verify", p)
		return
	}
	v, err := c.opt.Data.Verify(token, c.opt.Now())
	if v == nil {
		if err == nil {
			err = errors.New("no verdict")
		}
		c.dataFailed(w, r, ss, err)
		return
	}
	p.Data = verifyData{Verdict: viewVerdict(v, p.L), Pin: c.opt.Data.GenesisSHA256()}
	c.render(w, r, http.StatusOK, "verify", p)
}

// tokenOf is the token to check: the uploaded file (a PNG or a JPEG photo
// is read as a QR code) or the pasted text; "" and a catalogue key if none.
func tokenOf(f *form) ([]byte, string) {
	tok := []byte(f.get("token"))
	if f.file != nil {
		if qr.IsImage(f.file) {
			b, err := qr.DecodeFile(f.file)
			if err != nil {
				return nil, "verify.noqr"
			}
			tok = b
		} else {
			if len(f.file) > attest.MaxTokenBytes {
				return nil, "verify.toolarge"
			}
			tok = f.file
		}
	}
	tok = bytes.TrimSpace(tok)
	if len(tok) == 0 {
		return nil, "verify.empty"
	}
	return tok, ""
}

// bundle is the trust bundle download, its genesis pin in a header and
// in the file name (the verify page shows it too).
func (c *Console) bundle(w http.ResponseWriter, r *http.Request) {
	b, pin, err := c.opt.Data.Bundle(r.Context())
	if err != nil {
		ss, _ := c.sessionOf(r)
		c.dataFailed(w, r, ss, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Crvs-Genesis-Sha256", pin)
	name := "trust-bundle.json"
	if len(pin) >= 12 {
		name = "trust-bundle-" + pin[:12] + ".json"
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Write(b)
}

// lang is the language switch (DESIGN §8): a cookie, then back to next.
func (c *Console) lang(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	to := q.Get("to")
	valid := false
	for _, l := range languages {
		valid = valid || l == to
	}
	if !valid {
		c.fail(w, r, nil, http.StatusBadRequest, "error.badform", "")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: to, Path: cookiePath, MaxAge: int(365 * 24 * time.Hour / time.Second),
		HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, safeNext(q.Get("next")), http.StatusSeeOther)
}

// safeNext is next if it is a path under /console/, else the verify page:
// never an open redirect.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/console/") ||
		strings.Contains(next, "//") || strings.Contains(next, `\`) || strings.Contains(u.Path, "..") {
		return "/console/verify"
	}
	p := strings.ReplaceAll(u.EscapedPath(), "'", "%27")
	if !nextRE.MatchString(p) {
		return "/console/verify"
	}
	return p
}

var nextRE = regexp.MustCompile(`^/console/[A-Za-z0-9/_.~%-]*$`)
