package query

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ecrn/crvsx/node/internal/httpio"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/node/records/match"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/schemas"
)

// Config is the node configuration's "queries" section and this node's
// identity.
type Config struct {
	// NodeID and Member are this node's (the recipient a query must name,
	// the attestation's sender and issuer.country).
	NodeID string `json:"-"`
	Member string `json:"-"`
	// Authority is the attestation's issuer.authority: the member's civil
	// registration authority, e.g. "Ministry of Justice of the Republic of
	// Tajikistan". Required.
	Authority string `json:"authority"`
	// Validity is validUntil − attestedAt (SPEC §11.2: "by default 30
	// days later").
	Validity time.Duration `json:"validity,omitempty"`
	// Skew and MaxAge are the time window of SPEC §6.7 (defaults 5
	// minutes and 7 days).
	Skew   time.Duration `json:"skew,omitempty"`
	MaxAge time.Duration `json:"maxAge,omitempty"`
	// MaxBytes is the body limit (SPEC §5; 0 or more than
	// protocol.MaxMessageBytes: protocol.MaxMessageBytes).
	MaxBytes int `json:"maxBytes,omitempty"`
	// RefuseProbing makes a query that raises a probing signal a
	// RATE_LIMITED refusal (SPEC §11.2: "a node policy can make it
	// refuse"); without it probing is only counted and audited.
	RefuseProbing bool `json:"refuseProbing,omitempty"`
	// Probing sets the detector's window and thresholds.
	Probing ProbeConfig `json:"probing,omitzero"`
}

// Defaults of Config.
const (
	DefaultValidity = 30 * 24 * time.Hour
	DefaultSkew     = 5 * time.Minute
	DefaultMaxAge   = 7 * 24 * time.Hour
)

// Deps are the Handler's collaborators.
type Deps struct {
	// Registry returns the registry's current requester view. Required.
	Registry func() Registry
	Records  Records // required
	Store    Store   // required
	// Signer returns the member's current signing key (it changes with a
	// key rotation). Required.
	Signer func() *jws.Signer
	// AuditKey is the query audit key (LoadOrCreateAuditKey). Required.
	AuditKey []byte
	Schemas  *schemas.Validator // nil: schemas.Default()
	Metrics  Metrics            // nil: none
	Log      *slog.Logger       // nil: discard; give a rate-limited one
	Now      func() time.Time   // nil: time.Now
	// Fresh, if set, fails closed: while it returns an error (the
	// registry replica is stale and may not know of a suspension or a
	// revoked key) every query is refused UNAVAILABLE before any check.
	Fresh func() error
	// PeerPin returns the SPKI pin of the request's mutual-TLS client key,
	// "" without one; nil: pintls.PeerPin of r.TLS.
	PeerPin func(r *http.Request) string
}

// Handler is POST /v1/queries.
type Handler struct {
	cfg      Config
	d        Deps
	detector *Detector
	mu       sync.Mutex
	limiters map[string]*limiter
}

type limiter struct {
	perMinute, burst int
	l                *rate.Limiter
}

