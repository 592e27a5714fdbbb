package exchange

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/schemas"
)

// PurposeCitizenship is the purpose of a routed message (DESIGN §4).
const PurposeCitizenship = "citizenship-notification"

// Routing refusals. Each is returned inside a *protocol.Error with code
// BAD_REQUEST (the outbox request needs explicit recipients, or names a
// message that goes nowhere); test with errors.Is. The caller answers the
// national system and stores nothing.
var (
	// ErrRecipientsRequired: the message type has no default route
	// (DESIGN §4): the submission must name its recipients.
	ErrRecipientsRequired = errors.New("recipients required: this message type has no default route")
	// ErrNoRoute: the routing rules leave no recipient — every subject is a
	// citizen of this country only, stateless, or a refugee or
	// asylum-seeker whose country is never notified.
	ErrNoRoute = errors.New("no recipient: no subject holds a citizenship the message may be sent to")
)

// Route computes the default recipients of a message (DESIGN §4) as the
// sorted, duplicate-free list of member country codes to notify. self is
// this node's country. doc is a decoded message (as the outbox request
// carries it, before the per-recipient members are filled in); Route only
// reads it.
//
//   - event.death → the deceased's citizenships;
//   - event.live-birth → the child's and the known parents' citizenships;
//   - event.fetal-death → the parents' citizenships;
//   - event.marriage, event.divorce, event.annulment,
//     event.judicial-separation → both spouses' citizenships;
//
// in each case without self, and without any country of citizenship of
// any person of the message whose nationalityStatus is refugee or
// asylum-seeker (non-refoulement: such a country is removed even when
// another person of the message holds it). These subjects are those of
// schemas/semantic/RULES.md "Purpose and protection", so every routed
// recipient passes the semantic layer's citizenship-notification rule.
// Other types: ErrRecipientsRequired; an empty result: ErrNoRoute.
//
// Route is pure. Whether a recipient is an active member with a
// registered node (RECIPIENT_UNKNOWN) is the caller's check against the
// registry.
func Route(doc map[string]any, self string) ([]string, error) {
	mt, _ := doc["messageType"].(string)
	payload, _ := doc["payload"].(map[string]any)
	var subjects []any
	switch mt {
	case protocol.MTDeath:
		subjects = []any{payload["deceased"]}
	case protocol.MTLiveBirth:
		subjects = []any{payload["child"], personOf(payload["mother"]), personOf(payload["father"])}
	case protocol.MTFetalDeath:
		subjects = []any{personOf(payload["mother"]), personOf(payload["father"])}
	case protocol.MTMarriage, protocol.MTDivorce, protocol.MTAnnulment, protocol.MTJudicialSeparation:
		spouses, _ := payload["spouses"].([]any)
		for _, s := range spouses {
			subjects = append(subjects, personOf(s))
		}
	default:
		return nil, &protocol.Error{Code: protocol.CodeBadRequest, Pointer: "/messageType",
			Detail: fmt.Sprintf("%s: %s", mt, ErrRecipientsRequired), Err: ErrRecipientsRequired}
	}
	// > Never a country of citizenship of a person in the message whose
	// > nationalityStatus is refugee or asylum-seeker (non-refoulement).
	protected := map[string]bool{}
	protectedCountries(payload, protected, 0)
	route := map[string]bool{}
	for _, s := range subjects {
		p, _ := s.(map[string]any)
		for _, cc := range citizenships(p) {
			if cc != self && !protected[cc] {
				route[cc] = true
			}
		}
	}
	if len(route) == 0 {
		return nil, &protocol.Error{Code: protocol.CodeBadRequest, Detail: fmt.Sprintf("%s: %s", mt, ErrNoRoute), Err: ErrNoRoute}
	}
	return slices.Sorted(maps.Keys(route)), nil
}

// personOf returns the person of a parent or spouse entry ({"person": …}).
func personOf(v any) any {
	m, _ := v.(map[string]any)
	return m["person"]
}

