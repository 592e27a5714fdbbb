package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Person records (DESIGN.md §11): the registry's records that node/records
// matches status queries against, kept in two buckets of this file. The
// store does not read a record's document: node/records gives it the JSON
// and the lookup keys it computed, and the store keeps the key index true
// across updates, in the same transaction as the record.

var (
	bktRecords   = []byte("records")
	bktRecordKey = []byte("records.key")
	// recordBuckets are created on the first writable open of a file that
	// lacks them (the format stays 1: a file without them has no records).
	recordBuckets = [][]byte{bktRecords, bktRecordKey}
)

const kindRecord = 'R'

// Limits of person records (DESIGN.md §11).
const (
	maxRecordID     = 64       // printable ASCII
	maxRecordKey    = 128      // bytes; fits the one-byte length of a composite key
	maxRecordKeys   = 64       // lookup keys per record
	maxRecordDoc    = 64 << 10 // bytes of one document
	MaxRecordsFound = 1000     // RecordsByKeys: more candidates than this is ErrTooMany
)

// ErrTooMany is returned by RecordsByKeys when the keys retrieve more than
// MaxRecordsFound records: the caller cannot decide over a part of them.
var ErrTooMany = fmt.Errorf("%w: too many records share these keys", ErrInvalid)

// PersonRecord is a stored person record.
type PersonRecord struct {
	ID        string          // the registry's recordId
	Doc       json.RawMessage // the document, as node/records wrote it
	Keys      []string        // the lookup keys it is filed under
	Version   uint64          // 1 when created, +1 on every change
	UpdatedAt time.Time       // when this node last changed it
}

// RecordPut is one upsert.
type RecordPut struct {
	ID   string
	Doc  json.RawMessage // one JSON object, at most 64 KiB
	Keys []string        // at most 64, each 1..128 bytes; order and repeats do not matter
	// IfVersion, when not 0, makes the put conditional: ErrConflict unless
	// the stored record has this version (a read-modify-write that lost a
	// race with another writer).
	IfVersion uint64
}

// PutOutcome is what a put did.
type PutOutcome int

const (
	RecordCreated   PutOutcome = iota + 1 // no record had the id
	RecordUpdated                         // the document or keys changed
	RecordUnchanged                       // the same document and keys: nothing written
)

// RecordAck advances an inbox consumer's cursor in the same transaction as
// the puts (an inbound event applied exactly once, DESIGN.md §11).
type RecordAck struct {
	Consumer string
	UpTo     uint64
}

// recordRec is record 'R' (DESIGN.md §11).
type recordRec struct {
	ID        string          `json:"id"`
	Version   uint64          `json:"version"`
	UpdatedAt time.Time       `json:"updatedAt"`
	Keys      []string        `json:"keys"`
	Doc       json.RawMessage `json:"doc"`
}

func (p *RecordPut) validate() error {
	if err := checkField("recordId", p.ID, maxRecordID); err != nil {
		return err
	}
	if len(p.Doc) == 0 || len(p.Doc) > maxRecordDoc || p.Doc[0] != '{' || !json.Valid(p.Doc) {
		return invalidf("record %s: the document is not one JSON object of 1..%d bytes", p.ID, maxRecordDoc)
	}
	if len(p.Keys) > maxRecordKeys {
		return invalidf("record %s: %d keys, at most %d", p.ID, len(p.Keys), maxRecordKeys)
	}
	for _, k := range p.Keys {
		if len(k) == 0 || len(k) > maxRecordKey {
			return invalidf("record %s: a key of %d bytes is not in 1..%d", p.ID, len(k), maxRecordKey)
		}
	}
	return nil
}

// normKeys sorts and deduplicates keys.
func normKeys(keys []string) []string {
	out := slices.Clone(keys)
	slices.Sort(out)
	return slices.Compact(out)
}

// compactJSON is the document as stored: insignificant whitespace removed,
// so that an unchanged record compares equal byte for byte.
func compactJSON(doc []byte) ([]byte, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, doc); err != nil {
		return nil, invalidf("document: %v", err)
	}
	return b.Bytes(), nil
}

