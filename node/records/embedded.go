package records

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ecrn/crvsx/node/records/match"
	"github.com/ecrn/crvsx/node/store"
)

// RecordStore is what the embedded backend needs of node/store.
type RecordStore interface {
	PutRecords(ctx context.Context, puts []store.RecordPut, ack *store.RecordAck) ([]store.PutOutcome, error)
	RecordsByKeys(ctx context.Context, keys []string) ([]store.PersonRecord, error)
	Record(ctx context.Context, id string) (store.PersonRecord, error)
}

// Embedded is the records backend kept in the node's own store
// (DESIGN.md R3): it implements Source, the JSONL import and the
// application of inbound events. Safe for concurrent use.
type Embedded struct {
	Store RecordStore
	Log   *slog.Logger // nil discards
}

var _ Source = (*Embedded)(nil)

func (e *Embedded) log() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}

// storeKey makes a matching key fit the store's 128-byte limit: a longer
// one is filed under its SHA-256 (R3). Both sides use it.
func storeKey(k string) string {
	if len(k) <= 128 {
		return k
	}
	h := sha256.Sum256([]byte(k))
	return "h|" + hex.EncodeToString(h[:])
}

func storeKeys(ks []string) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = storeKey(k)
	}
	return out
}

// Candidates retrieves the records filed under the subject's keys
// (match.SubjectKeys; R3).
func (e *Embedded) Candidates(ctx context.Context, s match.Subject) ([]Candidate, error) {
	keys := match.SubjectKeys(s)
	if len(keys) == 0 {
		return nil, nil // insufficient: Match says so without candidates
	}
	recs, err := e.Store.RecordsByKeys(ctx, storeKeys(keys))
	if errors.Is(err, store.ErrTooMany) {
		return nil, ErrTooManyCandidates
	}
	if err != nil {
		return nil, fmt.Errorf("records: candidates: %w", err)
	}
	out := make([]Candidate, 0, len(recs))
	for _, pr := range recs {
		r, err := decodeStored(pr)
		if err != nil {
			return nil, err
		}
		out = append(out, Candidate{Person: r.Person(), Facts: r.Facts()})
	}
	return out, nil
}

// decodeStored reads a stored document (written by this package: any
// failure is corruption).
func decodeStored(pr store.PersonRecord) (Record, error) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(pr.Doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil || r.RecordID != pr.ID {
		return Record{}, fmt.Errorf("records: stored record %s: %w: undecodable document (%v)", pr.ID, store.ErrCorrupt, err)
	}
	return r, nil
}

// put is the store write of a record.
func put(r *Record, ifVersion uint64) (store.RecordPut, error) {
	doc, err := r.encode()
	if err != nil {
		return store.RecordPut{}, err
	}
	return store.RecordPut{ID: r.RecordID, Doc: doc, Keys: storeKeys(match.RecordKeys(r.Person())), IfVersion: ifVersion}, nil
}

// Report is the answer to an import (DESIGN.md R2).
type Report struct {
	Lines         int         `json:"lines"` // non-blank lines read
	Created       int         `json:"created"`
	Updated       int         `json:"updated"`
	Unchanged     int         `json:"unchanged"`
	Rejected      int         `json:"rejected"`
	Errors        []LineError `json:"errors"`                  // the first MaxErrors
	ErrorsOmitted int         `json:"errorsOmitted,omitempty"` // rejected lines not listed
}

func (rep *Report) reject(line int, le *LineError) {
	rep.Rejected++
	if len(rep.Errors) >= MaxErrors {
		rep.ErrorsOmitted++
		return
	}
	le.Line = line
	rep.Errors = append(rep.Errors, *le)
}

// ErrTooManyLines refuses a request of more than MaxRequestLines lines
// before anything is applied.
var ErrTooManyLines = fmt.Errorf("records: more than %d lines in one request", MaxRequestLines)

// Import applies a JSONL body (R2): every line that parses is upserted by
// recordId; the valid lines of one call are written in one transaction, so
// a failure of the store applies none of them (the error is returned and
// the report is not). A line applies whole or not at all.
func (e *Embedded) Import(ctx context.Context, body []byte) (Report, error) {
	rep := Report{Errors: []LineError{}}
	type parsed struct {
		line int
		rec  Record
	}
	var ok []parsed
	lineNo := 0
	for line := range bytes.Lines(body) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		lineNo++
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue // blank lines are skipped, but numbered
		}
		rep.Lines++
		if rep.Lines > MaxRequestLines {
			return Report{}, ErrTooManyLines
		}
		r, le := ParseRecord(line)
		if le != nil {
			rep.reject(lineNo, le)
			continue
		}
		ok = append(ok, parsed{lineNo, r})
	}
	// > a line whose updatedAt is older than the stored record's is stale
	// The versions read here make the write conditional: a concurrent
	// change (an inbound event) makes the batch conflict, and it is redone.
	for attempt := 0; ; attempt++ {
		var puts []store.RecordPut
		stale := map[int]*LineError{}
		versions := map[string]uint64{}
		for _, p := range ok {
			v, seen := versions[p.rec.RecordID]
			if !seen {
				cur, err := e.Store.Record(ctx, p.rec.RecordID)
				switch {
				case errors.Is(err, store.ErrNotFound):
				case err != nil:
					return Report{}, fmt.Errorf("records: import: %w", err)
				default:
					v = cur.Version
					old, err := decodeStored(cur)
					if err != nil {
						return Report{}, err
					}
					if newer(old.UpdatedAt, p.rec.UpdatedAt) {
						stale[p.line] = lineErr("/updatedAt", CodeStale, "the stored record was updated at %s, after this line's %s", old.UpdatedAt, p.rec.UpdatedAt)
						continue
					}
				}
				versions[p.rec.RecordID] = v
			}
			pu, err := put(&p.rec, 0)
			if err != nil {
				return Report{}, err
			}
			if !seen && v != 0 {
				pu.IfVersion = v
			}
			puts = append(puts, pu)
		}
		outs, err := e.Store.PutRecords(ctx, puts, nil)
		if errors.Is(err, store.ErrConflict) && attempt < 3 {
			continue
		}
		if err != nil {
			return Report{}, fmt.Errorf("records: import: %w", err)
		}
		final := rep
		final.Errors = append([]LineError{}, rep.Errors...)
		for _, p := range ok {
			if le := stale[p.line]; le != nil {
				final.reject(p.line, le)
			}
		}
		for _, o := range outs {
			switch o {
			case store.RecordCreated:
				final.Created++
			case store.RecordUpdated:
				final.Updated++
			case store.RecordUnchanged:
				final.Unchanged++
			}
		}
		sortErrors(final.Errors)
		e.log().Info("records imported", slog.Int("lines", final.Lines), slog.Int("created", final.Created), slog.Int("updated", final.Updated),
			slog.Int("unchanged", final.Unchanged), slog.Int("rejected", final.Rejected))
		return final, nil
	}
}

// newer reports whether stored is a later RFC 3339 time than line (both
// given).
func newer(stored, line string) bool {
	if stored == "" || line == "" {
		return false
	}
	a, err1 := time.Parse(time.RFC3339, stored)
	b, err2 := time.Parse(time.RFC3339, line)
	return err1 == nil && err2 == nil && a.After(b)
}

func sortErrors(es []LineError) {
	slices.SortStableFunc(es, func(a, b LineError) int { return a.Line - b.Line })
}