// citizenships returns the well-formed country codes of a person's
// citizenships; anything else is the schema's to refuse.
func citizenships(p map[string]any) []string {
	list, _ := p["citizenships"].([]any)
	out := make([]string, 0, len(list))
	for _, v := range list {
		if s, ok := v.(string); ok && isCountryCode(s) {
			out = append(out, s)
		}
	}
	return out
}

func isCountryCode(s string) bool {
	return len(s) == 2 && 'A' <= s[0] && s[0] <= 'Z' && 'A' <= s[1] && s[1] <= 'Z'
}

// maxRouteDepth bounds the walk of protectedCountries; a message is at
// most protocol.MaxJSONDepth deep, so a deeper document has no person the
// walk could miss that the schemas would accept.
const maxRouteDepth = 2 * protocol.MaxJSONDepth

// protectedCountries adds to out the citizenships of every object in v with
// nationalityStatus refugee or asylum-seeker, wherever it is in the message
// (a subject, a birth parent, an informant, …).
func protectedCountries(v any, out map[string]bool, depth int) {
	if depth > maxRouteDepth {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		switch x["nationalityStatus"] {
		case "refugee", "asylum-seeker":
			list, _ := x["citizenships"].([]any)
			for _, c := range list {
				if s, ok := c.(string); ok {
					out[s] = true
				}
			}
		}
		for _, e := range x {
			protectedCountries(e, out, depth+1)
		}
	case []any:
		for _, e := range x {
			protectedCountries(e, out, depth+1)
		}
	}
}

// Prepare builds one per-recipient message of an outbox submission
// (DESIGN §3): a copy of template with sender self, recipient, messageId,
// createdAt (now, RFC 3339 UTC) and correlationId (the submission id)
// filled in — whatever the template had there — encoded as JSON and
// validated against the schemas and the semantic layer, so that nothing
// invalid is signed. template is not modified. The template's purpose is
// kept; use PrepareRouted for a recipient chosen by Route.
//
// Only a message that travels as crvs-event+jws (event.* and
// record.cancellation) can be prepared: anything else is BAD_REQUEST. A
// message the schemas refuse is the validator's *protocol.Error
// (SCHEMA_VALIDATION_FAILED, SEMANTIC_VALIDATION_FAILED …) with its
// issues: among them a citizenship-notification to a country no subject
// holds, and any message to a refugee's country of citizenship.
func Prepare(template map[string]any, self, recipient protocol.Endpoint, messageID, submissionID string, now time.Time) ([]byte, error) {
	return prepare(template, self, recipient, messageID, submissionID, now, "")
}

// PrepareRouted is Prepare for a recipient that Route chose: the message's
// purpose is citizenship-notification (DESIGN §4), whatever the template
// said.
func PrepareRouted(template map[string]any, self, recipient protocol.Endpoint, messageID, submissionID string, now time.Time) ([]byte, error) {
	return prepare(template, self, recipient, messageID, submissionID, now, PurposeCitizenship)
}

func prepare(template map[string]any, self, recipient protocol.Endpoint, messageID, submissionID string, now time.Time, purpose string) ([]byte, error) {
	mt, _ := template["messageType"].(string)
	if typ, _ := protocol.TypFor(mt); typ != protocol.TypEvent {
		return nil, &protocol.Error{Code: protocol.CodeBadRequest, Pointer: "/messageType",
			Detail: fmt.Sprintf("messageType %q is not an event the outbox sends", mt)}
	}
	msg := maps.Clone(template)
	msg["sender"] = endpointJSON(self)
	msg["recipient"] = endpointJSON(recipient)
	msg["messageId"] = messageID
	msg["createdAt"] = now.UTC().Format(time.RFC3339)
	msg["correlationId"] = submissionID
	if purpose != "" {
		msg["purpose"] = purpose
	}
	b, err := marshalJSON(msg)
	if err != nil {
		return nil, &protocol.Error{Code: protocol.CodeBadRequest, Detail: "the message cannot be encoded as JSON", Err: err}
	}
	if _, err := schemas.Default().Validate(b); err != nil {
		return nil, err
	}
	return b, nil
}

func endpointJSON(e protocol.Endpoint) map[string]any {
	m := map[string]any{"nodeId": e.NodeID}
	if e.Country != "" {
		m["country"] = e.Country
	}
	return m
}