// New checks cfg and d and returns the handler.
func New(cfg Config, d Deps) (*Handler, error) {
	switch {
	case cfg.NodeID == "" || cfg.Member == "":
		return nil, errors.New("query: the node's id and member are required")
	case cfg.Authority == "":
		return nil, errors.New("query: queries.authority (the attestation's issuer.authority) is required")
	case d.Registry == nil || d.Records == nil || d.Store == nil:
		return nil, errors.New("query: Registry, Records and Store are required")
	case d.Signer == nil || d.Signer() == nil || d.Signer().Member() != cfg.Member:
		return nil, fmt.Errorf("query: a signing key of member %s is required", cfg.Member)
	case len(d.AuditKey) < AuditKeySize:
		return nil, fmt.Errorf("query: an audit key of %d bytes is required", AuditKeySize)
	}
	if cfg.Validity <= 0 {
		cfg.Validity = DefaultValidity
	}
	if cfg.Skew <= 0 {
		cfg.Skew = DefaultSkew
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.MaxBytes <= 0 || cfg.MaxBytes > protocol.MaxMessageBytes {
		cfg.MaxBytes = protocol.MaxMessageBytes
	}
	cfg.Probing = cfg.Probing.withDefaults()
	if d.Schemas == nil {
		d.Schemas = schemas.Default()
	}
	if d.Metrics == nil {
		d.Metrics = nopMetrics{}
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.PeerPin == nil {
		d.PeerPin = func(r *http.Request) string {
			if r.TLS == nil {
				return ""
			}
			return pintls.PeerPin(*r.TLS)
		}
	}
	return &Handler{cfg: cfg, d: d, detector: NewDetector(cfg.Probing), limiters: make(map[string]*limiter)}, nil
}

// refusal is a problem and, from step 4 on, what the audit chain records.
type refusal struct {
	err   error
	retry time.Duration // RATE_LIMITED: when the rate allows the next query
}

// ServeHTTP answers one query (SPEC §11.2).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requester := "unknown"
	fail := func(f refusal) {
		h.d.Metrics.Query(requester, string(protocolCode(f.err)))
		if f.retry > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(f.retry.Seconds())), 10))
		}
		httpio.WriteProblem(w, r, h.d.Log, f.err)
	}
	// A registry replica fresh enough to vouch for the requester (as for
	// a message, node/exchange inbound: "with a registry replica fresh
	// enough to vouch for it").
	if h.d.Fresh != nil {
		if ferr := h.d.Fresh(); ferr != nil {
			fail(refusal{err: &protocol.Error{Code: protocol.CodeUnavailable, Detail: "this node's registry replica is not in sync; retry later", Err: ferr}, retry: 5 * time.Second})
			return
		}
	}
	// > SPEC §8.1 Content-Type: application/jose … another content type:
	// > UNSUPPORTED_MEDIA_TYPE.
	if err := httpio.CheckContentType(r, protocol.MediaTypeJOSE); err != nil {
		fail(refusal{err: err})
		return
	}
	// > §6.1 The body is at most the configured limit: MESSAGE_TOO_LARGE,
	// > decided from Content-Length or by a bounded read, before any parsing.
	raw, err := httpio.ReadBody(w, r, int64(h.cfg.MaxBytes))
	if err != nil {
		fail(refusal{err: err})
		return
	}
	q, f := h.check(r, raw)
	if q != nil {
		requester = q.req.ID
	}
	if f != nil {
		fail(*f)
		return
	}
	att, f := h.answer(r.Context(), q)
	if f != nil {
		fail(*f)
		return
	}
	h.d.Metrics.Query(requester, q.outcome)
	w.Header().Set("Content-Type", protocol.MediaTypeJOSE)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(att)
}

func protocolCode(err error) protocol.Code {
	if c := protocol.CodeOf(err); c != "" {
		return c
	}
	return protocol.CodeInternal
}

// query is a query that passed the checks, with what the answer needs.
type query struct {
	req       Requester
	key       jws.Key
	payload   []byte
	doc       map[string]any
	createdAt time.Time
	messageID string
	questions []string
	subject   match.Subject
	hmac      string // the subject under the audit key
	now       time.Time
	outcome   string
}

func (q *query) audit(outcome, detail string) store.QueryAudit {
	return store.QueryAudit{Requester: q.req.ID, MessageID: q.messageID, SubjectHMAC: q.hmac,
		Questions: q.questions, Outcome: outcome, Detail: detail, At: q.now}
}

