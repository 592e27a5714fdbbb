package console

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/server"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/attest"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

const (
	operatorToken = "operator-token-0123456789abcdef0123456789"
	xss           = `<script>alert(1)</script>"'><img src=x onerror=alert(2)>`
)

// fakeBackend serves fixed data; each string it returns may be hostile.
type fakeBackend struct {
	mu      sync.Mutex
	text    string // every string field of the models
	calls   map[string]int
	view    *trust.View
	now     time.Time
	members int
}

func (f *fakeBackend) called(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[name]++
}

func (f *fakeBackend) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

var at = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func (f *fakeBackend) Overview(context.Context) (Overview, error) {
	f.called("Overview")
	o := Overview{NodeID: f.text, AsOf: at, Registry: RegistryHealth{Leader: f.text, AppliedIndex: 42, Staleness: time.Second}}
	n := max(f.members, 1)
	for i := range n {
		o.Members = append(o.Members, MemberRow{ID: f.text, Name: f.text + string(rune('A'+i)), Status: f.text, Nodes: []string{f.text, f.text}})
	}
	o.Proposals = []ProposalRow{{ID: f.text, Type: f.text, Approved: []string{f.text}, Missing: 1}}
	return o, nil
}

func (f *fakeBackend) Member(_ context.Context, id string) (Member, error) {
	f.called("Member")
	if id == "nobody" {
		return Member{}, ErrNotFound
	}
	return Member{ID: f.text, Name: f.text, Status: f.text,
		Keys:  []KeyRow{{Kid: f.text, Role: f.text, Status: f.text, NotBefore: at, NotAfter: at.AddDate(1, 0, 0)}},
		Nodes: []NodeRow{{ID: f.text, Role: f.text, APIURL: f.text}}}, nil
}

func (f *fakeBackend) Traffic(context.Context) (Traffic, error) {
	f.called("Traffic")
	return Traffic{AsOf: at, Totals: []Count{{Label: f.text, N: 3}}, Backlog: []Count{{Label: f.text, N: 1}},
		DeadLetters: []DeadLetter{{ID: f.text, MessageID: f.text, Peer: f.text, Reason: f.text, At: at}}}, nil
}

func (f *fakeBackend) Message(_ context.Context, id string) (Message, error) {
	f.called("Message")
	return Message{ID: f.text, Type: f.text, Events: []Event{{At: at, What: f.text, Peer: f.text, Detail: f.text}}}, nil
}

func (f *fakeBackend) RetryDeadLetter(context.Context, string) error {
	f.called("RetryDeadLetter")
	return nil
}

func (f *fakeBackend) SubmitApproval(context.Context, []byte) (ApprovalResult, error) {
	f.called("SubmitApproval")
	return ApprovalResult{Index: 7, Type: f.text, Outcome: "rejected", Reason: f.text, Detail: f.text, Proposal: f.text}, nil
}

func (f *fakeBackend) Bundle(context.Context) ([]byte, string, error) {
	f.called("Bundle")
	return []byte(`{"format":"crvsx-trust-bundle/1"}`), strings.Repeat("ab", 32), nil
}

func (f *fakeBackend) GenesisSHA256() string { return strings.Repeat("ab", 32) }

func (f *fakeBackend) Verify(_ context.Context, token []byte) (*attest.Verdict, error) {
	f.called("Verify")
	return attest.Verify(token, f.view, f.now)
}

// harness is a console over a fake backend, and a client that keeps
// cookies by hand (no cookie jar: the tests read the attributes).
type harness struct {
	t  *testing.T
	c  *Console
	h  http.Handler
	fb *fakeBackend
}

func newHarness(t *testing.T, mod func(*Options)) *harness {
	t.Helper()
	toks, err := server.NewTokens(map[string]string{"alice": operatorToken})
	if err != nil {
		t.Fatal(err)
	}
	fb := &fakeBackend{text: "plain"}
	opt := Options{Backend: fb, Tokens: toks}
	if mod != nil {
		mod(&opt)
	}
	c, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, c: c, h: c.Admin(), fb: fb}
}

type resp struct {
	*http.Response
	body string
}

func (h *harness) do(r *http.Request) resp {
	h.t.Helper()
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	return resp{res, string(b)}
}

func (h *harness) get(path string, cookies ...*http.Cookie) resp {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return h.do(r)
}

func (h *harness) postForm(path string, form url.Values, cookies ...*http.Cookie) resp {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return h.do(r)
}

func cookie(res resp, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf field in:\n%s", body)
	}
	return m[1]
}

// login logs in and returns the session cookie and its CSRF token.
func (h *harness) login() (*http.Cookie, string) {
	h.t.Helper()
	form := h.get("/console/login")
	pre := cookie(form, preCookie)
	res := h.postForm("/console/login", url.Values{"csrf": {csrfOf(h.t, form.body)}, "token": {operatorToken}}, pre)
	if res.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("login: %d\n%s", res.StatusCode, res.body)
	}
	sc := cookie(res, sessionCookie)
	if sc == nil {
		h.t.Fatal("login set no session cookie")
	}
	page := h.get("/console/overview", sc)
	return sc, csrfOf(h.t, page.body)
}

func tlsRequest(r *http.Request) *http.Request {
	r.TLS = &tls.ConnectionState{HandshakeComplete: true}
	return r
}

// attestWorld is a three-member network's trust view and TJ's signer.
type attestWorld struct {
	view *trust.View
	tj   *jws.Signer
	now  time.Time
}

func newAttestWorld(t testing.TB) *attestWorld {
	n := trusttest.New(t, "TJ", "TR", "KZ")
	n.Advance(2 * time.Hour)
	return &attestWorld{view: trust.NewView(n.State()), tj: n.Member("TJ").Sig, now: n.Now.Time().Add(time.Hour)}
}

// token is a signed unique-match attestation of TJ, attested an hour
// after the genesis (the view's world) with text as the authority.
func (w *attestWorld) token(t testing.TB, authority string) []byte {
	t.Helper()
	msg, err := attest.Build(attest.Answer{
		InResponseTo: "8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b",
		Sender:       protocol.Endpoint{NodeID: "TJ-MOJ-CRVS"},
		Recipient:    protocol.Endpoint{NodeID: "INT-UNHCR"},
		Issuer:       attest.Issuer{Country: "TJ", Authority: authority},
		MatchResult:  attest.MatchUnique,
		Answers:      map[string]string{"isRegistered": "yes", "vitalStatus": "no-death-registered", "civilStatus": "married"},
		AttestedAt:   w.now.Add(-10 * time.Minute),
		Purpose:      "humanitarian-verification",
	}, protocol.NewUUID())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := w.tj.Sign(protocol.TypAttestation, msg)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
