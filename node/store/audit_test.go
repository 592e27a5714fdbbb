package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// fillAll writes one of each audited change: accepts, a refusal, an
// enqueue, a delivery, a dead letter.
func fillAll(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	for i := range 3 {
		_, _, err := s.Accept(ctx, inbound("TJ", fmt.Sprintf("m-%d", i), "p", 500))
		require.NoError(t, err)
	}
	require.NoError(t, s.AuditReject(ctx, RejectEntry{Code: "JWS_SIGNATURE_INVALID", Peer: "TR-NVI-CRVS"}))
	mustEnqueue(t, s, submission("s-1", peerTR, peerKZ))
	d, err := s.NextDue(ctx, peerTR, t0)
	require.NoError(t, err)
	require.NoError(t, s.MarkDelivered(ctx, d.Key, receiptFor(d), t0))
	d, err = s.NextDue(ctx, peerKZ, t0)
	require.NoError(t, err)
	require.NoError(t, s.MarkDead(ctx, d.Key, "ttl", t0))
}

// rawUpdate closes s, edits its file through bbolt directly, and reopens it.
func rawUpdate(t *testing.T, s *Store, edit func(tx *bolt.Tx) error) *Store {
	t.Helper()
	path := s.Path()
	require.NoError(t, s.Close())
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(edit))
	require.NoError(t, db.Close())
	return mustOpenPath(t, path, Options{NoSync: true})
}

func TestVerifyAudit(t *testing.T) {
	ctx := context.Background()
	const entries = 9 // 3 accepted, 1 rejected, 2 enqueued, 1 delivered, 1 dead … +1 below
	flip := func(off int) func(tx *bolt.Tx, seq uint64) error {
		return func(tx *bolt.Tx, seq uint64) error {
			b := tx.Bucket(bktAudit)
			v := append([]byte(nil), b.Get(u64(seq))...)
			v[off] ^= 0x01
			return b.Put(u64(seq), v)
		}
	}
	tests := []struct {
		name    string
		seq     uint64 // the entry edited
		edit    func(tx *bolt.Tx, seq uint64) error
		wantSeq uint64 // the entry VerifyAudit names; 0 = the head
	}{
		{"fail/audit-chain-tampered-detected", 4, flip(32 + 20), 4},
		{"fail/audit-stored-hash-tampered", 5, flip(3), 5},
		{"fail/audit-entry-deleted", 3, func(tx *bolt.Tx, seq uint64) error { return tx.Bucket(bktAudit).Delete(u64(seq)) }, 3},
		{"fail/audit-tail-truncated", entries, func(tx *bolt.Tx, seq uint64) error { return tx.Bucket(bktAudit).Delete(u64(seq)) }, 0},
		{"fail/audit-entry-rewritten-with-its-hash", 2, func(tx *bolt.Tx, seq uint64) error {
			// A forger who recomputes the edited entry's own hash breaks the
			// next link instead.
			b := tx.Bucket(bktAudit)
			_, rec, err := splitAuditValue(b.Get(u64(seq)))
			if err != nil {
				return err
			}
			e, err := decodeAudit(rec)
			if err != nil {
				return err
			}
			e.MessageID = "forged"
			nrec, err := encodeRecord(kindAudit, e)
			if err != nil {
				return err
			}
			h := chainHash(e.Prev, nrec)
			return b.Put(u64(seq), append(h[:], nrec...))
		}, 3},
		{"fail/audit-entries-swapped", 6, func(tx *bolt.Tx, seq uint64) error {
			b := tx.Bucket(bktAudit)
			a, c := append([]byte(nil), b.Get(u64(seq))...), append([]byte(nil), b.Get(u64(seq+1))...)
			return errors.Join(b.Put(u64(seq), c), b.Put(u64(seq+1), a))
		}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpen(t, Options{NoSync: true})
			fillAll(t, s)
			require.NoError(t, s.AuditReject(ctx, RejectEntry{Code: "MESSAGE_TOO_OLD"}))
			head, n, err := s.VerifyAudit(ctx)
			require.NoError(t, err)
			require.Equal(t, uint64(entries), n)
			h2, n2, err := s.AuditHead(ctx)
			require.NoError(t, err)
			require.Equal(t, head, h2)
			require.Equal(t, n, n2)

			s = rawUpdate(t, s, func(tx *bolt.Tx) error { return tt.edit(tx, tt.seq) })
			_, _, err = s.VerifyAudit(ctx)
			require.ErrorIs(t, err, ErrCorrupt)
			var ae *AuditError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tt.wantSeq, ae.Seq, "%v", err)
			require.ErrorIs(t, s.Check(ctx), ErrCorrupt)
		})
	}
}

