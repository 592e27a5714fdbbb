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

	"github.com/ecrn/crvsx/node/console/view"
	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/node/server"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/attest"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

const (
	operatorToken = "operator-token-0123456789abcdef0123456789"
	xss           = `<script>alert(1)</script>"'><img src=x onerror=alert(2)>`
)

// fakeData is a view.Data with fixed, realistic data: a network of
// members with nodes, keys at every warning level, a proposal waiting for
// approvals, certificates, requesters, traffic with dead letters and
// refusals, and message timelines. text is put in every free-text field a
// page echoes (names, reasons, codes, details): it may be hostile.
type fakeData struct {
	mu      sync.Mutex
	text    string // every echoed string field of the models
	calls   map[string]int
	retried []string // "ref operator" of each RetryDeadLetter
	view    *trust.View
	now     time.Time
	members int
	windows []time.Duration
}

func (f *fakeData) called(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[name]++
}

func (f *fakeData) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

var at = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

var fakeCountries = []string{"TJ", "TR", "KZ", "UZ", "KG", "AZ", "GE", "AM", "MN", "PK", "AF", "TM", "IR", "UA", "CN", "RU"}

func (f *fakeData) Overview(_ context.Context, now time.Time) (view.Overview, error) {
	f.called("Overview")
	o := view.Overview{Now: now, Registry: view.RegistryHealth{NodeID: "TJ-MOJ-CRVS", Role: "follower", RoleKey: "registry.role.follower",
		LeaderID: "TR-NVI-CRVS", AppliedIndex: 42, CommitIndex: 42, SyncedAt: now.Add(-time.Second), Staleness: time.Second,
		Bound: time.Minute, FreshnessKey: "registry.fresh",
		Replicas: []view.Replica{
			{ID: "TJ-MOJ-CRVS", Suffrage: "voter", SuffrageKey: "node.role.voter", Self: true, Known: true, AppliedIndex: 42, Staleness: time.Second},
			{ID: "TR-NVI-CRVS", Suffrage: "voter", SuffrageKey: "node.role.voter", Leader: true, UnknownKey: "registry.replica.unknown"},
		}}}
	n := max(f.members, 3)
	warnings := []struct {
		left time.Duration
	}{{400 * day}, {59 * day}, {29 * day}, {6 * day}, {-day}}
	for i := range n {
		c := fakeCountries[i%len(fakeCountries)]
		nodes := []view.NodeRow{{ID: c + "-CRVS", Member: c, APIURL: "https://" + strings.ToLower(c) + ".crvs.example:8443", RaftAddress: c + ":7000",
			Role: "voter", RoleKey: "node.role.voter", TLSPin: strings.Repeat("c", 43)}}
		o.Members = append(o.Members, view.MemberRow{ID: c, Name: f.text + " " + c, Status: "active", StatusKey: "member.status.active", Nodes: nodes})
		w := warnings[i%len(warnings)]
		warn, days := view.ExpiryWarning(now.Add(w.left), now)
		o.Keys = append(o.Keys, view.KeyRow{Kid: c + "-sig-2026", Member: c, Role: "signing", RoleKey: "key.role.signing", Status: "active",
			StatusKey: "key.status.active", NotBefore: now.Add(-day), NotAfter: now.Add(w.left), DaysLeft: days, Warning: warn})
	}
	o.Proposals = []view.ProposalRow{{ID: "p-" + f.text, Type: "requester.register", Issuer: "TJ", CreatedAt: now.Add(-time.Hour),
		ExpiresAt: now.Add(6 * day), Required: 2, Counted: 1, Missing: 1, StateKey: "proposal.missing",
		Approvals:  []view.ApprovalRow{{Member: "TJ", Kid: "TJ-gov", At: now.Add(-time.Hour), Counts: true, CountsKey: "proposal.approval.counts"}},
		MayApprove: []view.Approver{{Member: "TR", Kids: []string{"TR-gov"}}, {Member: "KZ", Kids: []string{"KZ-gov-" + f.text}}}}}
	warn, days := view.ExpiryWarning(now.Add(20*day), now)
	o.Certificates = []view.CertRow{{ID: "cert-" + f.text, Subject: "TJ", Node: "TJ-CRVS", Suite: "conformance-1", Status: "active",
		StatusKey: "cert.status.active", NotBefore: now.Add(-300 * day), NotAfter: now.Add(20 * day), DaysLeft: days, Warning: warn}}
	o.Requesters = []view.RequesterRow{{ID: "INT-UNHCR", Name: f.text, OrganizationType: "humanitarian-un", Status: "active",
		StatusKey: "requester.status.active", Countries: []string{"TJ", "TR"}, Questions: []string{"is-registered", "vital-status"},
		Bases: []string{"data-subject-consent"}, Purposes: []string{"humanitarian-verification"}, Rate: trust.Rate{PerMinute: 60, Burst: 10}, Keys: 1}}
	return o, nil
}