// check runs SPEC §11.2 steps 1–6 up to the replay lookup. It returns the
// query (once its requester is known, also with a refusal) and the first
// refusal.
func (h *Handler) check(r *http.Request, raw []byte) (*query, *refusal) {
	reg := h.d.Registry()
	if reg == nil {
		return nil, &refusal{err: protocol.Errorf(protocol.CodeUnavailable, "the registry's view of requesters is not available; retry later")}
	}
	now := h.d.Now()

	// > 1. §6.1–§6.5 as for any message, with typ crvs-query+jws; the key
	// > is looked up among the requesters' keys (an unknown kid is
	// > KEY_UNKNOWN, a key not valid at createdAt is KEY_NOT_VALID).
	tok, err := jws.Verify(raw, reg.RequesterKeys(), jws.Options{Typ: protocol.TypQuery, MaxBytes: h.cfg.MaxBytes})
	if err != nil {
		return nil, &refusal{err: err}
	}
	// > §6.5 … the payload is also in Unicode NFC (PAYLOAD_NOT_NFC).
	if !schemas.IsNFC(tok.Payload) {
		return nil, &refusal{err: protocol.Errorf(protocol.CodePayloadNotNFC, "the payload is not in Unicode normalisation form C")}
	}
	// > §6.5 Payload hygiene (I-JSON).
	if err := protocol.CheckJSON(tok.Payload, protocol.MaxJSONDepth); err != nil {
		return nil, &refusal{err: err}
	}
	var head struct {
		CreatedAt any `json:"createdAt"`
	}
	_ = json.Unmarshal(tok.Payload, &head) // one I-JSON object: CheckJSON said so
	created, isStr := head.CreatedAt.(string)
	createdAt, err := time.Parse(time.RFC3339Nano, created)
	if !isStr || err != nil {
		// > A payload whose createdAt is missing or not an RFC 3339
		// > timestamp has no time to check the key at: it is answered
		// > with the verdict of step 3's schema check.
		if _, verr := h.d.Schemas.Validate(tok.Payload); verr != nil {
			return nil, &refusal{err: verr}
		}
		return nil, &refusal{err: &protocol.Error{Code: protocol.CodeSchemaInvalid, Detail: "createdAt is not an RFC 3339 timestamp", Pointer: "/createdAt"}}
	}
	if err := reg.RequesterKeyValidAt(tok.Key.Kid, createdAt); err != nil {
		return nil, &refusal{err: err}
	}
	req, ok := reg.Requester(tok.Key.Member)
	if !ok {
		// The view holds a key of no requester: not available.
		return nil, &refusal{err: protocol.Errorf(protocol.CodeKeyUnknown, "key %q belongs to no registered requester", tok.Key.Kid)}
	}
	q := &query{req: req, key: tok.Key, payload: tok.Payload, createdAt: createdAt, now: now}

	// > 2. The mutual-TLS client key is the pin registered for the key's
	// > requester (NODE_PIN_MISMATCH otherwise), and the requester is
	// > active (REQUESTER_SUSPENDED, 403).
	// A member node's key is no requester's pin: a node is refused here.
	if pin := h.d.PeerPin(r); pin == "" || req.TLSSPKISHA256 == "" || pin != req.TLSSPKISHA256 {
		return q, &refusal{err: protocol.Errorf(protocol.CodeNodePinMismatch, "the TLS client key is not the one registered for requester %s", req.ID)}
	}
	if req.Status != RequesterActive {
		return q, &refusal{err: protocol.Errorf(protocol.CodeRequesterSuspended, "requester %s is %s", req.ID, req.Status)}
	}

	// > 3. Schema and semantics (§6.6) of status.query.
	res, err := h.d.Schemas.Validate(tok.Payload)
	if err != nil {
		return q, &refusal{err: err}
	}
	doc := res.Doc
	q.doc = doc
	// > §6.6.4 typ matches messageType.
	if res.MessageType != protocol.MTStatusQuery {
		return q, &refusal{err: protocol.Errorf(protocol.CodeTypeMismatch, "typ %q does not carry messageType %q", tok.Typ, res.MessageType)}
	}
	q.messageID, _ = doc["messageId"].(string)
	p := obj(doc["payload"])
	rq := obj(p["requester"])
	// > requester.organization is the requester id and
	// > requester.organizationType its registered type (SENDER_MISMATCH).
	if org, typ := str(rq["organization"]), str(rq["organizationType"]); org != req.ID || typ != req.OrganizationType {
		return q, &refusal{err: protocol.Errorf(protocol.CodeSenderMismatch, "requester %q of type %q is not the key's requester %s of type %s", org, typ, req.ID, req.OrganizationType)}
	}
	// > sender.nodeId is the requester id and sender.country the country
	// > of its id (KG for KG-BORDER; an INT- requester's sender has none)
	// > (SENDER_MISMATCH).
	sender := obj(doc["sender"])
	if id, cc := str(sender["nodeId"]), str(sender["country"]); id != req.ID || cc != CountryOf(req.ID) {
		return q, &refusal{err: protocol.Errorf(protocol.CodeSenderMismatch, "sender %s (%s) is not the key's requester %s", id, cc, req.ID)}
	}
	// > recipient is this node (RECIPIENT_MISMATCH).
	rcpt := obj(doc["recipient"])
	if id, cc := str(rcpt["nodeId"]), str(rcpt["country"]); id != h.cfg.NodeID || (cc != "" && cc != h.cfg.Member) {
		return q, &refusal{err: protocol.Errorf(protocol.CodeRecipientMismatch, "query is for %s, this node is %s", id, h.cfg.NodeID)}
	}
	// > the time window of §6.7.
	if err := protocol.CheckTimeWindow(createdAt, now, h.cfg.Skew, h.cfg.MaxAge); err != nil {
		return q, &refusal{err: err}
	}

	for _, x := range arr(p["questions"]) {
		q.questions = append(q.questions, str(x))
	}
	subj := obj(p["subject"])
	q.hmac = subjectHMAC(h.d.AuditKey, subj)
	if q.subject, err = match.ParseSubject(subj); err != nil {
		return q, &refusal{err: &protocol.Error{Code: protocol.CodeSchemaInvalid, Detail: "the subject cannot be read", Pointer: "/payload/subject", Err: err}}
	}

	// Every query that reaches step 4 is audited (SPEC §11.2): the
	// refusals from here on by refuse, the answers by AnswerQuery.
	// > 4. Scope: this node's member is among the requester's countries,
	// > every question is among its questions, the envelope's purpose
	// > among its purposes and consent.basis among its bases
	// > (QUERY_NOT_AUTHORIZED, 403, naming the first thing out of scope).
	// > consent.obtainedAt, when given, is not after createdAt.
	consent := obj(p["consent"])
	if f := scope(req, h.cfg.Member, q.questions, str(q.doc["purpose"]), str(consent["basis"]), str(consent["obtainedAt"]), createdAt); f != nil {
		return q, h.refuse(r.Context(), q, f, "")
	}
	// > 5. The rate limit of the requester at this node (RATE_LIMITED,
	// > 429, with Retry-After).
	if wait, ok := h.allow(req, now); !ok {
		return q, h.refuse(r.Context(), q, &refusal{err: protocol.Errorf(protocol.CodeRateLimited, "requester %s is over its rate of %d queries per minute at this node", req.ID, req.RatePerMinute), retry: wait}, "")
	}
	// > Repeated probing by one requester … is counted in metrics and the
	// > audit chain; a node policy can make it refuse (RATE_LIMITED).
	probe := ProbeKeys(q.messageID, q.subject, h.cfg.Probing.SweepDistance, func(s string) string { return keyedHash(h.d.AuditKey, s) })
	if signals := h.detector.Observe(req.ID, probe, now); len(signals) > 0 {
		for _, s := range signals {
			h.d.Metrics.Probing(req.ID, s)
		}
		a := q.audit("probing", strings.Join(signals, ","))
		if err := h.d.Store.AuditQuery(context.WithoutCancel(r.Context()), store.AuditQueryProbing, a); err != nil {
			return q, &refusal{err: store.WriteProblem(err)}
		}
		if h.cfg.RefuseProbing {
			return q, h.refuse(r.Context(), q, &refusal{err: protocol.Errorf(protocol.CodeRateLimited, "requester %s: refused by this node's probing policy (%s)", req.ID, strings.Join(signals, ", ")), retry: h.cfg.Probing.Window}, strings.Join(signals, ","))
		}
	}
	return q, nil
}

