package query

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/records/match"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/stretchr/testify/require"
)

// requesterKey is a requester's signing key (SPEC §11.1): a protocol/jws
// key whose member is the requester id and whose kid is
// <REQUESTER-ID>:<thumbprint>, as "crvsx keys generate --member INT-UNHCR"
// makes it.
type requesterKey struct {
	signer *jws.Signer
	key    jws.Key
}

func newRequesterKey(t testing.TB, id string) *requesterKey {
	t.Helper()
	s, err := jws.GenerateKey(id, jws.AlgES256)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(s.Kid(), id+":"), "kid %q", s.Kid())
	return &requesterKey{signer: s, key: s.Public()}
}

func (k *requesterKey) sign(t testing.TB, typ string, payload []byte) []byte {
	t.Helper()
	tok, err := k.signer.Sign(typ, payload)
	require.NoError(t, err)
	return tok
}

// fakeRegistry is the registry's requester view.
type fakeRegistry struct {
	mu         sync.Mutex
	requesters map[string]Requester
	keys       map[string]jws.Key
	invalid    map[string]error // kid → KEY_NOT_VALID
}

func (f *fakeRegistry) Requester(id string) (Requester, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.requesters[id]
	return r, ok
}
func (f *fakeRegistry) RequesterKeys() jws.KeyLookup { return f }
func (f *fakeRegistry) LookupKey(kid string) (jws.Key, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.keys[kid]
	return k, ok
}
func (f *fakeRegistry) RequesterKeyValidAt(kid string, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.keys[kid]; !ok {
		return protocol.Errorf(protocol.CodeKeyUnknown, "no key %s", kid)
	}
	return f.invalid[kid]
}

// fakeRecords answers what it is told and remembers the questions.
type fakeRecords struct {
	outcome   match.Outcome
	answers   map[string]string
	protected bool
	err       error
}

func (f *fakeRecords) Status(_ context.Context, _ match.Subject, _ []string) (match.Outcome, map[string]string, bool, error) {
	return f.outcome, f.answers, f.protected, f.err
}

// fakeMetrics counts the events.
type fakeMetrics struct {
	mu      sync.Mutex
	queries map[string]int
	probing map[string]int
}

func (m *fakeMetrics) Query(req, outcome string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.queries[req+" "+outcome]++
}
func (m *fakeMetrics) Probing(req, signal string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.probing[req+" "+signal]++
}

const (
	nodeID    = "TJ-MOJ-CRVS"
	member    = "TJ"
	authority = "Ministry of Justice of the Republic of Tajikistan"
	unhcr     = "INT-UNHCR"
	unhcrPin  = "pin-of-unhcr-tls-key"
	nodePin   = "pin-of-a-member-node-tls-key"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// env is one node answering queries, with every collaborator fake but the
// store.
type env struct {
	stale   error // what the registry's freshness check answers
	t       testing.TB
	h       *Handler
	reg     *fakeRegistry
	records *fakeRecords
	metrics *fakeMetrics
	store   *store.Store
	key     *requesterKey
	now     time.Time
	signer  *jws.Signer
	cfg     Config
	// viewFn, once set, is the registry instead of reg: the real
	// protocol/trust View through FromView.
	viewFn func() *trust.View
}

func newEnv(t testing.TB, mod ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, now: t0}
	e.key = newRequesterKey(t, unhcr)
	e.reg = &fakeRegistry{
		requesters: map[string]Requester{unhcr: {
			ID: unhcr, Name: "UNHCR", OrganizationType: "humanitarian-un", TLSSPKISHA256: unhcrPin,
			Countries: []string{"TJ", "KZ"}, Questions: []string{"is-registered", "vital-status", "has-birth-record"},
			Bases: []string{"data-subject-consent", "vital-interest"}, Purposes: []string{"humanitarian-verification", "identification-assistance"}, RatePerMinute: 60, RateBurst: 100, Status: RequesterActive,
		}},
		keys:    map[string]jws.Key{e.key.key.Kid: e.key.key},
		invalid: map[string]error{},
	}
	e.records = &fakeRecords{outcome: match.UniqueMatch, answers: map[string]string{
		"is-registered": "yes", "vital-status": "no-death-registered", "has-birth-record": "yes", "civil-status": "married",
	}}
	e.metrics = &fakeMetrics{queries: map[string]int{}, probing: map[string]int{}}
	var err error
	e.store, err = store.Open(context.Background(), filepath.Join(t.TempDir(), store.FileName), store.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.store.Close() })
	e.signer, err = jws.GenerateKey(member, jws.AlgES256)
	require.NoError(t, err)
	e.cfg = Config{NodeID: nodeID, Member: member, Authority: authority}
	for _, m := range mod {
		m(&e.cfg)
	}
	e.h, err = New(e.cfg, Deps{
		Fresh: func() error { return e.stale },
		Registry: func() Registry {
			if e.viewFn != nil {
				return FromView(e.viewFn)()
			}
			return e.reg
		},
		Records: e.records, Store: e.store, Signer: func() *jws.Signer { return e.signer },
		AuditKey: []byte(strings.Repeat("k", AuditKeySize)),
		Metrics:  e.metrics,
		Now:      func() time.Time { return e.now },
		PeerPin:  func(r *http.Request) string { return r.Header.Get("Test-Peer-Pin") },
	})
	require.NoError(t, err)
	return e
}