func (f *fakeData) Member(_ context.Context, id string, now time.Time) (view.Member, error) {
	f.called("Member")
	if id == "nobody" {
		return view.Member{}, view.ErrNotFound
	}
	k := trust.Key{Kid: "TJ-sig-2025", Member: "TJ", Role: trust.RoleSigning, Status: trust.KeyRevoked,
		AddedAt: trust.TimestampOf(now.Add(-400 * day)), NotBefore: trust.TimestampOf(now.Add(-400 * day)), NotAfter: trust.TimestampOf(now.Add(300 * day)),
		CompromisedSince: trust.TimestampOf(now.Add(-10 * day)), RevokedAt: trust.TimestampOf(now.Add(-2 * day))}
	r := trust.Key{Kid: "TJ-gov-2025", Member: "TJ", Role: trust.RoleGovernance, Status: trust.KeyRetired,
		AddedAt: trust.TimestampOf(now.Add(-400 * day)), NotBefore: trust.TimestampOf(now.Add(-400 * day)), NotAfter: trust.TimestampOf(now.Add(300 * day)),
		RetiredAt: trust.TimestampOf(now.Add(-30 * day))}
	return view.Member{Now: now, ID: id, Name: f.text, Status: "active", StatusKey: "member.status.active", AdmittedAt: now.Add(-400 * day),
		Keys: []view.KeyHistory{
			{Kid: k.Kid + f.text, Role: k.Role, RoleKey: "key.role.signing", Alg: "ES256", Status: k.Status, StatusKey: "key.status.revoked",
				NotBefore: k.NotBefore.Time(), NotAfter: k.NotAfter.Time(), Warning: view.WarnNone, Events: view.KeyEvents(k, now)},
			{Kid: r.Kid, Role: r.Role, RoleKey: "key.role.governance", Alg: "EdDSA", Status: r.Status, StatusKey: "key.status.retired",
				NotBefore: r.NotBefore.Time(), NotAfter: r.NotAfter.Time(), Warning: view.WarnNone, Events: view.KeyEvents(r, now)},
		},
		Nodes: []view.NodeRow{{ID: "TJ-CRVS", Member: "TJ", APIURL: "https://tj.crvs.example:8443/" + f.text, RaftAddress: "tj:7000",
			TLSPin: "pin-" + f.text, Role: "voter", RoleKey: "node.role.voter"}},
		Certificates: []view.CertRow{{ID: "cert-1", Subject: "TJ", Suite: "conformance-1", Status: "active", StatusKey: "cert.status.active",
			NotBefore: now.Add(-day), NotAfter: now.Add(364 * day), Warning: view.WarnNone}},
		Traffic: view.MemberTraffic{Since: now.Add(-day), Until: now, Sent: 12, Received: 7, Receipts: 11, Dead: 1, Refused: 2},
	}, nil
}

func (f *fakeData) Traffic(_ context.Context, window time.Duration, now time.Time) (view.Traffic, error) {
	f.called("Traffic")
	f.mu.Lock()
	f.windows = append(f.windows, window)
	f.mu.Unlock()
	bucket := view.BucketFor(window)
	t := view.Traffic{Now: now, Since: now.Add(-window), Until: now, Bucket: bucket,
		Totals:   view.TrafficTotals{Out: 9, In: 4, Receipts: 8, Failed: 3, Dead: 1, Refused: 3},
		Latency:  store.Latency{Count: 8, P50: 120 * time.Millisecond, P90: 900 * time.Millisecond, P99: 2500 * time.Millisecond, Max: 3 * time.Second},
		Attempts: 12, Retries: 3,
		RefusedBy: []view.CodeCount{{Code: "JWS_SIGNATURE_INVALID", Count: 2}, {Code: f.text, Count: 1}},
		Refusals: []store.Refusal{{AuditSeq: 17, At: now.Add(-time.Minute), Code: "JWS_SIGNATURE_INVALID", Sender: "TR", Peer: "TR-CRVS", Detail: "detail-" + f.text},
			{AuditSeq: 15, At: now.Add(-2 * time.Minute), Code: f.text, Peer: f.text}},
		DeadLetters: []store.DeadLetter{{Key: 3, SubmissionID: "s-1", Recipient: "TJ", Peer: "TJ-CRVS", MessageID: "m-" + f.text, MessageType: "event.live-birth",
			Attempts: 9, Retries: 0, CreatedAt: now.Add(-time.Hour), DeadAt: now.Add(-time.Minute), Code: "UNAVAILABLE", Reason: "reason-" + f.text}},
		Backlog: []view.PeerCount{{Peer: "KZ-CRVS", N: 2}},
	}
	for i := range int(window / bucket) {
		t.BucketStarts = append(t.BucketStarts, t.Since.Add(time.Duration(i)*bucket))
	}
	vals := make([]int, len(t.BucketStarts))
	for i := range vals {
		vals[i] = i % 4
	}
	t.OutChart = []view.Series{{Name: "TJ-CRVS · event.live-birth " + f.text, Values: vals}}
	t.InChart = []view.Series{{Name: "KZ-CRVS · event.death", Values: vals}}
	return t, nil
}

