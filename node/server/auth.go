package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/ecrn/crvsx/protocol"
)

// Tokens is a set of bearer tokens, kept as SHA-256 digests and compared in
// constant time; each has a name for the audit log.
type Tokens struct {
	digests [][32]byte
	names   []string
}

// NewTokens builds a token set from name → token. Tokens shorter than 32
// characters are refused: they are the national system's only credential.
func NewTokens(byName map[string]string) (*Tokens, error) {
	t := &Tokens{}
	for name, tok := range byName {
		if len(tok) < 32 {
			return nil, protocol.Errorf(protocol.CodeInternal, "token %q is shorter than 32 characters", name)
		}
		t.digests = append(t.digests, sha256.Sum256([]byte(tok)))
		t.names = append(t.names, name)
	}
	return t, nil
}

// Check returns the name of the token in an "Authorization: Bearer …"
// header, or false.
func (t *Tokens) Check(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const p = "Bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return "", false
	}
	return t.Match(strings.TrimSpace(h[len(p):]))
}

// Match returns the name of token if it is one of the set, or false: the
// same constant-time comparison as Check, for a token that did not come in
// an Authorization header (the console's login form, node/console).
func (t *Tokens) Match(token string) (string, bool) {
	d := sha256.Sum256([]byte(token))
	found := -1
	for i, want := range t.digests {
		if subtle.ConstantTimeCompare(d[:], want[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return t.names[found], true
}

// RequireBearer refuses requests without a valid bearer token (401 with a
// problem document and WWW-Authenticate).
func RequireBearer(t *Tokens, h http.Handler, onFail func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := t.Check(r); !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="crvsx"`)
			onFail(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
