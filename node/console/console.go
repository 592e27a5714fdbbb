package console

import (
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Limiter limits attempts per client key (node/server.ClientLimiter).
type Limiter interface {
	Allow(client string) bool
}

// Tokens checks an operator's token (node/server.Tokens.Match).
type Tokens interface {
	Match(token string) (name string, ok bool)
}

// Options configure a Console.
type Options struct {
	// Data is the node's data (view.Data); required.
	Data Data
	// Tokens are the admin tokens: the login's operator tokens.
	Tokens Tokens
	// LoginLimiter and VerifyLimiter are DESIGN §6's; nil allows all
	// (tests only: the node always sets both).
	LoginLimiter, VerifyLimiter Limiter
	// AssumeTLS marks session cookies Secure even over plain HTTP: the
	// node is behind a TLS-terminating proxy (DESIGN §2).
	AssumeTLS bool
	// ShowPersonalData is the node's console.showPersonalData (DESIGN
	// §12): without it the pages show no free text that may carry
	// personal data (a dead letter's reason text, a refusal's detail),
	// even if Data gives some.
	ShowPersonalData bool
	// Location is the zone times are shown in (with their offset);
	// nil is UTC.
	Location *time.Location
	// Now is the clock of sessions and of the pages' "now"; nil is
	// time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Console serves the console's pages. Build it with New.
type Console struct {
	opt      Options
	sessions *sessions
	pages    *pages
}

// New builds a console. It fails only if an embedded template or
// catalogue is broken (a build defect).
func New(opt Options) (*Console, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	p, err := loadPages(opt.Location)
	if err != nil {
		return nil, err
	}
	return &Console{opt: opt, sessions: newSessions(opt.Now), pages: p}, nil
}

// Admin is the whole console, for the admin listener: mount it at
// "/console/" (DESIGN §1).
func (c *Console) Admin() http.Handler {
	mux := http.NewServeMux()
	c.public(mux)
	mux.HandleFunc("GET /console/{$}", c.root)
	mux.HandleFunc("GET /console/login", c.loginForm)
	mux.HandleFunc("POST /console/login", c.login)
	mux.Handle("POST /console/logout", c.authed(c.logout))
	mux.Handle("GET /console/overview", c.authed(c.overview))
	mux.Handle("GET /console/traffic", c.authed(c.traffic))
	mux.Handle("GET /console/message/{id...}", c.authed(c.message))
	mux.Handle("GET /console/member/{id}", c.authed(c.member))
	mux.Handle("POST /console/dead-letters/{key}/retry", c.authed(c.retry))
	mux.Handle("GET /console/approvals", c.authed(c.approvalForm))
	mux.Handle("POST /console/approvals", c.authed(c.approval))
	return c.headers(mux)
}

// Public is the console's public part (verify, bundle, language, the
// stylesheet), for the health listener: mount it at "/console/".
func (c *Console) Public() http.Handler {
	mux := http.NewServeMux()
	c.public(mux)
	return c.headers(mux)
}

func (c *Console) public(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/verify", c.verifyForm)
	mux.HandleFunc("POST /console/verify", c.verify)
	mux.HandleFunc("GET /console/bundle", c.bundle)
	mux.HandleFunc("GET /console/lang", c.lang)
	mux.HandleFunc("GET /console/static/console.css", c.css)
	mux.HandleFunc("/console/", c.notFound)
}

// DESIGN §4: on every response, errors included.
const csp = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (c *Console) headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// clientIP is the TCP peer's address (DESIGN §6: X-Forwarded-For is not
// trusted).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// secure reports whether cookies get the Secure attribute (DESIGN §2).
func (c *Console) secure(r *http.Request) bool {
	return c.opt.AssumeTLS || r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

func allow(l Limiter, r *http.Request) bool { return l == nil || l.Allow(clientIP(r)) }