func (f *fakeData) Message(_ context.Context, id string) (view.Message, error) {
	f.called("Message")
	switch {
	case id == "nobody":
		return view.Message{}, view.ErrNotFound
	case strings.HasPrefix(id, "audit/"):
		return view.Message{Ref: id, Direction: "refused", DirectionKey: "timeline.direction.refused", MessageID: "m-" + f.text, Peer: "TR-CRVS",
			State: "refused", StateKey: "timeline.state.refused", RefusalCode: "JWS_SIGNATURE_INVALID", RefusalDetail: "detail-" + f.text,
			Events: []view.Event{{TimelineEvent: store.TimelineEvent{At: at, Kind: "refused", Code: "JWS_SIGNATURE_INVALID", AuditSeq: 17}, Key: "timeline.event.refused"}}}, nil
	}
	return view.Message{Ref: "delivery/3", Direction: "out", DirectionKey: "timeline.direction.out", MessageID: id, MessageType: "event.live-birth",
		Peer: "TJ-CRVS", Country: "TJ", SubmissionID: "s-1", State: "dead", StateKey: "timeline.state.dead", Attempts: 2, CanRetry: true,
		Events: []view.Event{
			{TimelineEvent: store.TimelineEvent{At: at, Kind: "accepted"}, Key: "timeline.event.accepted"},
			{TimelineEvent: store.TimelineEvent{At: at.Add(time.Second), Kind: "attempt-failed", Code: f.text}, Key: "timeline.event.attempt-failed"},
			{TimelineEvent: store.TimelineEvent{At: at.Add(time.Hour), Kind: "dead", Code: "UNAVAILABLE"}, Key: "timeline.event.dead"},
			{TimelineEvent: store.TimelineEvent{Kind: "acknowledged", Consumer: f.text}, Key: "timeline.event.acknowledged"},
		}}, nil
}

func (f *fakeData) RetryDeadLetter(_ context.Context, ref, operator string) error {
	f.called("RetryDeadLetter")
	f.mu.Lock()
	defer f.mu.Unlock()
	if ref == "delivery/9" {
		return view.ErrConflict
	}
	f.retried = append(f.retried, ref+" "+operator)
	return nil
}

func (f *fakeData) SubmitApproval(context.Context, []byte) (trust.Result, error) {
	f.called("SubmitApproval")
	return trust.Result{Index: 7, Type: f.text, Outcome: trust.OutcomeRejected, Reason: trust.Reason(f.text), Detail: f.text, Proposal: f.text}, nil
}

func (f *fakeData) Bundle(context.Context) ([]byte, string, error) {
	f.called("Bundle")
	return []byte(`{"format":"crvsx-trust-bundle/1"}`), strings.Repeat("ab", 32), nil
}

func (f *fakeData) GenesisSHA256() string { return strings.Repeat("ab", 32) }

func (f *fakeData) Verify(token []byte, _ time.Time) (*attest.Verdict, error) {
	f.called("Verify")
	return attest.Verify(token, f.view, f.now)
}

// VerifyMessage runs node/exchange's Verifier over the fake's view, as the
// node does.
func (f *fakeData) VerifyMessage(token []byte, _ time.Time) (*view.MessageVerdict, error) {
	f.called("VerifyMessage")
	msg, err := (&exchange.Verifier{Keys: f.view, Validity: f.view, Skew: 5 * time.Minute}).Verify(token, f.now)
	if err != nil {
		return &view.MessageVerdict{Code: protocol.CodeOf(err), Detail: err.Error(), CheckedAt: f.now}, err
	}
	return &view.MessageVerdict{Valid: true, CheckedAt: f.now, Sender: msg.Envelope.Sender, MessageType: msg.Envelope.MessageType,
		Typ: msg.Typ, MessageID: msg.Envelope.MessageID, CreatedAt: msg.CreatedAt}, nil
}

var _ view.Data = (*fakeData)(nil)

// harness is a console over a fake backend, and a client that keeps
// cookies by hand (no cookie jar: the tests read the attributes).
type harness struct {
	t  *testing.T
	c  *Console
	h  http.Handler
	fb *fakeData
}

func newHarness(t *testing.T, mod func(*Options)) *harness {
	t.Helper()
	toks, err := server.NewTokens(map[string]string{"alice": operatorToken})
	if err != nil {
		t.Fatal(err)
	}
	fb := &fakeData{text: "plain"}
	opt := Options{Data: fb, Tokens: toks, Now: func() time.Time { return at }}
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
	view   *trust.View
	tj, tr *jws.Signer
	now    time.Time
}

func newAttestWorld(t testing.TB) *attestWorld {
	n := trusttest.New(t, "TJ", "TR", "KZ")
	n.Advance(2 * time.Hour)
	return &attestWorld{view: trust.NewView(n.State()), tj: n.Member("TJ").Sig, tr: n.Member("TR").Sig, now: n.Now.Time().Add(time.Hour)}
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

// birth is a birth message of TR to TJ created at createdAt, signed by
// TR's key (ids and types are shown; the payload's names never are).
func (w *attestWorld) birth(t testing.TB, messageID string, createdAt time.Time) []byte {
	t.Helper()
	tok, err := w.tr.Sign(protocol.TypEvent, protocoltest.BirthMessageAt("TR", "TJ", messageID, createdAt))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
