package conformance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/schemas"
)

// localClient drives the candidate's local API (node/exchange DESIGN.md
// §3): the national system's side.
type localClient struct {
	base, token string
	hc          *http.Client
}

type outboxView struct {
	ID         string `json:"id"`
	Deliveries []struct {
		Recipient string `json:"recipient"`
		MessageID string `json:"messageId"`
		Status    string `json:"status"`
		Attempts  int    `json:"attempts"`
		LastError string `json:"lastError"`
	} `json:"deliveries"`
}

func (c *localClient) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.base, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, clip(b))
	}
	return json.Unmarshal(b, out)
}

// submit posts a message of the candidate to member through the outbox.
func (c *localClient) submit(ctx context.Context, msg []byte, member string) (outboxView, error) {
	body, _ := json.Marshal(map[string]any{"message": json.RawMessage(msg), "recipients": []string{member}})
	var v outboxView
	err := c.do(ctx, http.MethodPost, "/v1/outbox", body, &v)
	return v, err
}

// waitFinal polls a submission until its delivery is delivered or dead.
func (c *localClient) waitFinal(ctx context.Context, id string, d time.Duration) (outboxView, error) {
	deadline := time.Now().Add(d)
	for {
		var v outboxView
		err := c.do(ctx, http.MethodGet, "/v1/outbox/"+id, nil, &v)
		if err == nil && len(v.Deliveries) == 1 && v.Deliveries[0].Status != "pending" {
			return v, nil
		}
		if time.Now().After(deadline) {
			return v, fmt.Errorf("not delivered within %s (%v)", d, err)
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// outgoing is a message of the candidate to A, as the national system
// submits it: the node fills in sender, recipient, messageId and createdAt.
func (e *env) outgoing() []byte {
	cand := &Identity{Member: e.suite.Candidate.Member, NodeID: e.suite.Candidate.NodeID}
	a := e.suite.A()
	return edit(e.birthTo(cand, a.NodeID, a.Member, protocol.NewUUID(), now()), func(m map[string]any) {
		for _, k := range []string{"messageId", "createdAt", "sender", "recipient", "correlationId"} {
			delete(m, k)
		}
	})
}

// receiptKinds are the answers of A's endpoint a sender must not take for
// a completed delivery (SPEC §8.3), and the valid one.
const (
	receiptValid        = "valid"
	receiptOtherSigner  = "signed-by-another-member"
	receiptWrongDigest  = "wrong-digest"
	receiptUnsigned     = "unsigned"
	receiptOtherMessage = "for-another-message"
)

// receipt builds A's answer to a delivered message, valid or wrong in one
// way.
func (e *env) receipt(delivered []byte, kind string) []byte {
	var env struct {
		SchemaVersion string            `json:"schemaVersion"`
		MessageID     string            `json:"messageId"`
		Sender        protocol.Endpoint `json:"sender"`
	}
	parts := strings.Split(string(delivered), ".")
	if len(parts) == 3 {
		if p, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			_ = json.Unmarshal(p, &env)
		}
	}
	a := e.suite.A()
	at := time.Now().UTC().Format(time.RFC3339)
	inResponseTo := env.MessageID
	if kind == receiptOtherMessage {
		inResponseTo = protocol.NewUUID()
	}
	msg := map[string]any{
		"schemaVersion": env.SchemaVersion, "messageType": protocol.MTReceipt, "messageId": protocol.NewUUID(),
		"correlationId": env.MessageID, "createdAt": at,
		"sender":    map[string]any{"nodeId": a.NodeID, "country": a.Member},
		"recipient": map[string]any{"nodeId": env.Sender.NodeID, "country": env.Sender.Country},
		"purpose":   "acknowledgement",
		"payload":   map[string]any{"inResponseTo": inResponseTo, "status": "accepted", "disposition": "recorded", "receivedAt": at},
	}
	payload, _ := json.Marshal(msg)
	if _, err := schemas.Default().Validate(payload); err != nil {
		panic("conformance: the suite's receipt is not valid: " + err.Error())
	}
	digest := sha256.Sum256(delivered)
	if kind == receiptWrongDigest {
		digest = sha256.Sum256(append([]byte("not "), delivered...))
	}
	signer := a.Signing[0]
	if kind == receiptOtherSigner {
		signer = e.suite.B().Signing[0]
	}
	if kind == receiptUnsigned {
		h := `{"alg":"none","kid":` + jstr(signer.Kid()) + `,"typ":"` + protocol.TypReceipt + `","` + protocol.HeaderReceiptDigest + `":"` + hex.EncodeToString(digest[:]) + `"}`
		enc := base64.RawURLEncoding
		return []byte(enc.EncodeToString([]byte(h)) + "." + enc.EncodeToString(payload) + ".")
	}
	tok, err := signer.SignWithHeader(protocol.TypReceipt, map[string]any{protocol.HeaderReceiptDigest: hex.EncodeToString(digest[:])}, payload)
	if err != nil {
		panic("conformance: receipt: " + err.Error())
	}
	return tok
}

// senderModules is the sender plan (DESIGN.md §5.2), through the
// candidate's local API: its messages are well formed, and it completes a
// delivery only on a receipt that SPEC §8.3 accepts.
func (e *env) senderModules() []module {
	var ms []module
	for _, kind := range []string{receiptValid, receiptOtherSigner, receiptWrongDigest, receiptUnsigned, receiptOtherMessage} {
		kind := kind
		name, cite := "delivery/completed-on-a-valid-receipt", "SPEC §8.1, §8.3, §6"
		if kind != receiptValid {
			name, cite = "delivery/not-completed-on-a-receipt-"+kind, "SPEC §8.3"
		}
		ms = append(ms, module{PlanSender, name, cite, func(ctx context.Context, e *env, r *record) { e.delivery(ctx, r, kind) }})
	}
	return ms
}

// delivery submits a message to A; A's endpoint answers with a receipt
// of kind until the suite has watched the candidate's outbox for a while
// after the first delivery (badWatch), and with a valid receipt after
// that. While A has answered only bad receipts the delivery must stay
// pending; the message must verify as a receiver verifies it, and the
// delivery must complete once a valid receipt came.
func (e *env) delivery(ctx context.Context, r *record, kind string) {
	var mu sync.Mutex
	var got [][]byte
	var bad atomic.Bool
	bad.Store(kind != receiptValid)
	e.net.Answer(MemberA, func(tok []byte) (int, string, []byte) {
		mu.Lock()
		got = append(got, bytes.Clone(tok))
		mu.Unlock()
		k := receiptValid
		if bad.Load() {
			k = kind
		}
		return http.StatusOK, protocol.MediaTypeJOSE, e.receipt(tok, k)
	})
	defer e.net.Answer(MemberA, nil)
	delivered := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	msg := e.outgoing()
	sub, err := e.local.submit(ctx, msg, MemberA)
	r.request = clip(msg)
	if err != nil {
		r.fail("the candidate's outbox takes the message (node/exchange DESIGN §3)", "202 with a submission", "%v", err)
		return
	}
	if kind != receiptValid {
		e.watchBad(ctx, r, sub.ID, kind, delivered)
		bad.Store(false)
	}
	final, err := e.local.waitFinal(ctx, sub.ID, 60*time.Second)
	if err != nil {
		r.fail("the delivery completes once A answers a valid receipt", "delivered", "%v", err)
		return
	}
	mu.Lock()
	deliveries := append([][]byte(nil), got...)
	mu.Unlock()
	r.answer = fmt.Sprintf("%s after %d deliveries to %s", final.Deliveries[0].Status, len(deliveries), MemberA)
	if final.Deliveries[0].Status != "delivered" {
		r.fail("the delivery completes once A answers a valid receipt", "delivered", "%s (%s)", final.Deliveries[0].Status, clipS(final.Deliveries[0].LastError))
	}
	if len(deliveries) == 0 {
		r.fail("the message reaches A's endpoint", "a delivery", "none")
		return
	}
	r.conditions = append(r.conditions, e.wellFormed(deliveries[0])...)
	if kind != receiptValid && len(deliveries) < 2 {
		r.fail("a delivery is complete only with a receipt that passes SPEC §8.3", "the message sent again after the "+kind+" receipt", "delivered after %d delivery", len(deliveries))
	}
	for _, d := range deliveries[1:] {
		if !bytes.Equal(d, deliveries[0]) {
			r.fail("a retry resends the identical bytes (SPEC §8.2)", "the same JWS", "other bytes")
			break
		}
	}
}

// badWatch is how long the suite watches the candidate's outbox after
// the first delivery that A answered with a bad receipt.
const badWatch = 1500 * time.Millisecond

// watchBad polls the submission while A answers only bad receipts: until
// badWatch after the first delivery (10 s at most for it to come), the
// delivery must stay pending (SPEC §8.3).
func (e *env) watchBad(ctx context.Context, r *record, id, kind string, delivered func() int) {
	first := time.Now().Add(10 * time.Second)
	var until time.Time
	for {
		if until.IsZero() && delivered() > 0 {
			until = time.Now().Add(badWatch)
		}
		var v outboxView
		if err := e.local.do(ctx, http.MethodGet, "/v1/outbox/"+id, nil, &v); err == nil && len(v.Deliveries) == 1 && v.Deliveries[0].Status != "pending" {
			r.fail("while A has answered only "+kind+" receipts the delivery is not complete (SPEC §8.3)", "pending",
				"%s after %d deliveries", v.Deliveries[0].Status, delivered())
			return
		}
		now := time.Now()
		if !until.IsZero() && now.After(until) {
			return
		}
		if until.IsZero() && now.After(first) {
			r.fail("the message reaches A's endpoint", "a delivery within 10 s", "none")
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// wellFormed verifies a message of the candidate as any receiver would
// (SPEC §6): its registered key, the profile, the schemas and the
// semantic rules, sender and recipient.
func (e *env) wellFormed(tok []byte) conditions {
	var c conditions
	v, err := jws.Verify(tok, e.candidateKeys, jws.Options{Typ: protocol.TypEvent})
	if err != nil {
		c.fail("the candidate's message verifies under SPEC §6 with its registered key", "a valid crvs-event+jws", "%v", err)
		return c
	}
	if _, err := schemas.Default().Validate(v.Payload); err != nil {
		c.fail("the candidate's message is valid against the schemas (SPEC §6.6)", "valid", "%v", err)
	}
	var env struct {
		Sender, Recipient protocol.Endpoint
	}
	_ = json.Unmarshal(v.Payload, &env)
	if v.Key.Member != e.suite.Candidate.Member || env.Sender.Country != e.suite.Candidate.Member || env.Sender.NodeID != e.suite.Candidate.NodeID {
		c.fail("sender is the candidate and its key (SPEC §6.6.5)", e.suite.Candidate.NodeID, "%s/%s signed by %s", env.Sender.NodeID, env.Sender.Country, v.Key.Member)
	}
	if env.Recipient.NodeID != e.suite.A().NodeID {
		c.fail("recipient is A's registered node (SPEC §6.6.7)", e.suite.A().NodeID, "%q", env.Recipient.NodeID)
	}
	return c
}
