package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Check verifies, in one read transaction, every invariant of DESIGN.md §4
// and the audit chain (§7): each record decodes; the inbox index and the
// inbox are a bijection with no gap; every digest matches its bytes; a
// delivery is queued iff pending; delivered ones have a receipt; counters
// equal a recount; the audit chain verifies and holds one entry per
// accepted message, enqueued delivery, completion and refusal. It reads
// the whole file: for backups, tests and `crvsx node check`, not the hot
// path. The first violation is returned, wrapping ErrCorrupt.
func (s *Store) Check(ctx context.Context) error {
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if err := checkLayout(tx); err != nil {
			return err
		}
		if err := checkInbox(tx); err != nil {
			return err
		}
		outCounts, err := checkOutbox(tx)
		if err != nil {
			return err
		}
		if err := checkRecords(tx); err != nil {
			return err
		}
		if _, _, err := verifyAuditTx(ctx, tx); err != nil {
			return err
		}
		return checkAuditCounts(tx, outCounts)
	})
	if err != nil {
		return fmt.Errorf("store: check: %w", err)
	}
	return nil
}

func checkInbox(tx *bolt.Tx) error {
	inbox := tx.Bucket(bktInbox)
	last := inbox.Sequence()
	if n := uint64(inbox.Stats().KeyN); n != last {
		return corruptf("inbox has %d records, its sequence is %d", n, last)
	}
	if n := uint64(tx.Bucket(bktInboxJWS).Stats().KeyN); n != last {
		return corruptf("inbox.jws has %d values for %d records", n, last)
	}
	if n := uint64(tx.Bucket(bktInboxRcpt).Stats().KeyN); n != last {
		return corruptf("inbox.receipt has %d values for %d records", n, last)
	}
	if n := uint64(tx.Bucket(bktInboxID).Stats().KeyN); n != last {
		return corruptf("inbox.id has %d keys for %d records", n, last)
	}
	for seq := uint64(1); seq <= last; seq++ {
		r, err := readInbound(tx, seq)
		if err != nil {
			return err
		}
		if sha256.Sum256(r.JWS) != r.Digest {
			return corruptf("inbox %d: JWS does not match its digest", seq)
		}
		v := tx.Bucket(bktInboxID).Get(compositeKey(r.Sender, []byte(r.MessageID)))
		if got, ok := getU64(v); !ok || got != seq {
			return corruptf("inbox %d: index of %s/%s points to %x", seq, r.Sender, r.MessageID, v)
		}
	}
	return tx.Bucket(bktCursor).ForEach(func(k, v []byte) error {
		n, ok := getU64(v)
		if !ok || n > last {
			return corruptf("cursor %s is %x, last inbox seq %d", k, v, last)
		}
		return nil
	})
}

type outboxCounts struct{ deliveries, delivered, dead, pending, deliveredEvents uint64 }