func TestAuditEntries(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{NoSync: true})
	fillAll(t, s)
	es, err := s.AuditAfter(ctx, 0, 100)
	require.NoError(t, err)
	var kinds []string
	var prev [32]byte
	for i, e := range es {
		assert.Equal(t, uint64(i+1), e.Seq)
		assert.Equal(t, prev, e.Prev)
		prev = e.Hash
		kinds = append(kinds, e.Kind)
	}
	assert.Equal(t, []string{AuditAccepted, AuditAccepted, AuditAccepted, AuditRejected, AuditEnqueued, AuditEnqueued, AuditDelivered, AuditDead}, kinds)
	assert.Equal(t, "inbox/1", es[0].Ref)
	assert.Equal(t, peerTR, es[4].Recipient)
	head, _, err := s.AuditHead(ctx)
	require.NoError(t, err)
	assert.Equal(t, prev, head)
	mustCheck(t, s)
}

// TestCheckDetectsCorruption: a record that does not decode, or indexes
// that disagree, are ErrCorrupt — for the reads that meet them and Check.
func TestCheckDetectsCorruption(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		edit func(tx *bolt.Tx) error
		read func(s *Store) error
	}{
		{"fail/inbound-record-byte-flipped", func(tx *bolt.Tx) error {
			b := tx.Bucket(bktInbox)
			v := append([]byte(nil), b.Get(u64(1))...)
			v[5] = '{'
			return b.Put(u64(1), v)
		}, func(s *Store) error { _, err := s.LookupInbound(ctx, "TJ", "m-0"); return err }},
		{"fail/inbound-record-newer-version", func(tx *bolt.Tx) error {
			b := tx.Bucket(bktInbox)
			v := append([]byte(nil), b.Get(u64(2))...)
			v[0] = 2
			return b.Put(u64(2), v)
		}, func(s *Store) error { _, err := s.LookupInbound(ctx, "TJ", "m-1"); return err }},
		{"fail/inbound-jws-altered", func(tx *bolt.Tx) error {
			b := tx.Bucket(bktInboxJWS)
			v := append([]byte(nil), b.Get(u64(1))...)
			v[len(v)-1] ^= 1
			return b.Put(u64(1), v)
		}, nil},
		{"fail/queue-entry-lost", func(tx *bolt.Tx) error {
			c := tx.Bucket(bktOutQueue).Cursor()
			k, _ := c.First()
			return tx.Bucket(bktOutQueue).Delete(k)
		}, nil},
		{"fail/counter-off", func(tx *bolt.Tx) error {
			return tx.Bucket(bktMeta).Put(keyNDelivered, u64(7))
		}, nil},
		{"fail/delivery-receipt-lost", func(tx *bolt.Tx) error {
			return tx.Bucket(bktOutRcpt).Delete(u64(1))
		}, func(s *Store) error { _, err := s.Submission(ctx, "s-1"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpen(t, Options{NoSync: true})
			fillAll(t, s)
			mustEnqueue(t, s, submission("s-2", peerTR))
			mustCheck(t, s)
			s = rawUpdate(t, s, tt.edit)
			require.ErrorIs(t, s.Check(ctx), ErrCorrupt)
			if tt.read != nil {
				require.ErrorIs(t, tt.read(s), ErrCorrupt)
			}
		})
	}
}

func TestOpenRefusesNewerFormat(t *testing.T) {
	s := mustOpen(t, Options{NoSync: true})
	path := s.Path()
	require.NoError(t, s.Close())
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bktMeta).Put(keyFormat, []byte{0, 0, 0, 2}) }))
	require.NoError(t, db.Close())
	_, err = Open(context.Background(), path, Options{})
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Contains(t, err.Error(), "newer crvsx")
}
