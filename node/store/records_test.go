package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func put(id, doc string, keys ...string) RecordPut {
	return RecordPut{ID: id, Doc: json.RawMessage(doc), Keys: keys}
}

func ids(rs []PersonRecord) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// DESIGN.md §11: upsert outcomes, versions and the key index moving with
// an update.
func TestRecords_UpsertMovesTheIndex(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{NoSync: true})
	out, err := s.PutRecords(ctx, []RecordPut{put("R1", `{"a": 1}`, "k1", "k2"), put("R2", `{"a":2}`, "k2")}, nil)
	require.NoError(t, err)
	require.Equal(t, []PutOutcome{RecordCreated, RecordCreated}, out)

	got, err := s.RecordsByKeys(ctx, []string{"k2"})
	require.NoError(t, err)
	require.Equal(t, []string{"R1", "R2"}, ids(got))

	// The same document with other whitespace and keys in another order: unchanged.
	out, err = s.PutRecords(ctx, []RecordPut{put("R1", `{"a":1}`, "k2", "k1", "k1")}, nil)
	require.NoError(t, err)
	require.Equal(t, []PutOutcome{RecordUnchanged}, out)

	out, err = s.PutRecords(ctx, []RecordPut{put("R1", `{"a":3}`, "k3")}, nil)
	require.NoError(t, err)
	require.Equal(t, []PutOutcome{RecordUpdated}, out)
	r, err := s.Record(ctx, "R1")
	require.NoError(t, err)
	require.EqualValues(t, 2, r.Version)
	require.JSONEq(t, `{"a":3}`, string(r.Doc))

	got, err = s.RecordsByKeys(ctx, []string{"k1", "k2"})
	require.NoError(t, err)
	require.Equal(t, []string{"R2"}, ids(got), "R1 left k1 and k2")
	got, err = s.RecordsByKeys(ctx, []string{"k3"})
	require.NoError(t, err)
	require.Equal(t, []string{"R1"}, ids(got))
	mustCheck(t, s)

	n, err := s.RecordCount(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
}

func TestRecords_IfVersionConflictWritesNothing(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{NoSync: true})
	_, err := s.PutRecords(ctx, []RecordPut{put("R1", `{"a":1}`, "k1")}, nil)
	require.NoError(t, err)
	p := put("R1", `{"a":2}`, "k1")
	p.IfVersion = 7
	_, err = s.PutRecords(ctx, []RecordPut{put("R2", `{}`, "k1"), p}, nil)
	require.ErrorIs(t, err, ErrConflict)
	got, err := s.RecordsByKeys(ctx, []string{"k1"})
	require.NoError(t, err)
	require.Equal(t, []string{"R1"}, ids(got), "R2 of the refused batch is not written")
	p.IfVersion = 1
	out, err := s.PutRecords(ctx, []RecordPut{p}, nil)
	require.NoError(t, err)
	require.Equal(t, []PutOutcome{RecordUpdated}, out)
}

func TestRecords_InvalidInputRefusedBeforeWriting(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{NoSync: true})
	for name, p := range map[string]RecordPut{
		"empty id":       put("", `{}`),
		"id not ASCII":   put("Ю1", `{}`),
		"doc not object": put("R1", `[1]`),
		"doc not JSON":   put("R1", `{`),
		"key too long":   put("R1", `{}`, string(make([]byte, maxRecordKey+1))),
		"empty key":      put("R1", `{}`, ""),
	} {
		_, err := s.PutRecords(ctx, []RecordPut{p}, nil)
		require.ErrorIs(t, err, ErrInvalid, name)
	}
	n, err := s.RecordCount(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}

// DESIGN.md §11: a failed commit leaves nothing of the batch, and the
// records and their index survive a reopen.
func TestRecords_FailedCommitLeavesNothingAndRestartKeepsAll(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	var fail atomic.Bool
	s, err := Open(ctx, path, Options{Logger: nopLogger(), CommitFault: func() error {
		if fail.Load() {
			return errors.New("fdatasync: input/output error")
		}
		return nil
	}})
	require.NoError(t, err)
	_, err = s.PutRecords(ctx, []RecordPut{put("R1", `{"a":1}`, "k1")}, nil)
	require.NoError(t, err)
	fail.Store(true)
	_, err = s.PutRecords(ctx, []RecordPut{put("R1", `{"a":2}`, "k2"), put("R2", `{"b":1}`, "k1")}, nil)
	require.Error(t, err)
	require.NoError(t, s.Close())

	s = mustOpenPath(t, path, Options{NoSync: true})
	got, err := s.RecordsByKeys(ctx, []string{"k1", "k2"})
	require.NoError(t, err)
	require.Equal(t, []string{"R1"}, ids(got))
	require.JSONEq(t, `{"a":1}`, string(got[0].Doc))
	require.Equal(t, []string{"k1"}, got[0].Keys)
	mustCheck(t, s)
}