// baseQuery is a status.query from INT-UNHCR to TJ-MOJ-CRVS.
func baseQuery(id string) map[string]any {
	return map[string]any{
		"schemaVersion": "1.0.0",
		"messageType":   "status.query",
		"messageId":     id,
		"createdAt":     t0.Add(-time.Minute).Format(time.RFC3339),
		"sender":        map[string]any{"nodeId": unhcr},
		"recipient":     map[string]any{"nodeId": nodeID, "country": member},
		"purpose":       "humanitarian-verification",
		"payload": map[string]any{
			"requester": map[string]any{"organization": unhcr, "organizationType": "humanitarian-un", "caseRef": "UNHCR-TJ-2026-0193"},
			"consent":   map[string]any{"basis": "data-subject-consent", "obtainedAt": t0.Add(-30 * time.Minute).Format(time.RFC3339), "method": "written"},
			"subject": map[string]any{
				"names":     []any{map[string]any{"script": "Latn", "fullName": "RUSTAM KARIMOV", "familyName": "KARIMOV", "givenNames": "RUSTAM"}},
				"birthDate": "1979-11-03",
				"sex":       1,
			},
			"questions": []any{"vital-status"},
		},
	}
}

const qid = "3d0c7a52-9b1e-4f6a-8c2d-5e7f9a1b3c4d"

func (e *env) signQuery(doc map[string]any) []byte {
	e.t.Helper()
	b, err := json.Marshal(doc)
	require.NoError(e.t, err)
	return e.key.sign(e.t, protocol.TypQuery, b)
}

// post sends body as the requester whose TLS pin is pin.
func (e *env) post(body []byte, pin string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/v1/queries", strings.NewReader(string(body)))
	r.Header.Set("Content-Type", protocol.MediaTypeJOSE)
	r.Header.Set("Test-Peer-Pin", pin)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func problemCode(t testing.TB, w *httptest.ResponseRecorder) protocol.Code {
	t.Helper()
	if w.Code == http.StatusOK {
		return ""
	}
	var p protocol.Problem
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p), w.Body.String())
	return p.Code
}

// attestation verifies an answer with the member's key and returns its
// decoded payload.
func (e *env) attestation(raw []byte) map[string]any {
	e.t.Helper()
	ks, err := jws.NewKeySet(e.signer.Public())
	require.NoError(e.t, err)
	tok, err := jws.Verify(raw, ks, jws.Options{Typ: protocol.TypAttestation})
	require.NoError(e.t, err)
	var m map[string]any
	require.NoError(e.t, json.Unmarshal(tok.Payload, &m))
	return m
}