// scope is SPEC §11.2 step 4. Pure.
func scope(req Requester, member string, questions []string, purpose, basis, obtainedAt string, createdAt time.Time) *refusal {
	if !slices.Contains(req.Countries, member) {
		return &refusal{err: protocol.Errorf(protocol.CodeQueryNotAuthorized, "country %s is not in the scope of requester %s", member, req.ID)}
	}
	for _, q := range questions {
		if !slices.Contains(req.Questions, q) {
			return &refusal{err: protocol.Errorf(protocol.CodeQueryNotAuthorized, "question %s is not in the scope of requester %s", q, req.ID)}
		}
	}
	if !slices.Contains(req.Purposes, purpose) {
		return &refusal{err: &protocol.Error{Code: protocol.CodeQueryNotAuthorized, Pointer: "/purpose",
			Detail: fmt.Sprintf("purpose %s is not in the scope of requester %s", purpose, req.ID)}}
	}
	if !slices.Contains(req.Bases, basis) {
		return &refusal{err: protocol.Errorf(protocol.CodeQueryNotAuthorized, "consent basis %s is not in the scope of requester %s", basis, req.ID)}
	}
	if obtainedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, obtainedAt)
		if err != nil || t.After(createdAt) {
			return &refusal{err: &protocol.Error{Code: protocol.CodeQueryNotAuthorized, Detail: "consent.obtainedAt is after createdAt: no consent covers the query", Pointer: "/payload/consent/obtainedAt"}}
		}
	}
	return nil
}

// refuse audits a refusal of a query that reached step 4 and returns it.
// A refusal the store cannot record is answered as the store's state: a
// query is never refused unaudited.
func (h *Handler) refuse(ctx context.Context, q *query, f *refusal, detail string) *refusal {
	if detail == "" {
		var pe *protocol.Error
		if errors.As(f.err, &pe) {
			detail = pe.Detail
		}
	}
	if err := h.d.Store.AuditQuery(context.WithoutCancel(ctx), store.AuditQueryRefused, q.audit(string(protocolCode(f.err)), detail)); err != nil {
		return &refusal{err: store.WriteProblem(err)}
	}
	return f
}

