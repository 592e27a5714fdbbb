package server

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/node/internal/httpio"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol"
)

// Receiver is what the peer API needs of the exchange (node/exchange's
// *Receiver implements it).
type Receiver interface {
	Receive(ctx context.Context, raw []byte, peer *exchange.Peer) (*exchange.Receipt, error)
}

// Submitter is what the local API needs to queue outbound messages.
type Submitter interface {
	Submit(ctx context.Context, body []byte) (*store.SubmissionStatus, bool, error)
}

// Outbox, Inbox: what the local API reads from the store.
type (
	Outbox interface {
		Submission(ctx context.Context, id string) (*store.SubmissionStatus, error)
	}
	Inbox interface {
		InboxAfter(ctx context.Context, consumer string, after uint64, limit int) ([]store.InboundRecord, uint64, error)
		Ack(ctx context.Context, consumer string, upTo uint64) error
		AckedUpTo(ctx context.Context, consumer string) (uint64, error)
	}
)

// Exchange holds the handlers of the exchange's HTTP endpoints.
type Exchange struct {
	Receiver  Receiver
	Submitter Submitter
	Outbox    Outbox
	Inbox     Inbox
	// MaxMessageBytes bounds POST /v1/messages (SPEC §5); MaxOutboxBytes
	// bounds POST /v1/outbox.
	MaxMessageBytes int64
	MaxOutboxBytes  int64
	Log             *slog.Logger
	Metrics         *Metrics
}

// PostMessage is POST /v1/messages on the peer API (exchange DESIGN §1, SPEC
// §8.1). The peer is the one WithPeer resolved; without one (the local
// test endpoint) the transport binding is skipped.
func (x *Exchange) PostMessage(w http.ResponseWriter, r *http.Request) {
	fail := func(err error) {
		if x.Metrics != nil {
			x.Metrics.Received.WithLabelValues("rejected").Inc()
			if c := protocol.CodeOf(err); c != "" {
				x.Metrics.Rejected.WithLabelValues(string(c)).Inc()
			}
		}
		httpio.WriteProblem(w, r, x.Log, err)
	}
	if err := httpio.CheckContentType(r, protocol.MediaTypeJOSE); err != nil {
		fail(err)
		return
	}
	raw, err := httpio.ReadBody(w, r, x.MaxMessageBytes)
	if err != nil {
		fail(err)
		return
	}
	var peer *exchange.Peer
	if p, ok := PeerFrom(r.Context()); ok {
		peer = &exchange.Peer{NodeID: p.NodeID, Member: p.Member}
	}
	rc, err := x.Receiver.Receive(r.Context(), raw, peer)
	if err != nil {
		fail(store.WriteProblem(err))
		return
	}
	if x.Metrics != nil {
		outcome := "accepted"
		if rc.Duplicate {
			outcome = "duplicate"
		}
		x.Metrics.Received.WithLabelValues(outcome).Inc()
	}
	w.Header().Set("Content-Type", protocol.MediaTypeJOSE)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(rc.JWS)
}

// SubmissionView is the JSON of a submission on the local API.
type SubmissionView struct {
	ID         string         `json:"id"`
	CreatedAt  time.Time      `json:"createdAt"`
	Duplicate  bool           `json:"duplicate,omitempty"`
	Deliveries []DeliveryView `json:"deliveries"`
	// FilledIn names the members of the message the node set for each
	// recipient (exchange DESIGN §3), whatever the submission said.
	FilledIn []string `json:"filledIn"`
}

// DeliveryView is one recipient's delivery.
type DeliveryView struct {
	Recipient       string        `json:"recipient"`
	RecipientNodeID string        `json:"recipientNodeId"`
	MessageID       string        `json:"messageId"`
	SHA256          string        `json:"sha256"`
	Status          string        `json:"status"`
	Attempts        int           `json:"attempts"`
	LastAttemptAt   *time.Time    `json:"lastAttemptAt,omitempty"`
	LastError       string        `json:"lastError,omitempty"`
	NextAttemptAt   *time.Time    `json:"nextAttemptAt,omitempty"`
	History         []AttemptView `json:"history,omitempty"`
	DeliveredAt     *time.Time    `json:"deliveredAt,omitempty"`
	Receipt         string        `json:"receipt,omitempty"`
	DeadAt          *time.Time    `json:"deadAt,omitempty"`
	DeadReason      string        `json:"deadReason,omitempty"`
}

