package view

import "github.com/ecrn/crvsx/node/store"

// Message is a message's page: its timeline (ids, types, times and codes
// only), or, when an id names several messages, the candidates.
type Message struct {
	Ref          string
	Direction    string
	DirectionKey string // timeline.direction.*
	MessageID    string
	MessageType  string
	Peer         string
	Country      string
	SubmissionID string
	State        string
	StateKey     string // timeline.state.*
	Attempts     int
	Events       []Event
	// IncompleteKey is "timeline.incomplete" when older steps are missing.
	IncompleteKey string
	// CanRetry: a dead letter the operator may retry (RetryDeadLetter).
	CanRetry bool
	// Candidates are the refs of the messages an ambiguous id names.
	Candidates []string
	// RefusalCode is a refused inbound message's problem code (the
	// refused event's); RefusalDetail the peer-facing detail text, set by
	// the node only when console.showPersonalData allows it.
	RefusalCode   string
	RefusalDetail string
}

// Event is one step of the timeline.
type Event struct {
	store.TimelineEvent
	Key string // timeline.event.* (acknowledged: {0} is Consumer)
}

// BuildMessage builds a message page from a store timeline.
func BuildMessage(tl *store.Timeline) Message {
	m := Message{Ref: tl.Ref, Direction: tl.Direction, DirectionKey: "timeline.direction." + tl.Direction,
		MessageID: tl.MessageID, MessageType: tl.MessageType, Peer: tl.Peer, Country: tl.Country,
		SubmissionID: tl.SubmissionID, State: tl.State, StateKey: keyOr("timeline.state."+tl.State, "key.status.unknown"),
		Attempts: tl.Attempts, CanRetry: tl.Direction == store.DirectionOut && tl.State == string(store.StateDead)}
	for _, e := range tl.Events {
		m.Events = append(m.Events, Event{TimelineEvent: e, Key: keyOr("timeline.event."+e.Kind, "key.status.unknown")})
		if e.Kind == store.EventRefused && e.Code != "" {
			m.RefusalCode = e.Code
		}
	}
	if tl.Incomplete {
		m.IncompleteKey = "timeline.incomplete"
	}
	return m
}