// PutRecords upserts records in one transaction (DESIGN.md §11): all of
// them or, on any error, none. Puts of one id apply in order. ack, if not
// nil, moves an inbox consumer's cursor in the same transaction, as Ack
// does. It returns each put's outcome.
func (s *Store) PutRecords(ctx context.Context, puts []RecordPut, ack *RecordAck) ([]PutOutcome, error) {
	size := 64
	prepared := make([]RecordPut, len(puts))
	for i, p := range puts {
		if err := p.validate(); err != nil {
			return nil, fmt.Errorf("store: put records: %w", err)
		}
		doc, err := compactJSON(p.Doc)
		if err != nil {
			return nil, fmt.Errorf("store: put records: %s: %w", p.ID, err)
		}
		p.Doc, p.Keys = doc, normKeys(p.Keys)
		prepared[i] = p
		size += len(doc) + 64*len(p.Keys)
	}
	if ack != nil {
		if err := checkField("consumer", ack.Consumer, maxNameLen); err != nil {
			return nil, fmt.Errorf("store: put records: %w", err)
		}
	}
	outcomes := make([]PutOutcome, len(puts))
	err := s.write(ctx, size, func(w *wtx) error {
		if w.bucket(bktRecords) == nil {
			return fmt.Errorf("%w: the records buckets are missing (a read-only open of an older file)", ErrUnavailable)
		}
		// Every refusal is decided before the first write (§5: an operation
		// that fails has written nothing).
		state := map[string]*recordRec{}
		before := map[string]*recordRec{}
		out := make([]PutOutcome, len(prepared))
		now := w.now().UTC()
		for i, p := range prepared {
			cur, seen := state[p.ID]
			if !seen {
				old, err := readRecord(w.tx, p.ID)
				if err != nil {
					return err
				}
				cur, before[p.ID] = old, old
			}
			switch {
			case p.IfVersion != 0 && (cur == nil || cur.Version != p.IfVersion):
				have := uint64(0)
				if cur != nil {
					have = cur.Version
				}
				return fmt.Errorf("%w: record %s is at version %d, not %d", ErrConflict, p.ID, have, p.IfVersion)
			case cur == nil:
				out[i] = RecordCreated
				cur = &recordRec{ID: p.ID, Version: 1, UpdatedAt: now, Keys: p.Keys, Doc: p.Doc}
			case bytes.Equal(cur.Doc, p.Doc) && slices.Equal(cur.Keys, p.Keys):
				out[i] = RecordUnchanged
			default:
				out[i] = RecordUpdated
				cur = &recordRec{ID: p.ID, Version: cur.Version + 1, UpdatedAt: now, Keys: p.Keys, Doc: p.Doc}
			}
			state[p.ID] = cur
		}
		if ack != nil {
			if last := w.bucket(bktInbox).Sequence(); ack.UpTo > last {
				return invalidf("ack %d is beyond the last inbox seq %d", ack.UpTo, last)
			}
		}
		// Writes, in id order so that a batch writes the same pages in the
		// same order however its lines were ordered.
		ids := make([]string, 0, len(state))
		for id := range state {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if err := writeRecord(w, before[id], state[id]); err != nil {
				return err
			}
		}
		if e, ok := recordsAudit(ids, before, state, ack); ok {
			if err := appendAudit(w, e); err != nil {
				return err
			}
		}
		if ack != nil {
			cur, _ := getU64(w.bucket(bktCursor).Get([]byte(ack.Consumer)))
			if ack.UpTo > cur {
				if err := w.put(bktCursor, []byte(ack.Consumer), u64(ack.UpTo)); err != nil {
					return err
				}
			}
		}
		copy(outcomes, out)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: put records: %w", err)
	}
	return outcomes, nil
}

// AuditRecordsChanged is the audit entry of a PutRecords call that created
// or updated records (DESIGN.md §11).
const AuditRecordsChanged = "records.changed"

// maxRecordsAuditDetail bounds the detail of a records.changed entry.
const maxRecordsAuditDetail = 1024

// recordsAudit is the records.changed entry of a PutRecords call (§11):
// false when nothing was created or updated. ids are the call's record ids
// in order; before and after their stored records before and after it.
func recordsAudit(ids []string, before, after map[string]*recordRec, ack *RecordAck) (auditRec, bool) {
	var created, updated int
	var list []string
	h := sha256.New()
	for _, id := range ids {
		old, rec := before[id], after[id]
		switch {
		case old == nil:
			created++
		case old.Version != rec.Version:
			updated++
		default:
			continue
		}
		list = append(list, fmt.Sprintf("%s@%d", id, rec.Version))
		doc := sha256.Sum256(rec.Doc)
		fmt.Fprintf(h, "%s\t%d\t%s\n", id, rec.Version, hex.EncodeToString(doc[:]))
	}
	if created+updated == 0 {
		return auditRec{}, false
	}
	detail := fmt.Sprintf("created=%d updated=%d ids=", created, updated)
	// Each id is added only if what would still have to follow it (" …+K"
	// for the ids after it) fits as well, so the cut detail is never over
	// the bound.
	for i, item := range list {
		piece := " " + item
		if i == 0 {
			piece = item
		}
		reserve := 0
		if rest := len(list) - i - 1; rest > 0 {
			reserve = len(fmt.Sprintf(" …+%d", rest))
		}
		if len(detail)+len(piece)+reserve > maxRecordsAuditDetail {
			detail += fmt.Sprintf(" …+%d", len(list)-i)
			break
		}
		detail += piece
	}
	e := auditRec{Kind: AuditRecordsChanged, Ref: "records/import", Detail: detail}
	if ack != nil {
		e.Ref = fmt.Sprintf("inbox/%d", ack.UpTo)
	}
	h.Sum(e.Digest[:0])
	return e, true
}

// writeRecord replaces old (nil: none) by rec, moving its index entries.
func writeRecord(w *wtx, old, rec *recordRec) error {
	if old != nil && old.Version == rec.Version {
		return nil // unchanged
	}
	if old != nil {
		for _, k := range old.Keys {
			if !slices.Contains(rec.Keys, k) {
				if err := w.del(bktRecordKey, compositeKey(k, []byte(rec.ID))); err != nil {
					return err
				}
			}
		}
	}
	for _, k := range rec.Keys {
		if old == nil || !slices.Contains(old.Keys, k) {
			if err := w.put(bktRecordKey, compositeKey(k, []byte(rec.ID)), nil); err != nil {
				return err
			}
		}
	}
	b, err := encodeRecord(kindRecord, rec)
	if err != nil {
		return &txAbort{err}
	}
	return w.put(bktRecords, []byte(rec.ID), b)
}

// readRecord reads a record (nil when absent) out of tx.
func readRecord(tx *bolt.Tx, id string) (*recordRec, error) {
	bk := tx.Bucket(bktRecords)
	if bk == nil {
		return nil, nil
	}
	v := bk.Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	var r recordRec
	if err := decodeRecord(kindRecord, v, &r); err != nil {
		return nil, fmt.Errorf("record %s: %w", id, err)
	}
	if r.ID != id {
		return nil, corruptf("record under %q names %q", id, r.ID)
	}
	r.Doc = cloneBytes(r.Doc)
	return &r, nil
}

func (r *recordRec) public() PersonRecord {
	return PersonRecord{ID: r.ID, Doc: r.Doc, Keys: r.Keys, Version: r.Version, UpdatedAt: r.UpdatedAt}
}

// Record returns the record of id, or ErrNotFound.
func (s *Store) Record(ctx context.Context, id string) (PersonRecord, error) {
	if err := checkField("recordId", id, maxRecordID); err != nil {
		return PersonRecord{}, fmt.Errorf("store: record: %w", err)
	}
	var r *recordRec
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var e error
		r, e = readRecord(tx, id)
		return e
	})
	if err == nil && r == nil {
		err = ErrNotFound
	}
	if err != nil {
		return PersonRecord{}, fmt.Errorf("store: record %s: %w", id, err)
	}
	return r.public(), nil
}

