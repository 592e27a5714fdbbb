package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// DESIGN §2, §3.
const (
	sessionCookie = "crvsx_console"
	preCookie     = "crvsx_console_pre"
	langCookie    = "crvsx_console_lang"
	cookiePath    = "/console/"
	idleExpiry    = 30 * time.Minute
	absExpiry     = 12 * time.Hour
	maxSessions   = 1024
)

type session struct {
	id, operator, csrf string
	created, seen      time.Time
}

type sessions struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]*session
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, m: map[string]*session{}}
}

// randomToken is 32 bytes of crypto/rand, base64url.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a fresh session (always a new id: no fixation).
func (s *sessions) create(operator string) *session {
	now := s.now()
	ss := &session{id: randomToken(), operator: operator, csrf: randomToken(), created: now, seen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxSessions {
		var oldest *session
		for _, x := range s.m {
			if oldest == nil || x.created.Before(oldest.created) {
				oldest = x
			}
		}
		delete(s.m, oldest.id)
	}
	s.m[ss.id] = ss
	return ss
}

// get returns the live session of id and marks it seen; an unknown or
// expired id is no session (and an expired one is forgotten).
func (s *sessions) get(id string) (*session, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[id]
	if !ok {
		return nil, false
	}
	if now.Sub(ss.seen) > idleExpiry || now.Sub(ss.created) > absExpiry {
		delete(s.m, id)
		return nil, false
	}
	ss.seen = now
	cp := *ss
	return &cp, true
}

func (s *sessions) delete(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

// sessionOf is the request's live session, if any.
func (c *Console) sessionOf(r *http.Request) (*session, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 64 {
		return nil, false
	}
	return c.sessions.get(ck.Value)
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: cookiePath, MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteStrictMode})
}

// preToken returns the pre-session CSRF token of the request, setting the
// cookie when there is none (DESIGN §3: double submit).
func (c *Console) preToken(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(preCookie); err == nil && len(ck.Value) == 43 {
		return ck.Value
	}
	t := randomToken()
	c.setCookie(w, r, preCookie, t, 0)
	return t
}

// csrfOK checks the form's csrf field against the session's token, or,
// without a session, against the pre-session cookie (DESIGN §3).
func csrfOK(r *http.Request, ss *session, form string) bool {
	want := ""
	if ss != nil {
		want = ss.csrf
	} else if ck, err := r.Cookie(preCookie); err == nil {
		want = ck.Value
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(form)) == 1
}

type authedHandler func(w http.ResponseWriter, r *http.Request, ss *session)

// authed runs h with the request's session; without one, a GET is
// redirected to the login page and a POST refused 403 (DESIGN §2).
func (c *Console) authed(h authedHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss, ok := c.sessionOf(r)
		if !ok {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/console/login", http.StatusSeeOther)
				return
			}
			c.fail(w, r, nil, http.StatusForbidden, "error.session", "")
			return
		}
		h(w, r, ss)
	})
}