// allow takes one query from the requester's limiter at this node; false
// with the time until the rate allows one.
func (h *Handler) allow(req Requester, now time.Time) (time.Duration, bool) {
	h.mu.Lock()
	lim := h.limiters[req.ID]
	if lim == nil || lim.perMinute != req.RatePerMinute || lim.burst != req.RateBurst {
		// New, or the registry changed the rate: start full.
		lim = &limiter{perMinute: req.RatePerMinute, burst: req.RateBurst,
			l: rate.NewLimiter(rate.Limit(float64(max(req.RatePerMinute, 0))/60), max(req.RateBurst, 0))}
		h.limiters[req.ID] = lim
	}
	h.mu.Unlock()
	res := lim.l.ReserveN(now, 1)
	if !res.OK() {
		return time.Minute, false // a rate of 0: no queries at all
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

// answer is step 6 and the attestation.
func (h *Handler) answer(ctx context.Context, q *query) ([]byte, *refusal) {
	digest := sha256.Sum256(q.payload)
	// > 6. Replay (§6.8): the same messageId again gets the same
	// > attestation bytes; the same id with other content is
	// > MESSAGE_ID_CONFLICT.
	old, found, err := h.d.Store.LookupQuery(ctx, q.req.ID, q.messageID)
	if err != nil {
		return nil, &refusal{err: store.WriteProblem(err)}
	}
	if found {
		if old.PayloadDigest != digest {
			return nil, h.refuse(ctx, q, &refusal{err: protocol.Errorf(protocol.CodeConflict, "query %s of %s was answered for another payload", q.messageID, q.req.ID)}, "")
		}
		q.outcome = "replay"
		return old.Attestation, nil
	}
	outcome, answers, protected, err := h.d.Records.Status(ctx, q.subject, q.questions)
	if err != nil {
		return nil, &refusal{err: fmt.Errorf("query: records: %w", err)}
	}
	a := answer{
		query: q.doc, queryID: q.messageID, purpose: str(q.doc["purpose"]),
		self: protocol.Endpoint{NodeID: h.cfg.NodeID, Country: h.cfg.Member}, authority: h.cfg.Authority,
		to:         protocol.Endpoint{NodeID: q.req.ID, Country: CountryOf(q.req.ID)},
		attestedAt: q.now, validUntil: q.now.Add(h.cfg.Validity),
	}
	switch {
	// > refused with refusalReason when the member's law or policy
	// > withholds an answer the requester is otherwise authorised for
	case protected:
		a.matchResult, a.refusal = "refused", RefusalSubjectProtected
	// > answers only on unique-match, only for the questions asked
	case outcome == match.UniqueMatch:
		a.matchResult = string(outcome)
		a.answers = make(map[string]string)
		for _, qu := range q.questions {
			m, known := protocol.AnswerMember(qu)
			if v, ok := answers[qu]; ok && known {
				a.answers[m] = v
			}
		}
		if len(a.answers) == 0 {
			a.answers = nil
		}
	case outcome == match.NoMatch, outcome == match.MultipleCandidates, outcome == match.InsufficientData:
		a.matchResult = string(outcome)
	default:
		return nil, &refusal{err: fmt.Errorf("query: records answered outcome %q", outcome)}
	}
	att, err := buildAttestation(h.d.Signer(), a)
	if err != nil {
		return nil, &refusal{err: err}
	}
	stored, _, err := h.d.Store.AnswerQuery(ctx, store.QueryAnswer{Requester: q.req.ID, MessageID: q.messageID, PayloadDigest: digest,
		AnsweredAt: q.now, Attestation: att}, q.audit(a.matchResult, ""))
	if errors.Is(err, store.ErrConflict) {
		// A concurrent query with this id and another payload won.
		return nil, h.refuse(ctx, q, &refusal{err: protocol.Errorf(protocol.CodeConflict, "query %s of %s was answered for another payload", q.messageID, q.req.ID)}, "")
	}
	if err != nil {
		return nil, &refusal{err: store.WriteProblem(err)}
	}
	q.outcome = a.matchResult
	return stored.Attestation, nil
}

// CountryOf is the country of a requester or node id (SPEC §2): its first
// two letters, "" for an international organisation (INT-…).
func CountryOf(id string) string {
	if len(id) > 3 && id[2] == '-' && id[0] >= 'A' && id[0] <= 'Z' && id[1] >= 'A' && id[1] <= 'Z' {
		return id[:2]
	}
	return ""
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func arr(v any) []any          { a, _ := v.([]any); return a }
func str(v any) string         { s, _ := v.(string); return s }