// RecordsByKeys returns, in one read transaction, every record filed under
// any of keys, each once, in id order. More than MaxRecordsFound is
// ErrTooMany.
func (s *Store) RecordsByKeys(ctx context.Context, keys []string) ([]PersonRecord, error) {
	var out []PersonRecord
	err := s.view(ctx, func(tx *bolt.Tx) error {
		idx := tx.Bucket(bktRecordKey)
		if idx == nil {
			return nil
		}
		ids := map[string]bool{}
		c := idx.Cursor()
		for _, k := range normKeys(keys) {
			if len(k) == 0 || len(k) > maxRecordKey {
				continue // no record is filed under it
			}
			prefix := prefixKey(k)
			for ik, _ := c.Seek(prefix); ik != nil && bytes.HasPrefix(ik, prefix); ik, _ = c.Next() {
				ids[string(ik[len(prefix):])] = true
				if len(ids) > MaxRecordsFound {
					return ErrTooMany
				}
			}
		}
		sorted := make([]string, 0, len(ids))
		for id := range ids {
			sorted = append(sorted, id)
		}
		slices.Sort(sorted)
		for _, id := range sorted {
			r, err := readRecord(tx, id)
			if err != nil {
				return err
			}
			if r == nil {
				return corruptf("records.key names record %q, which is missing", id)
			}
			out = append(out, r.public())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: records by keys: %w", err)
	}
	return out, nil
}

// RecordCount is the number of person records.
func (s *Store) RecordCount(ctx context.Context) (int, error) {
	var n int
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if bk := tx.Bucket(bktRecords); bk != nil {
			n = bk.Stats().KeyN
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: record count: %w", err)
	}
	return n, nil
}

// checkRecords verifies §11's invariant: records.key holds exactly the
// keys each record lists.
func checkRecords(tx *bolt.Tx) error {
	recs, idx := tx.Bucket(bktRecords), tx.Bucket(bktRecordKey)
	if recs == nil && idx == nil {
		return nil
	}
	if recs == nil || idx == nil {
		return corruptf("one of the records buckets is missing")
	}
	want := 0
	err := recs.ForEach(func(k, _ []byte) error {
		r, err := readRecord(tx, string(k))
		if err != nil {
			return err
		}
		for _, key := range r.Keys {
			if idx.Get(compositeKey(key, k)) == nil {
				return corruptf("record %s: key %q is not indexed", k, key)
			}
		}
		want += len(r.Keys)
		return nil
	})
	if err != nil {
		return err
	}
	if n := idx.Stats().KeyN; n != want {
		return corruptf("records.key has %d entries, the records list %d", n, want)
	}
	return nil
}

// createRecordBuckets adds the records buckets to a file that lacks them
// (a new file, or one written before §11): additive, the format stays 1.
func createRecordBuckets(tx *bolt.Tx) error {
	for _, name := range recordBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("store: create bucket %s: %w", name, err)
		}
	}
	return nil
}
