package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/node/records/match"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol"
)

// Consumer is the inbox cursor of the event follower (DESIGN.md R6).
const Consumer = "records"

// Inbox is what the follower reads (node/store, or exchange.FreshInbox to
// hold events while the registry replica is stale, as for the national
// system).
type Inbox interface {
	InboxAfter(ctx context.Context, consumer string, after uint64, limit int) ([]store.InboundRecord, uint64, error)
	AckedUpTo(ctx context.Context, consumer string) (uint64, error)
}

// Event outcomes, the label values of the follower's counter (R6).
const (
	OutcomeApplied    = "applied"    // a uniquely matched record was changed (or already said so)
	OutcomeNoMatch    = "no-match"   // a person of the event matched no record
	OutcomeAmbiguous  = "ambiguous"  // multiple-candidates or insufficient-data: nothing changed
	OutcomeUnreadable = "unreadable" // the payload or a person in it could not be read
)

// statusOf is R6's table: the message type, where its persons are, and the
// fact it sets.
var statusOf = map[string]struct {
	persons func(p map[string]json.RawMessage) []json.RawMessage
	apply   func(s *Status)
}{
	"event.death":               {deceased, func(s *Status) { s.DeathRegistered = Yes }},
	"event.marriage":            {spouses, func(s *Status) { s.CivilStatus = "married" }},
	"event.divorce":             {spouses, func(s *Status) { s.CivilStatus = "divorced" }},
	"event.annulment":           {spouses, func(s *Status) { s.CivilStatus = "annulled" }},
	"event.judicial-separation": {spouses, func(s *Status) { s.CivilStatus = "legally-separated" }},
}

func deceased(p map[string]json.RawMessage) []json.RawMessage {
	if d, ok := p["deceased"]; ok {
		return []json.RawMessage{d}
	}
	return nil
}

func spouses(p map[string]json.RawMessage) []json.RawMessage {
	var sp []struct {
		Person json.RawMessage `json:"person"`
	}
	if err := json.Unmarshal(p["spouses"], &sp); err != nil {
		return nil
	}
	var out []json.RawMessage
	for _, s := range sp {
		if len(s.Person) > 0 {
			out = append(out, s.Person)
		}
	}
	return out
}

// Follower keeps the embedded records up to date with the inbound events
// the node accepts (R6): it reads the inbox after its own cursor, and for
// each person of a death, marriage, divorce, annulment or judicial
// separation that uniquely matches a record, sets the fact — the change
// and the cursor in one transaction.
type Follower struct {
	Records *Embedded
	Inbox   Inbox
	Store   interface {
		PutRecords(ctx context.Context, puts []store.RecordPut, ack *store.RecordAck) ([]store.PutOutcome, error)
	}
	Log *slog.Logger
	// Count, if set, is called once per person of an event with its
	// outcome (a metric).
	Count func(outcome string)
	// Poll is how often Run looks at the inbox without a Notify; 0 means 10 s.
	Poll time.Duration

	wake chan struct{}
}

// Init prepares the follower; call before Notify and Run.
func (f *Follower) Init() {
	f.wake = make(chan struct{}, 1)
	if f.Log == nil {
		f.Log = slog.New(slog.DiscardHandler)
	}
	if f.Poll <= 0 {
		f.Poll = 10 * time.Second
	}
}

// Notify wakes Run (a message was accepted).
func (f *Follower) Notify() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Run applies events until ctx ends.
func (f *Follower) Run(ctx context.Context) error {
	for {
		n, err := f.Step(ctx)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err == nil:
		case protocol.CodeOf(err) == protocol.CodeRegistryStale:
			// Held while the registry replica is stale (at every start,
			// until it is in sync): expected, and /readyz says so.
			f.Log.Debug("records: inbound events held while the registry replica is stale", slog.Any("err", err))
		default:
			f.Log.Warn("records: applying inbound events failed; retrying", slog.Any("err", err))
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-f.wake:
		case <-time.After(f.Poll):
		}
	}
}

func (f *Follower) count(outcome string) {
	if f.Count != nil {
		f.Count(outcome)
	}
}

// Step applies one page of the inbox after the cursor and returns how many
// inbox records it consumed.
func (f *Follower) Step(ctx context.Context) (int, error) {
	after, err := f.Inbox.AckedUpTo(ctx, Consumer)
	if err != nil {
		return 0, err
	}
	recs, next, err := f.Inbox.InboxAfter(ctx, Consumer, after, 100)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	for _, in := range recs {
		if _, ok := statusOf[in.MessageType]; !ok {
			continue // acknowledged with the page
		}
		if err := f.apply(ctx, in); err != nil {
			return 0, err
		}
	}
	if _, err := f.Store.PutRecords(ctx, nil, &store.RecordAck{Consumer: Consumer, UpTo: next}); err != nil {
		return 0, err
	}
	return len(recs), nil
}

// apply applies one event and moves the cursor to it, in one transaction
// (R6). A lost race with an import is redone.
func (f *Follower) apply(ctx context.Context, in store.InboundRecord) error {
	rule := statusOf[in.MessageType]
	log := f.Log.With(slog.String("sender", in.Sender), slog.String("messageId", in.MessageID), slog.String("messageType", in.MessageType))
	var msg struct {
		Payload map[string]json.RawMessage `json:"payload"`
	}
	payload := exchange.StoredPayload(in.JWS)
	if payload == nil || json.Unmarshal(payload, &msg) != nil {
		log.Debug("records: event payload unreadable")
		f.count(OutcomeUnreadable)
		return f.ack(ctx, in.Seq)
	}
	for attempt := 0; ; attempt++ {
		var puts []store.RecordPut
		done := map[string]bool{}
		for _, raw := range rule.persons(msg.Payload) {
			s, err := match.ParseSubjectJSON(raw)
			if err != nil {
				log.Debug("records: a person of the event is unreadable", slog.Any("err", err))
				f.count(OutcomeUnreadable)
				continue
			}
			res, _, err := Lookup(ctx, f.Records, s)
			if err != nil {
				return err
			}
			if res.Outcome != match.UniqueMatch {
				// > Anything that is not a unique match changes nothing.
				log.Debug("records: event person not uniquely matched; nothing changed", slog.String("outcome", string(res.Outcome)))
				if res.Outcome == match.NoMatch {
					f.count(OutcomeNoMatch)
				} else {
					f.count(OutcomeAmbiguous)
				}
				continue
			}
			if done[res.PersonID] {
				continue
			}
			done[res.PersonID] = true
			cur, err := f.Records.Store.Record(ctx, res.PersonID)
			if err != nil {
				return err
			}
			r, err := decodeStored(cur)
			if err != nil {
				return err
			}
			rule.apply(&r.Status)
			p, err := put(&r, cur.Version)
			if err != nil {
				return err
			}
			puts = append(puts, p)
			f.count(OutcomeApplied)
			log.Info("records: event applied to a uniquely matched record", slog.String("recordId", r.RecordID))
		}
		_, err := f.Store.PutRecords(ctx, puts, &store.RecordAck{Consumer: Consumer, UpTo: in.Seq})
		if errors.Is(err, store.ErrConflict) && attempt < 3 {
			continue
		}
		if err != nil {
			return fmt.Errorf("records: apply %s/%s: %w", in.Sender, in.MessageID, err)
		}
		return nil
	}
}

func (f *Follower) ack(ctx context.Context, seq uint64) error {
	_, err := f.Store.PutRecords(ctx, nil, &store.RecordAck{Consumer: Consumer, UpTo: seq})
	return err
}