func TestRecords_AckInTheSameTransaction(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{NoSync: true})
	_, err := s.PutRecords(ctx, []RecordPut{put("R1", `{}`, "k")}, &RecordAck{Consumer: "records", UpTo: 5})
	require.ErrorIs(t, err, ErrInvalid, "beyond the last inbox seq")
	n, err := s.RecordCount(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "the refused ack takes the puts with it")
	_, err = s.PutRecords(ctx, nil, &RecordAck{Consumer: "records", UpTo: 0})
	require.NoError(t, err)
}

func TestRecords_TooManyCandidates(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{NoSync: true})
	var puts []RecordPut
	for i := range MaxRecordsFound + 1 {
		puts = append(puts, put("R"+uitoa(uint64(i)), `{}`, "common"))
	}
	_, err := s.PutRecords(ctx, puts, nil)
	require.NoError(t, err)
	_, err = s.RecordsByKeys(ctx, []string{"common"})
	require.ErrorIs(t, err, ErrTooMany)
}

// DESIGN.md §11: a call that creates or updates records appends one
// records.changed entry in its transaction — ref, counts, ids at their
// versions, a digest over the documents written; an unchanged call and an
// ack alone append none; an event's call names its inbox seq.
func TestRecords_ChangesAreAudited(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{NoSync: true})
	entries := func() []AuditEntry {
		t.Helper()
		es, err := s.AuditAfter(ctx, 0, 1000)
		require.NoError(t, err)
		return es
	}
	_, err := s.PutRecords(ctx, []RecordPut{put("R2", `{"a": 2}`, "k"), put("R1", `{"a":1}`, "k")}, nil)
	require.NoError(t, err)
	es := entries()
	require.Len(t, es, 1)
	e := es[0]
	require.Equal(t, AuditRecordsChanged, e.Kind)
	require.Equal(t, "records/import", e.Ref)
	require.Equal(t, "created=2 updated=0 ids=R1@1 R2@1", e.Detail)
	want := sha256.Sum256([]byte(
		"R1\t1\t" + hexSHA(`{"a":1}`) + "\n" +
			"R2\t1\t" + hexSHA(`{"a":2}`) + "\n"))
	require.Equal(t, want, e.Digest, "the digest commits to the compacted documents written")

	// Unchanged, and an ack alone: nothing appended.
	_, err = s.PutRecords(ctx, []RecordPut{put("R1", `{"a":1}`, "k")}, nil)
	require.NoError(t, err)
	_, err = s.PutRecords(ctx, nil, &RecordAck{Consumer: "records", UpTo: 0})
	require.NoError(t, err)
	require.Len(t, entries(), 1)

	// An inbound event's change names the inbox seq it applies.
	_, err = s.PutRecords(ctx, []RecordPut{put("R1", `{"a":3}`, "k"), put("R2", `{"a":2}`, "k")}, &RecordAck{Consumer: "records", UpTo: 0})
	require.NoError(t, err)
	es = entries()
	require.Len(t, es, 2)
	require.Equal(t, "inbox/0", es[1].Ref)
	require.Equal(t, "created=0 updated=1 ids=R1@2", es[1].Detail, "R2 was unchanged")
	mustCheck(t, s)
	_, n, err := s.VerifyAudit(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)

	// A refused call appends nothing either.
	_, err = s.PutRecords(ctx, []RecordPut{put("R1", `{"a":4}`, "k"), {ID: "R1", Doc: json.RawMessage(`{}`), IfVersion: 9}}, nil)
	require.ErrorIs(t, err, ErrConflict)
	require.Len(t, entries(), 2)
}

// DESIGN.md §11: a large import's entry names the ids that fit in 1,024
// bytes and how many it left out.
func TestRecords_AuditDetailBounded(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{NoSync: true})
	var puts []RecordPut
	for i := range 500 {
		puts = append(puts, put(fmt.Sprintf("REC-%06d", i), `{}`, "k"))
	}
	_, err := s.PutRecords(ctx, puts, nil)
	require.NoError(t, err)
	es, err := s.AuditAfter(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, es, 1)
	d := es[0].Detail
	require.LessOrEqual(t, len(d), 1024)
	require.True(t, strings.HasPrefix(d, "created=500 updated=0 ids=REC-000000@1 REC-000001@1 "), d)
	i := strings.LastIndex(d, " …+")
	require.Positive(t, i, d)
	left, err := strconv.Atoi(d[i+len(" …+"):])
	require.NoError(t, err)
	named := strings.Count(d[:i], "@")
	require.Equal(t, 500, named+left, "named and left out add up: %s", d)
}

func hexSHA(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