func checkOutbox(tx *bolt.Tx) (outboxCounts, error) {
	var c outboxCounts
	dlv := tx.Bucket(bktOutDlv)
	last := dlv.Sequence()
	if n := uint64(dlv.Stats().KeyN); n != last {
		return c, corruptf("outbox.dlv has %d records, its sequence is %d", n, last)
	}
	owner := make(map[uint64]string, last)
	err := tx.Bucket(bktOutSub).ForEach(func(k, v []byte) error {
		r, err := decodeSubmission(v)
		if err != nil {
			return fmt.Errorf("submission %s: %w", k, err)
		}
		if r.ID != string(k) {
			return corruptf("submission under key %s says id %s", k, r.ID)
		}
		if tx.Bucket(bktOutMsg).Get(k) == nil {
			return corruptf("submission %s: message missing", k)
		}
		for _, d := range r.Deliveries {
			if o, dup := owner[d]; dup {
				return corruptf("delivery %d is listed by submissions %s and %s", d, o, k)
			}
			owner[d] = r.ID
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	for key := uint64(1); key <= last; key++ {
		r, err := readDelivery(tx, DeliveryKey(key))
		if err != nil {
			return c, err
		}
		if owner[key] != r.SubmissionID {
			return c, corruptf("delivery %d: submission %s does not list it", key, r.SubmissionID)
		}
		jws := tx.Bucket(bktOutJWS).Get(u64(key))
		if jws == nil || sha256.Sum256(jws) != r.Digest {
			return c, corruptf("delivery %d: JWS missing or does not match its digest", key)
		}
		if v := tx.Bucket(bktOutID).Get(compositeKey(r.Peer, []byte(r.MessageID))); !bytes.Equal(v, u64(key)) {
			return c, corruptf("delivery %d: id index points to %x", key, v)
		}
		queued := hasKey(tx.Bucket(bktOutQueue), compositeKey(r.Peer, u64(key)))
		if queued != (r.State == StatePending) {
			return c, corruptf("delivery %d is %s but queued=%v", key, r.State, queued)
		}
		rc := tx.Bucket(bktOutRcpt).Get(u64(key))
		switch r.State {
		case StatePending:
			c.pending++
		case StateDelivered:
			c.delivered++
			if rc == nil || sha256.Sum256(rc) != r.ReceiptDigest {
				return c, corruptf("delivery %d: receipt missing or does not match its digest", key)
			}
		case StateDead:
			c.dead++
		}
		if r.State != StateDelivered && rc != nil {
			return c, corruptf("delivery %d is %s but has a receipt", key, r.State)
		}
	}
	c.deliveries = last
	if n := uint64(len(owner)); n != last {
		return c, corruptf("submissions list %d deliveries, there are %d", n, last)
	}
	for _, x := range []struct {
		name string
		b    []byte
	}{{"outbox.jws", bktOutJWS}, {"outbox.id", bktOutID}} {
		if n := uint64(tx.Bucket(x.b).Stats().KeyN); n != last {
			return c, corruptf("%s has %d keys for %d deliveries", x.name, n, last)
		}
	}
	if n := uint64(tx.Bucket(bktOutQueue).Stats().KeyN); n != c.pending {
		return c, corruptf("outbox.queue has %d keys for %d pending deliveries", n, c.pending)
	}
	meta := tx.Bucket(bktMeta)
	for _, x := range []struct {
		key  []byte
		want uint64
	}{{keyNPending, c.pending}, {keyNDelivered, c.delivered}, {keyNDead, c.dead}} {
		if got, _ := getU64(meta.Get(x.key)); got != x.want {
			return c, corruptf("counter %s is %d, recount %d", x.key, got, x.want)
		}
	}
	return c, nil
}

// checkAuditCounts matches the audit entries with the records they record.
func checkAuditCounts(tx *bolt.Tx, oc outboxCounts) error {
	kinds := map[string]uint64{}
	err := tx.Bucket(bktAudit).ForEach(func(_, v []byte) error {
		e, _, err := decodeAuditValue(v)
		if err != nil {
			return err
		}
		kinds[e.Kind]++
		return nil
	})
	if err != nil {
		return err
	}
	rejected, _ := getU64(tx.Bucket(bktMeta).Get(keyNRejected))
	switch {
	case kinds[AuditAccepted] != tx.Bucket(bktInbox).Sequence():
		return corruptf("%d accepted entries for %d inbox records", kinds[AuditAccepted], tx.Bucket(bktInbox).Sequence())
	case kinds[AuditEnqueued] != oc.deliveries:
		return corruptf("%d enqueued entries for %d deliveries", kinds[AuditEnqueued], oc.deliveries)
	case kinds[AuditRejected] != rejected:
		return corruptf("%d rejected entries, counter %d", kinds[AuditRejected], rejected)
	case kinds[AuditDelivered] != oc.delivered:
		return corruptf("%d delivered entries for %d delivered deliveries", kinds[AuditDelivered], oc.delivered)
	case kinds[AuditDead] < oc.dead || kinds[AuditDead] > oc.dead+oc.delivered+kinds[AuditRetried]:
		// a dead delivery may later be delivered (MarkDelivered), or
		// retried by an operator (RetryDead) and die again: its dead
		// entries stay.
		return corruptf("%d dead entries for %d dead deliveries", kinds[AuditDead], oc.dead)
	case kinds[AuditRetried] > kinds[AuditDead]:
		// each retry moved one dead letter back.
		return corruptf("%d retried entries for %d dead entries", kinds[AuditRetried], kinds[AuditDead])
	}
	return nil
}

// hasKey tells whether k exists in b, whatever its value (an empty value
// must not read as absent).
func hasKey(b *bolt.Bucket, k []byte) bool {
	got, _ := b.Cursor().Seek(k)
	return got != nil && bytes.Equal(got, k)
}
