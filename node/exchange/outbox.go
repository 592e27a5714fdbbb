package exchange

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
)

// OutboxStore is what the submitter needs of the store.
type OutboxStore interface {
	Enqueue(ctx context.Context, sub store.Submission) (*store.SubmissionStatus, bool, error)
}

// NodeOf returns the registered node of an active member, for routing
// (DESIGN §4); ok is false for anything else.
type NodeOf func(member string) (protocol.Endpoint, bool)

// Submitter runs DESIGN §3 for one outbox request of the national system.
// It is safe for concurrent use.
type Submitter struct {
	Store  OutboxStore
	Signer func() *jws.Signer
	Self   protocol.Endpoint
	NodeOf NodeOf
	// Notify wakes the delivery worker of a peer (its node id).
	Notify func(peerNodeID string)
	Now    func() time.Time
}

// OutboxRequest is the body of POST /v1/outbox.
type OutboxRequest struct {
	// ID is an optional idempotency key chosen by the national system (a
	// lowercase UUID): the same request again returns the stored
	// submission instead of sending twice.
	ID         string          `json:"id,omitempty"`
	Message    json.RawMessage `json:"message"`
	Recipients []string        `json:"recipients,omitempty"`
}

var (
	uuidRe    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	countryRe = regexp.MustCompile(`^[A-Z]{2}$`)
)

func badRequest(ptr, format string, args ...any) error {
	return &protocol.Error{Code: protocol.CodeBadRequest, Pointer: ptr, Detail: fmt.Sprintf(format, args...)}
}

// Submit validates, routes, prepares, signs and durably queues a
// submission, then wakes the delivery workers. The answer is the stored
// status (duplicate when the same id was submitted before with the same
// message). Refusals are *protocol.Error; nothing is stored for them.
func (s *Submitter) Submit(ctx context.Context, body []byte) (*store.SubmissionStatus, bool, error) {
	if err := protocol.CheckJSON(body, protocol.MaxJSONDepth); err != nil {
		return nil, false, err
	}
	var req OutboxRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, false, badRequest("", "the request is {\"message\": {…}, \"recipients\": [\"TJ\"], \"id\": \"…\"}: %v", err)
	}
	if req.ID != "" && !uuidRe.MatchString(req.ID) {
		return nil, false, badRequest("/id", "id must be a lowercase UUID")
	}
	var template map[string]any
	mdec := json.NewDecoder(bytes.NewReader(req.Message))
	mdec.UseNumber()
	if err := mdec.Decode(&template); err != nil || template == nil {
		return nil, false, badRequest("/message", "message must be a JSON object")
	}

	// > §3 the node fills in sender; a message naming another sender is
	// > refused, never silently rewritten.
	if err := checkSender(template["sender"], s.Self); err != nil {
		return nil, false, err
	}

	// > §3.1 / §4 Recipients: explicit, or by the routing rules.
	recipients, routed := req.Recipients, false
	if len(recipients) == 0 {
		r, err := Route(template, s.Self.Country)
		if err != nil {
			return nil, false, &protocol.Error{Code: protocol.CodeBadRequest, Pointer: "/recipients", Detail: err.Error(), Err: err}
		}
		recipients, routed = r, true
	}
	seen := map[string]bool{}
	for i, c := range recipients {
		switch {
		case !countryRe.MatchString(c):
			return nil, false, badRequest(fmt.Sprintf("/recipients/%d", i), "%q is not a member's country code", c)
		case c == s.Self.Country:
			return nil, false, badRequest(fmt.Sprintf("/recipients/%d", i), "a node does not send to its own member")
		case seen[c]:
			return nil, false, badRequest(fmt.Sprintf("/recipients/%d", i), "%s is named twice", c)
		}
		seen[c] = true
	}
	slices.Sort(recipients)

	subID := req.ID
	if subID == "" {
		subID = protocol.NewUUID()
	}
	givenID, _ := template["messageId"].(string)
	now := s.Now().UTC().Truncate(time.Second)
	signer := s.Signer()
	sub := store.Submission{ID: subID, CreatedAt: now}
	var err error
	if sub.Message, err = marshalJSON(template); err != nil {
		return nil, false, badRequest("/message", "message cannot be encoded: %v", err)
	}
	for i, c := range recipients {
		node, ok := s.NodeOf(c)
		if !ok {
			return nil, false, &protocol.Error{Code: protocol.CodeRecipientUnknown, Pointer: fmt.Sprintf("/recipients/%d", i),
				Detail: fmt.Sprintf("%s is not an active member with a registered node", c)}
		}
		msgID := givenID
		if len(recipients) > 1 || !uuidRe.MatchString(msgID) {
			msgID = protocol.NewUUID()
		}
		// > §3.1 fill in and validate each per-recipient message.
		prep := Prepare
		if routed {
			prep = PrepareRouted
		}
		msg, err := prep(template, s.Self, node, msgID, subID, now)
		if err != nil {
			var pe *protocol.Error
			if errors.As(err, &pe) {
				pe.Detail = fmt.Sprintf("the message for %s: %s", c, pe.Detail)
			}
			return nil, false, err
		}
		// > §3.2 sign each per-recipient message.
		tok, err := signer.Sign(protocol.TypEvent, msg)
		if err != nil {
			return nil, false, fmt.Errorf("sign the message for %s: %w", c, err)
		}
		sub.Deliveries = append(sub.Deliveries, store.Delivery{
			Recipient: c, RecipientNodeID: node.NodeID, MessageID: msgID, JWS: tok,
		})
	}
	// > §3.3 durable before 202.
	st, dup, err := s.Store.Enqueue(ctx, sub)
	if errors.Is(err, store.ErrConflict) {
		return nil, false, &protocol.Error{Code: protocol.CodeConflict, Pointer: "/id",
			Detail: fmt.Sprintf("submission %s exists with another message", subID)}
	}
	if err != nil {
		return nil, false, fmt.Errorf("enqueue submission %s: %w", subID, err)
	}
	// > §3.4 wake the workers.
	if s.Notify != nil {
		for _, d := range st.Deliveries {
			s.Notify(d.RecipientNodeID)
		}
	}
	return st, dup, nil
}

// FilledIn lists the members of a submitted message that the node sets
// for each recipient, whatever the message said (DESIGN §3); the outbox
// answer repeats it so that a national system is never surprised.
var FilledIn = []string{"sender", "recipient", "messageId", "createdAt", "correlationId"}

// checkSender accepts a message without a sender, or whose sender is this
// node and its member (a placeholder the node overwrites with the same
// values); any other sender is SENDER_NOT_THIS_NODE.
func checkSender(v any, self protocol.Endpoint) error {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return &protocol.Error{Code: protocol.CodeBadRequest, Pointer: "/message/sender", Detail: "sender must be an object (or left out: the node fills it in)"}
	}
	if c, ok := m["country"]; ok && c != self.Country {
		return &protocol.Error{Code: protocol.CodeSenderNotSelf, Pointer: "/message/sender/country",
			Detail: fmt.Sprintf("this node sends for member %s only; leave sender out, the node fills it in", self.Country)}
	}
	if id, ok := m["nodeId"]; ok && id != self.NodeID {
		return &protocol.Error{Code: protocol.CodeSenderNotSelf, Pointer: "/message/sender/nodeId",
			Detail: fmt.Sprintf("this node is %s; leave sender out, the node fills it in", self.NodeID)}
	}
	return nil
}
