package exchange

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol"
)

// WebhookConsumer is the store cursor of the push to the national system.
const WebhookConsumer = "webhook"

// WebhookStore is what the pusher needs of the store.
type WebhookStore interface {
	InboxAfter(ctx context.Context, consumer string, after uint64, limit int) ([]store.InboundRecord, uint64, error)
	Ack(ctx context.Context, consumer string, upTo uint64) error
	AckedUpTo(ctx context.Context, consumer string) (uint64, error)
}

// WebhookEvent is the JSON body of one push.
type WebhookEvent struct {
	Seq          uint64          `json:"seq"`
	Sender       string          `json:"sender"`
	SenderNodeID string          `json:"senderNodeId,omitempty"`
	MessageID    string          `json:"messageId"`
	MessageType  string          `json:"messageType"`
	ReceivedAt   time.Time       `json:"receivedAt"`
	JWS          string          `json:"jws"`
	Message      json.RawMessage `json:"message"`
}

// Pusher delivers received messages to the national system's webhook
// (DESIGN §6): in inbox order, one at a time, each POSTed with
// Crvs-Signature: sha256=<hex HMAC-SHA256(secret, body)> and retried with
// backoff until a 2xx; then the webhook cursor is acknowledged. A crash
// between the 2xx and the acknowledgement pushes that record again:
// at-least-once.
type Pusher struct {
	URL    string
	Secret []byte
	Store  WebhookStore
	Client *http.Client // nil: a client with a 30 s timeout
	Log    *slog.Logger
	// Failed is called after each failed push (metrics); may be nil.
	Failed func()
	// BackoffBase and BackoffCap bound the retry wait; Poll is how often an
	// idle pusher looks for new records without a Notify.
	BackoffBase, BackoffCap, Poll time.Duration

	wake chan struct{}
}

// Sign returns the Crvs-Signature value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Notify wakes the pusher after a new record was stored.
func (p *Pusher) Notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Init prepares the pusher; call before Notify and Run.
func (p *Pusher) Init() {
	p.wake = make(chan struct{}, 1)
	if p.Client == nil {
		p.Client = &http.Client{Timeout: 30 * time.Second}
	}
	// A redirect is not an acknowledgement: a 302 to a login page that
	// answers 200 must not count as delivered.
	c := *p.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	p.Client = &c
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.BackoffBase <= 0 {
		p.BackoffBase = time.Second
	}
	if p.BackoffCap < p.BackoffBase {
		p.BackoffCap = 5 * time.Minute
	}
	if p.Poll <= 0 {
		p.Poll = 10 * time.Second
	}
}

// Run pushes until ctx ends.
func (p *Pusher) Run(ctx context.Context) error {
	failures := 0
	for {
		pushed, err := p.pushNext(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			failures++
			if p.Failed != nil {
				p.Failed()
			}
			wait := Backoff(failures, p.BackoffBase, p.BackoffCap, rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)))
			p.Log.Warn("webhook push failed", slog.Int("failures", failures), slog.Duration("retry_in", wait), slog.Any("err", err))
			if !sleep(ctx, wait) {
				return nil
			}
		case pushed:
			failures = 0
		default:
			select {
			case <-ctx.Done():
				return nil
			case <-p.wake:
			case <-time.After(p.Poll):
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// pushNext pushes the record after the cursor, if any.
func (p *Pusher) pushNext(ctx context.Context) (bool, error) {
	acked, err := p.Store.AckedUpTo(ctx, WebhookConsumer)
	if err != nil {
		return false, err
	}
	recs, _, err := p.Store.InboxAfter(ctx, WebhookConsumer, acked, 1)
	if err != nil || len(recs) == 0 {
		return false, err
	}
	rec := recs[0]
	ev := WebhookEvent{Seq: rec.Seq, Sender: rec.Sender, SenderNodeID: rec.SenderNodeID, MessageID: rec.MessageID,
		MessageType: rec.MessageType, ReceivedAt: rec.ReceivedAt, JWS: string(rec.JWS), Message: StoredPayload(rec.JWS)}
	body, err := json.Marshal(ev)
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Crvs-Signature", Sign(p.Secret, body))
	req.Header.Set("Crvs-Delivery", strconv.FormatUint(rec.Seq, 10))
	resp, err := p.Client.Do(req)
	if err != nil {
		return false, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return false, fmt.Errorf("webhook answered %s for record %d", resp.Status, rec.Seq)
	}
	return true, p.Store.Ack(ctx, WebhookConsumer, rec.Seq)
}

// StoredPayload returns the signed payload of a stored compact JWS (verified
// when it arrived) as raw JSON, or nil if it cannot be read as such: what
// the inbox and the webhook hand to the national system.
func StoredPayload(token []byte) json.RawMessage {
	parts := bytes.SplitN(token, []byte("."), 3)
	if len(parts) != 3 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(string(parts[1]))
	if err != nil || !json.Valid(b) {
		return nil
	}
	return b
}

// FreshInbox fails closed: received events are released to the national
// system — pulled on the local API or pushed to its webhook — only while
// the registry replica is fresh (node/registry DESIGN.md §14). They are
// verified, stored and receipted meanwhile, and released once it is.
type FreshInbox struct {
	*store.Store
	// Fresh is the registry's staleness check (registry.Registry.Fresh).
	Fresh func() error
}

// InboxAfter is store.Store.InboxAfter, refused with REGISTRY_STALE while
// the replica is stale.
func (f FreshInbox) InboxAfter(ctx context.Context, consumer string, after uint64, limit int) ([]store.InboundRecord, uint64, error) {
	if err := f.Fresh(); err != nil {
		return nil, 0, &protocol.Error{Code: protocol.CodeRegistryStale, Detail: "the registry replica is past its staleness bound; received events are held until it is in sync", Err: err}
	}
	return f.Store.InboxAfter(ctx, consumer, after, limit)
}