// AttemptView is one failed attempt.
type AttemptView struct {
	At    time.Time `json:"at"`
	Error string    `json:"error"`
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func submissionView(st *store.SubmissionStatus, dup bool) SubmissionView {
	v := SubmissionView{ID: st.ID, CreatedAt: st.CreatedAt, Duplicate: dup, FilledIn: exchange.FilledIn}
	for _, d := range st.Deliveries {
		dv := DeliveryView{
			Recipient: d.Recipient, RecipientNodeID: d.RecipientNodeID, MessageID: d.MessageID,
			SHA256: hex.EncodeToString(d.Digest[:]), Status: string(d.State), Attempts: d.Attempts,
			LastAttemptAt: tp(d.LastAttemptAt), LastError: d.LastError, NextAttemptAt: tp(d.NextAttemptAt),
			DeliveredAt: tp(d.DeliveredAt), Receipt: string(d.Receipt), DeadAt: tp(d.DeadAt), DeadReason: d.DeadReason,
		}
		if d.State != store.StatePending {
			dv.NextAttemptAt = nil
		}
		for _, a := range d.History {
			dv.History = append(dv.History, AttemptView{At: a.At, Error: a.Err})
		}
		v.Deliveries = append(v.Deliveries, dv)
	}
	return v
}

// PostOutbox is POST /v1/outbox on the local API (exchange DESIGN §3).
func (x *Exchange) PostOutbox(w http.ResponseWriter, r *http.Request) {
	if err := httpio.CheckContentType(r, "application/json"); err != nil {
		httpio.WriteProblem(w, r, x.Log, err)
		return
	}
	body, err := httpio.ReadBody(w, r, x.MaxOutboxBytes)
	if err != nil {
		httpio.WriteProblem(w, r, x.Log, err)
		return
	}
	st, dup, err := x.Submitter.Submit(r.Context(), body)
	if err != nil {
		httpio.WriteProblem(w, r, x.Log, store.WriteProblem(err))
		return
	}
	w.Header().Set("Location", "/v1/outbox/"+st.ID)
	status := http.StatusAccepted
	if dup {
		status = http.StatusOK
	}
	httpio.WriteJSON(w, status, "application/json", submissionView(st, dup))
}

// GetOutbox is GET /v1/outbox/{id}.
func (x *Exchange) GetOutbox(w http.ResponseWriter, r *http.Request) {
	st, err := x.Outbox.Submission(r.Context(), r.PathValue("id"))
	if err != nil {
		httpio.WriteProblem(w, r, x.Log, storeError(err, "no such submission"))
		return
	}
	httpio.WriteJSON(w, http.StatusOK, "application/json", submissionView(st, false))
}

// InboxRecord is one received message on the local API.
type InboxRecord struct {
	Seq          uint64          `json:"seq"`
	Sender       string          `json:"sender"`
	SenderNodeID string          `json:"senderNodeId,omitempty"`
	MessageID    string          `json:"messageId"`
	MessageType  string          `json:"messageType"`
	ReceivedAt   time.Time       `json:"receivedAt"`
	SHA256       string          `json:"sha256"`
	JWS          string          `json:"jws"`
	Message      json.RawMessage `json:"message"`
	Receipt      string          `json:"receipt"`
}

// InboxPage is the answer of GET /v1/inbox.
type InboxPage struct {
	Records []InboxRecord `json:"records"`
	Next    uint64        `json:"next"`
	Acked   uint64        `json:"acked"`
}

// Consumer is the cursor name of the national system's pull.
const Consumer = "national-system"

// GetInbox is GET /v1/inbox?after=CURSOR&limit=N (exchange DESIGN §6).
func (x *Exchange) GetInbox(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, err := parseUint(q.Get("after"), 0)
	if err != nil {
		httpio.WriteProblem(w, r, x.Log, &protocol.Error{Code: protocol.CodeBadRequest, Detail: "after must be a sequence number"})
		return
	}
	limit, err := parseUint(q.Get("limit"), 100)
	if err != nil || limit < 1 || limit > 1000 {
		httpio.WriteProblem(w, r, x.Log, &protocol.Error{Code: protocol.CodeBadRequest, Detail: "limit must be 1…1000"})
		return
	}
	recs, next, err := x.Inbox.InboxAfter(r.Context(), Consumer, after, int(limit))
	if err != nil {
		httpio.WriteProblem(w, r, x.Log, storeError(err, ""))
		return
	}
	acked, err := x.Inbox.AckedUpTo(r.Context(), Consumer)
	if err != nil {
		httpio.WriteProblem(w, r, x.Log, storeError(err, ""))
		return
	}
	page := InboxPage{Records: make([]InboxRecord, 0, len(recs)), Next: next, Acked: acked}
	for _, rec := range recs {
		page.Records = append(page.Records, inboxRecord(rec))
	}
	httpio.WriteJSON(w, http.StatusOK, "application/json", page)
}

func inboxRecord(rec store.InboundRecord) InboxRecord {
	return InboxRecord{
		Seq: rec.Seq, Sender: rec.Sender, SenderNodeID: rec.SenderNodeID, MessageID: rec.MessageID,
		MessageType: rec.MessageType, ReceivedAt: rec.ReceivedAt, SHA256: hex.EncodeToString(rec.Digest[:]),
		JWS: string(rec.JWS), Message: exchange.StoredPayload(rec.JWS), Receipt: string(rec.Receipt),
	}
}

// AckRequest is the body of POST /v1/inbox/ack.
type AckRequest struct {
	UpTo uint64 `json:"upTo"`
}

// PostAck is POST /v1/inbox/ack {"upTo": N}.
func (x *Exchange) PostAck(w http.ResponseWriter, r *http.Request) {
	body, err := httpio.ReadBody(w, r, 4096)
	if err != nil {
		httpio.WriteProblem(w, r, x.Log, err)
		return
	}
	var req AckRequest
	if err := decodeStrict(body, &req); err != nil || req.UpTo == 0 {
		httpio.WriteProblem(w, r, x.Log, &protocol.Error{Code: protocol.CodeBadRequest, Detail: `the body is {"upTo": N} with N ≥ 1`})
		return
	}
	if err := x.Inbox.Ack(r.Context(), Consumer, req.UpTo); err != nil {
		httpio.WriteProblem(w, r, x.Log, storeError(err, ""))
		return
	}
	httpio.WriteJSON(w, http.StatusOK, "application/json", AckRequest{UpTo: req.UpTo})
}

func parseUint(s string, def uint64) (uint64, error) {
	if s == "" {
		return def, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

// storeError gives an error of the store the problem SPEC §7 asks for:
// input the store refuses (an identifier with control characters or too
// long, a cursor past the end) is the client's fault (400), a missing
// object is 404 (with notFound as the detail), and the store's state is
// what storeState says; anything else stays an internal error.
func storeError(err error, notFound string) error {
	const invalid = "store: invalid input: "
	switch {
	case errors.Is(err, store.ErrInvalid):
		detail := err.Error()
		if i := strings.LastIndex(detail, invalid); i >= 0 {
			detail = detail[i+len(invalid):]
		}
		return &protocol.Error{Code: protocol.CodeBadRequest, Detail: detail, Err: err}
	case errors.Is(err, store.ErrNotFound):
		if notFound == "" {
			notFound = "not found"
		}
		return &protocol.Error{Code: protocol.CodeNotFound, Detail: notFound, Err: err}
	}
	return store.WriteProblem(err)
}
