package conformnet

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
)

// A variant is our node with one defence removed (conformance/DESIGN.md
// §7): middleware in test code around the real peer or local handlers,
// which answers what a node without that defence would answer. catches
// lists every module the suite must fail for it — and no other may fail.
type variant struct {
	name    string // what the broken node does
	peer    func(c *call) *reply
	before  func(w http.ResponseWriter, r *http.Request) bool // runs before the real peer handler; true: answered
	local   func(path string, body []byte) []byte             // rewrites the local API's answer
	other   func(path string, body []byte) []byte             // rewrites the peer API's answer to a GET
	catches []string
	// catchesAll, if set, says which modules it catches where a list
	// would be most of the plan (a defect every receipt shows).
	catchesAll func(module string) bool
	// registry runs the registry plan's cut-off module too (30 s and more).
	registry bool
}

// call is one request to the candidate's peer API and the real node's
// answer to it.
type call struct {
	r      *http.Request
	body   []byte         // what the real handler read of the body
	header map[string]any // the JWS protected header, if the body has one
	rec    *httptest.ResponseRecorder
	code   protocol.Code // the real answer's problem code, if any
	seen   bool          // the same body was posted before
	signer *jws.Signer   // the candidate's signing key
	// genesisKids are the kids of the keys in the network's genesis.
	genesisKids map[string]bool
}

type reply struct {
	status int
	ctype  string
	body   []byte
}

// accept is the answer of a node that let the message through: 200 and a
// receipt signed with the candidate's key.
func (c *call) accept() *reply {
	payload, _ := json.Marshal(map[string]any{"status": "accepted", "note": "a broken variant accepted this"})
	tok, err := c.signer.Sign(protocol.TypReceipt, payload)
	if err != nil {
		panic(err)
	}
	return &reply{200, protocol.MediaTypeJOSE, tok}
}

// refuse is the answer of an over-strict node.
func refuse(code protocol.Code) *reply {
	b, _ := json.Marshal(map[string]any{"type": code.TypeURI(), "title": "Bad Request", "status": 400, "code": code})
	return &reply{400, "application/problem+json", b}
}

// acceptOn returns a peer rule that accepts what the real node refused
// with one of codes (and when, given, the header matches).
func acceptOn(when func(h map[string]any) bool, codes ...protocol.Code) func(c *call) *reply {
	return func(c *call) *reply {
		for _, code := range codes {
			if c.code == code && (when == nil || when(c.header)) {
				return c.accept()
			}
		}
		return nil
	}
}

func has(members ...string) func(h map[string]any) bool {
	return func(h map[string]any) bool {
		for _, m := range members {
			if _, ok := h[m]; ok {
				return true
			}
		}
		return false
	}
}

// harness switches the candidate node between variants.
type harness struct {
	cur    atomic.Pointer[variant]
	signer func() *jws.Signer
	mu     sync.Mutex
	seen   map[string]bool
	// genesisKids are the kids of the keys in the network's genesis.
	genesisKids map[string]bool
}

func (h *harness) peerMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := h.cur.Load()
		if v != nil && v.other != nil && r.Method == http.MethodGet {
			rewrite(w, r, next, v.other)
			return
		}
		if v == nil || (v.peer == nil && v.before == nil) || r.URL.Path != "/v1/messages" {
			next.ServeHTTP(w, r)
			return
		}
		if v.before != nil && v.before(w, r) {
			return
		}
		if v.peer == nil {
			next.ServeHTTP(w, r)
			return
		}
		var read bytes.Buffer
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(r.Body, &limitedBuffer{&read, 1 << 20}), r.Body}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		c := &call{r: r, body: read.Bytes(), rec: rec, signer: h.signer(), genesisKids: h.genesisKids}
		c.header = protectedHeader(c.body)
		var p struct{ Code protocol.Code }
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
			_ = json.Unmarshal(rec.Body.Bytes(), &p)
			c.code = p.Code
		}
		h.mu.Lock()
		c.seen = h.seen[string(c.body)]
		h.seen[string(c.body)] = true
		h.mu.Unlock()
		if out := v.peer(c); out != nil {
			w.Header().Set("Content-Type", out.ctype)
			w.WriteHeader(out.status)
			_, _ = w.Write(out.body)
			return
		}
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

func (h *harness) localMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := h.cur.Load()
		if v == nil || v.local == nil || r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		rewrite(w, r, next, v.local)
	})
}

// rewrite answers with the real handler's answer, its body rewritten.
func rewrite(w http.ResponseWriter, r *http.Request, next http.Handler, f func(path string, body []byte) []byte) {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	for k, vs := range rec.Header() {
		w.Header()[k] = vs
	}
	body := f(r.URL.Path, rec.Body.Bytes())
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// limitedBuffer keeps the first n bytes written to it.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func protectedHeader(body []byte) map[string]any {
	seg, _, ok := bytes.Cut(body, []byte("."))
	if !ok {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(string(seg))
	if err != nil {
		return nil
	}
	var h map[string]any
	if json.Unmarshal(raw, &h) != nil {
		return nil
	}
	return h
}

// outboxState rewrites the delivery states of a GET /v1/outbox/{id}
// answer.
var outboxPath = regexp.MustCompile(`^/v1/outbox/[^/]+$`)

func rewriteStates(path string, body []byte, f func(state string, attempts int) string) []byte {
	if !outboxPath.MatchString(path) {
		return body
	}
	var v map[string]any
	if json.Unmarshal(body, &v) != nil {
		return body
	}
	ds, _ := v["deliveries"].([]any)
	for _, d := range ds {
		m, _ := d.(map[string]any)
		if m == nil {
			continue
		}
		st, _ := m["status"].(string)
		n, _ := m["attempts"].(float64)
		m["status"] = f(st, int(n))
	}
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}
