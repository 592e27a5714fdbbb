package query

import (
	"context"
	"time"

	"github.com/ecrn/crvsx/node/records/match"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol/jws"
)

// Requester is a registered requester organisation (SPEC §11.1), field for
// field protocol/trust's Requester.
type Requester struct {
	ID               string   // INT-UNHCR, KG-BORDER
	Name             string   // for people
	OrganizationType string   // a status.query requester.organizationType
	TLSSPKISHA256    string   // the pin of its client TLS key (protocol.SPKIPin form)
	Countries        []string // the members it may query
	Questions        []string // the questions it may ask
	Bases            []string // the consent bases it may invoke
	Purposes         []string // the envelope purposes its queries may carry
	RatePerMinute    int      // queries per minute, per member node
	RateBurst        int
	Status           string // "active" or "suspended"
}

// RequesterActive is the Status of a requester that may query.
const RequesterActive = "active"

// Registry is the registry's view of requesters, as of one applied index
// (protocol/trust View): the Handler asks its Config.Registry func for the
// current one at every request.
type Registry interface {
	// Requester returns the requester with the id.
	Requester(id string) (Requester, bool)
	// RequesterKeys are the requesters' signing keys only (SPEC §11.1:
	// "a member key never verifies a query"); a key's Member is its
	// requester id.
	RequesterKeys() jws.KeyLookup
	// RequesterKeyValidAt is SPEC §2's validity of a requester key at t:
	// nil, or a *protocol.Error KEY_UNKNOWN or KEY_NOT_VALID.
	RequesterKeyValidAt(kid string, t time.Time) error
}

// Records answers for the member's records (node/records): whom the
// subject is (match.Outcome: unique-match, no-match, multiple-candidates,
// insufficient-data), the answers to the questions on a unique match —
// keyed by the question as asked ("vital-status"), valued as the
// attestation's enums ("no-death-registered") — and whether the matched
// record is protected (the member withholds an answer: refused,
// subject-protected). An error is the node's fault (500).
type Records interface {
	Status(ctx context.Context, s match.Subject, questions []string) (outcome match.Outcome, answers map[string]string, protected bool, err error)
}

// Store is what the Handler needs of node/store.
type Store interface {
	LookupQuery(ctx context.Context, requester, messageID string) (store.QueryAnswer, bool, error)
	AnswerQuery(ctx context.Context, q store.QueryAnswer, audit store.QueryAudit) (store.QueryAnswer, bool, error)
	AuditQuery(ctx context.Context, kind string, a store.QueryAudit) error
}

// Metrics receives the Handler's events (node/server's Metrics.Queries
// turns them into Prometheus instruments). Labels are bounded: requesters
// are registered, outcomes and signals are fixed sets.
type Metrics interface {
	// Query counts a query by requester and outcome: a matchResult, or
	// the problem code it was refused with.
	Query(requester, outcome string)
	// Probing counts a probing signal of a requester (SignalNearIdentical,
	// SignalIdentifierSweep).
	Probing(requester, signal string)
}

type nopMetrics struct{}

func (nopMetrics) Query(string, string)   {}
func (nopMetrics) Probing(string, string) {}
