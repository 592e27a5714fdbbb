package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// deadLetter enqueues a submission to peer, records one failed attempt
// and dead-letters it; it returns its delivery key.
func deadLetter(t *testing.T, s *Store, id, peer string, at time.Time) DeliveryKey {
	t.Helper()
	ctx := context.Background()
	sub := submission(id, peer)
	sub.CreatedAt = at
	st, _, err := s.Enqueue(ctx, sub)
	require.NoError(t, err)
	key := st.Deliveries[0].Key
	require.NoError(t, s.RecordAttempt(ctx, key, Attempt{At: at.Add(time.Second), Err: "the node answered 503 UNAVAILABLE: try later", NextAttemptAt: at.Add(time.Minute)}))
	require.NoError(t, s.MarkDead(ctx, key, "refused by the peer: SCHEMA_INVALID: /payload/child/name is not a string", at.Add(2*time.Second)))
	return key
}

func auditKinds(t *testing.T, s *Store) map[string]int {
	t.Helper()
	es, err := s.AuditAfter(context.Background(), 0, maxPage)
	require.NoError(t, err)
	out := map[string]int{}
	for _, e := range es {
		out[e.Kind]++
	}
	return out
}

// DESIGN.md §4 RetryDead: dead → pending once, queued, due at once, the
// lifetime counted from the retry, audited.
func TestRetryDeadMovesADeadLetterBackToItsQueue(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{NoSync: true})
	key := deadLetter(t, s, "sub-1", "TJ-MOJ", t0)
	head, err := s.QueueHead(ctx, "TJ-MOJ")
	require.NoError(t, err)
	require.Nil(t, head, "a dead letter is not queued")

	at := t0.Add(100 * time.Hour)
	peer, err := s.RetryDead(ctx, key, "operator-1", at)
	require.NoError(t, err)
	require.Equal(t, "TJ-MOJ", peer)

	head, err = s.NextDue(ctx, "TJ-MOJ", at)
	require.NoError(t, err)
	require.NotNil(t, head, "the retried delivery is due at once")
	require.Equal(t, key, head.Key)
	require.Equal(t, at, head.RetriedAt)
	require.Equal(t, at, head.LifetimeStart(), "the lifetime runs from the retry")
	require.Equal(t, t0, head.CreatedAt, "the enqueue time is kept")

	st, err := s.Submission(ctx, "sub-1")
	require.NoError(t, err)
	require.Equal(t, StatePending, st.Deliveries[0].State)
	require.True(t, st.Deliveries[0].DeadAt.IsZero())

	es, err := s.AuditAfter(ctx, 0, 100)
	require.NoError(t, err)
	last := es[len(es)-1]
	require.Equal(t, AuditRetried, last.Kind)
	require.Equal(t, "delivery/1", last.Ref)
	require.Equal(t, "retry 1 by operator-1", last.Detail)
	require.Equal(t, at, last.At)
	mustCheck(t, s)

	// Not dead any more: a second retry is refused and writes nothing.
	_, err = s.RetryDead(ctx, key, "operator-1", at)
	require.ErrorIs(t, err, ErrConflict)
	require.Equal(t, 1, auditKinds(t, s)[AuditRetried])
}

func TestRetryDeadExactlyOnceUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{NoSync: true})
	key := deadLetter(t, s, "sub-1", "TJ-MOJ", t0)
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = s.RetryDead(ctx, key, "op", t0.Add(time.Hour)) })
	}
	wg.Wait()
	ok, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrConflict):
			conflicts++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	require.Equal(t, 1, ok)
	require.Equal(t, n-1, conflicts)
	require.Equal(t, 1, auditKinds(t, s)[AuditRetried])
	q, err := s.QueueLengths(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"TJ-MOJ": 1}, q)
	mustCheck(t, s)
}

func TestRetryDeadRefusesWhatIsNotDead(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{NoSync: true})
	st, _, err := s.Enqueue(ctx, submission("sub-1", "TJ-MOJ", "UZ-MOJ"))
	require.NoError(t, err)
	pending, delivered := st.Deliveries[0].Key, st.Deliveries[1].Key
	require.NoError(t, s.MarkDelivered(ctx, delivered, []byte("receipt"), t0))
	for _, tc := range []struct {
		name string
		key  DeliveryKey
		want error
	}{
		{"pending", pending, ErrConflict},
		{"delivered", delivered, ErrConflict},
		{"unknown", 99, ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.RetryDead(ctx, tc.key, "op", t0)
			require.ErrorIs(t, err, tc.want)
		})
	}
	require.Zero(t, auditKinds(t, s)[AuditRetried])
	mustCheck(t, s)
}

// DESIGN.md §3: record D version 2 carries the retry members; it is
// written only for a retried delivery, and survives reopening; a
// delivery that dies again can be retried again.
func TestRetriedDeliveryRecordVersion2(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/" + FileName
	s := mustOpenPath(t, path, Options{NoSync: true})
	key := deadLetter(t, s, "sub-1", "TJ-MOJ", t0)
	raw := func() []byte {
		var v []byte
		require.NoError(t, s.view(ctx, func(tx *bolt.Tx) error {
			v = cloneBytes(tx.Bucket(bktOutDlv).Get(u64(uint64(key))))
			return nil
		}))
		return v
	}
	require.Equal(t, byte(recordV1), raw()[0], "never retried: version 1")
	_, err := s.RetryDead(ctx, key, "op", t0.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, byte(recordV2), raw()[0])
	require.NoError(t, s.MarkDead(ctx, key, "no valid receipt within the lifetime", t0.Add(80*time.Hour)))
	_, err = s.RetryDead(ctx, key, "op", t0.Add(90*time.Hour))
	require.NoError(t, err)
	mustCheck(t, s)
	require.NoError(t, s.Close())

	s = mustOpenPath(t, path, Options{NoSync: true})
	d, err := s.QueueHead(ctx, "TJ-MOJ")
	require.NoError(t, err)
	require.Equal(t, t0.Add(90*time.Hour), d.RetriedAt)
	mustCheck(t, s)

	// Strictness: a version 1 record with retry members, a version 2
	// record without, a version 2 record of another kind.
	v2 := raw()
	v1 := append([]byte{recordV1}, v2[1:]...)
	_, err = decodeDelivery(v1)
	require.ErrorIs(t, err, ErrCorrupt)
	plain, err := encodeRecordVersion(recordV2, kindDelivery, deliveryRec{SubmissionID: "s", Peer: "p", MessageID: "m", CreatedAt: t0, State: StatePending})
	require.NoError(t, err)
	_, err = decodeDelivery(plain)
	require.ErrorIs(t, err, ErrCorrupt)
	sub, err := encodeRecordVersion(recordV2, kindSubmission, submissionRec{ID: "s", CreatedAt: t0, Deliveries: []uint64{1}})
	require.NoError(t, err)
	_, err = decodeSubmission(sub)
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestDeadLettersNewestFirstWithCodes(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{NoSync: true})
	k1 := deadLetter(t, s, "sub-1", "TJ-MOJ", t0)
	_, _, err := s.Enqueue(ctx, submission("sub-2", "KG-MOJ")) // pending: not listed
	require.NoError(t, err)
	k3 := deadLetter(t, s, "sub-3", "UZ-MOJ", t0.Add(time.Hour))

	got, next, err := s.DeadLetters(ctx, DeadLetterQuery{})
	require.NoError(t, err)
	require.Zero(t, next)
	require.Len(t, got, 2)
	require.Equal(t, k3, got[0].Key)
	require.Equal(t, k1, got[1].Key)
	d := got[1]
	require.Equal(t, "TJ-MOJ", d.Peer)
	require.Equal(t, "TJ", d.Recipient)
	require.Equal(t, "event.death", d.MessageType)
	require.Equal(t, "SCHEMA_INVALID", d.Code)
	require.Equal(t, 1, d.Attempts)
	require.Equal(t, t0.Add(2*time.Second), d.DeadAt)
	require.Empty(t, d.Reason, "the reason text only when asked")

	page, next, err := s.DeadLetters(ctx, DeadLetterQuery{Limit: 1, WithReason: true})
	require.NoError(t, err)
	require.Len(t, page, 1)
	require.Equal(t, k3, page[0].Key)
	require.Contains(t, page[0].Reason, "SCHEMA_INVALID")
	page, next, err = s.DeadLetters(ctx, DeadLetterQuery{Limit: 1, Before: next})
	require.NoError(t, err)
	require.Len(t, page, 1)
	require.Equal(t, k1, page[0].Key)
	require.Zero(t, next)

	_, err = s.RetryDead(ctx, k1, "op", t0.Add(2*time.Hour))
	require.NoError(t, err)
	got, _, err = s.DeadLetters(ctx, DeadLetterQuery{})
	require.NoError(t, err)
	require.Len(t, got, 1, "a retried letter is no longer dead")
}

func TestRefusedByCode(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{NoSync: true})
	for i, e := range []RejectEntry{
		{Code: "KEY_UNKNOWN", Sender: "KG", MessageID: "old", At: t0.Add(-2 * time.Hour)}, // before the window
		{Code: "SIGNATURE_INVALID", Sender: "TJ", MessageID: "m1", Peer: "TJ-MOJ", Detail: "Ivanov <script>", At: t0},
		{Code: "SIGNATURE_INVALID", Sender: "TJ", MessageID: "m2", Peer: "TJ-MOJ", At: t0.Add(time.Minute)},
		{Code: "SCHEMA_INVALID", Sender: "UZ", MessageID: "m3", At: t0.Add(2 * time.Minute)},
	} {
		require.NoError(t, s.AuditReject(ctx, e), i)
	}
	_, _, err := s.Accept(ctx, inbound("TJ", "ok-1", "p", 100)) // not a refusal
	require.NoError(t, err)

	rep, err := s.Refused(ctx, RefusedQuery{Since: t0, Until: t0.Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, map[string]int{"SIGNATURE_INVALID": 2, "SCHEMA_INVALID": 1}, rep.ByCode)
	require.Equal(t, 3, rep.Total)
	require.Len(t, rep.Recent, 3)
	r := rep.Recent[0]
	require.Equal(t, "SCHEMA_INVALID", r.Code)
	require.Equal(t, "UZ", r.Sender)
	require.Equal(t, "m3", r.MessageID)
	require.Empty(t, rep.Recent[2].Detail, "peer text only when asked")
	require.Equal(t, "TJ-MOJ", rep.Recent[2].Peer)

	rep, err = s.Refused(ctx, RefusedQuery{Since: t0, Until: t0.Add(time.Hour), Code: "SIGNATURE_INVALID", Limit: 1, WithDetail: true})
	require.NoError(t, err)
	require.Equal(t, 2, rep.Total)
	require.Len(t, rep.Recent, 1)
	require.Equal(t, "m2", rep.Recent[0].MessageID)

	rep, err = s.Refused(ctx, RefusedQuery{Since: t0.Add(-3 * time.Hour), Until: t0.Add(time.Hour), Code: "SIGNATURE_INVALID", WithDetail: true})
	require.NoError(t, err)
	require.Equal(t, "Ivanov <script>", rep.Recent[1].Detail)

	_, err = s.Refused(ctx, RefusedQuery{Since: t0, Until: t0})
	require.ErrorIs(t, err, ErrInvalid)
}

func TestTrafficSeries(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{NoSync: true})
	// Outbound: sub-1 to TJ and UZ at t0+10m; TJ delivered at +12m after
	// one failed attempt; UZ delivered at +40m. sub-2 to TJ at +70m, dead.
	sub := submission("sub-1", "TJ-MOJ", "UZ-MOJ")
	sub.CreatedAt = t0.Add(10 * time.Minute)
	st, _, err := s.Enqueue(ctx, sub)
	require.NoError(t, err)
	tj, uz := st.Deliveries[0].Key, st.Deliveries[1].Key
	require.NoError(t, s.RecordAttempt(ctx, tj, Attempt{At: t0.Add(11 * time.Minute), Err: "UNAVAILABLE"}))
	require.NoError(t, s.MarkDelivered(ctx, tj, []byte("r1"), t0.Add(12*time.Minute)))
	require.NoError(t, s.MarkDelivered(ctx, uz, []byte("r2"), t0.Add(40*time.Minute)))
	deadLetter(t, s, "sub-2", "TJ-MOJ", t0.Add(70*time.Minute))
	// Inbound (in time order, as the inbox is): one before the window, two
	// births from TJ in the first hour, one from UZ in the second.
	for _, in := range []struct {
		sender, id string
		at         time.Duration
	}{{"UZ", "early", -3 * time.Hour}, {"TJ", "i1", 5 * time.Minute}, {"TJ", "i2", 50 * time.Minute}, {"UZ", "i3", 65 * time.Minute}} {
		rec := inbound(in.sender, in.id, in.id, 100)
		rec.ReceivedAt = t0.Add(in.at)
		_, _, err := s.Accept(ctx, rec)
		require.NoError(t, err)
	}
	require.NoError(t, s.AuditReject(ctx, RejectEntry{Code: "SIGNATURE_INVALID", Sender: "TJ", Peer: "TJ-MOJ", At: t0.Add(80 * time.Minute)}))

	rep, err := s.Traffic(ctx, TrafficQuery{Since: t0, Until: t0.Add(2 * time.Hour), Bucket: time.Hour})
	require.NoError(t, err)
	require.Equal(t, 2, rep.Buckets)
	require.Equal(t, []TrafficSeries{
		{Peer: "TJ-MOJ", Country: "TJ", Type: "event.death", Counts: []int{1, 1}, Total: 2},
		{Peer: "UZ-MOJ", Country: "UZ", Type: "event.death", Counts: []int{1, 0}, Total: 1},
	}, rep.Out)
	require.Equal(t, []TrafficSeries{
		{Peer: "TJ-MOJ-CRVS", Country: "TJ", Type: "event.birth", Counts: []int{2, 0}, Total: 2},
		{Peer: "UZ-MOJ-CRVS", Country: "UZ", Type: "event.birth", Counts: []int{0, 1}, Total: 1},
	}, rep.In)
	require.Equal(t, []int{2, 0}, rep.Receipts)
	require.Equal(t, []int{1, 1}, rep.Failed)
	require.Equal(t, []int{0, 1}, rep.Dead)
	require.Equal(t, []int{0, 1}, rep.Refused)
	require.Equal(t, Latency{Count: 2, P50: 2 * time.Minute, P90: 30 * time.Minute, P99: 30 * time.Minute, Max: 30 * time.Minute}, rep.Latency)
	require.Equal(t, 4, rep.Attempts, "TJ: 1 failed + receipt, UZ: receipt, sub-2: 1 failed")
	require.Equal(t, 1, rep.Retries)
	require.False(t, rep.Truncated)

	// One peer only (by node id or by country).
	for _, peer := range []string{"UZ-MOJ", "UZ"} {
		rep, err = s.Traffic(ctx, TrafficQuery{Since: t0, Until: t0.Add(2 * time.Hour), Bucket: 30 * time.Minute, Peer: peer})
		require.NoError(t, err)
		require.Equal(t, 4, rep.Buckets)
		require.Len(t, rep.Out, 1)
		require.Equal(t, []int{1, 0, 0, 0}, rep.Out[0].Counts)
		if peer == "UZ" {
			require.Len(t, rep.In, 1)
			require.Equal(t, []int{0, 0, 1, 0}, rep.In[0].Counts)
		}
	}

	for _, q := range []TrafficQuery{
		{Since: t0, Until: t0, Bucket: time.Minute},
		{Since: t0, Until: t0.Add(time.Hour), Bucket: 0},
		{Since: t0, Until: t0.Add(time.Hour), Bucket: time.Second},
	} {
		_, err := s.Traffic(ctx, q)
		require.ErrorIs(t, err, ErrInvalid)
	}
}

func TestLatencyNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Second)
	}
	require.Equal(t, Latency{Count: 100, P50: 50 * time.Second, P90: 90 * time.Second, P99: 99 * time.Second, Max: 100 * time.Second}, latencyOf(d))
	require.Equal(t, Latency{}, latencyOf(nil))
	require.Equal(t, Latency{Count: 1, P50: time.Second, P90: time.Second, P99: time.Second, Max: time.Second}, latencyOf([]time.Duration{time.Second}))
}

func TestProblemCode(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"refused by the peer: SCHEMA_INVALID: /payload is bad", "SCHEMA_INVALID"},
		{"UNAVAILABLE: the node is busy", "UNAVAILABLE"},
		{"no valid receipt within the lifetime of 72h0m0s after 9 attempts; last error: KEY_UNKNOWN: TJ:2026", "KEY_UNKNOWN"},
		{"dial tcp 10.0.0.1:443: connection refused", ""},
		{"TJ answered", ""},
		{"", ""},
	} {
		require.Equal(t, tc.want, ProblemCode(tc.text), tc.text)
	}
}

func TestMessageTypeOf(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{`{"messageType":"event.live-birth","payload":{}}`, "event.live-birth"},
		{`{"a":{"messageType":"nested"},"messageType":"event.death"}`, "event.death"},
		{`{"payload":{"messageType":"nested"}}`, ""},
		{`{"messageType":7}`, ""},
		{`[1]`, ""},
		{`not json`, ""},
		{`{"messageType":"has space"}`, ""},
	} {
		require.Equal(t, tc.want, messageTypeOf([]byte(tc.msg)), tc.msg)
	}
}

func TestTimelines(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{NoSync: true})
	key := deadLetter(t, s, "sub-1", "TJ-MOJ", t0)
	_, err := s.RetryDead(ctx, key, "op", t0.Add(time.Hour))
	require.NoError(t, err)
	require.NoError(t, s.MarkDelivered(ctx, key, []byte("receipt"), t0.Add(time.Hour+time.Second)))

	t.Run("outbound: accepted, attempt, dead, retried, delivered", func(t *testing.T) {
		tl, err := s.Timeline(ctx, "delivery/1")
		require.NoError(t, err)
		require.Equal(t, DirectionOut, tl.Direction)
		require.Equal(t, "sub-1-TJ-MOJ", tl.MessageID)
		require.Equal(t, "event.death", tl.MessageType)
		require.Equal(t, "TJ-MOJ", tl.Peer)
		require.Equal(t, "delivered", tl.State)
		require.False(t, tl.Incomplete)
		var kinds, codes []string
		for _, e := range tl.Events {
			kinds = append(kinds, e.Kind)
			codes = append(codes, e.Code)
		}
		require.Equal(t, []string{EventAccepted, EventAttemptFailed, EventDead, EventRetried, EventDelivered}, kinds)
		require.Equal(t, []string{"", "UNAVAILABLE", "SCHEMA_INVALID", "", ""}, codes)
		require.Equal(t, t0, tl.Events[0].At)
		require.NotZero(t, tl.Events[2].AuditSeq)
	})

	rec := inbound("UZ", "in-1", "p", 100)
	stored, _, err := s.Accept(ctx, rec)
	require.NoError(t, err)
	require.NoError(t, s.Ack(ctx, "national", stored.Seq))
	t.Run("inbound: received, receipt sent, acknowledged", func(t *testing.T) {
		tl, err := s.Timeline(ctx, "inbox/1")
		require.NoError(t, err)
		require.Equal(t, DirectionIn, tl.Direction)
		require.Equal(t, "event.birth", tl.MessageType)
		require.Equal(t, "UZ-MOJ-CRVS", tl.Peer)
		require.Equal(t, []TimelineEvent{
			{At: t0, Kind: EventReceived}, {At: t0, Kind: EventReceiptSent}, {Kind: EventAcknowledged, Consumer: "national"},
		}, tl.Events)
	})

	require.NoError(t, s.AuditReject(ctx, RejectEntry{Code: "SIGNATURE_INVALID", Sender: "KG", MessageID: "bad-1", Peer: "KG-MOJ", At: t0}))
	_, n, err := s.AuditHead(ctx)
	require.NoError(t, err)
	t.Run("refused", func(t *testing.T) {
		tl, err := s.Timeline(ctx, "audit/"+uitoa(n))
		require.NoError(t, err)
		require.Equal(t, DirectionRefused, tl.Direction)
		require.Equal(t, "bad-1", tl.MessageID)
		require.Equal(t, []TimelineEvent{{At: t0, Kind: EventRefused, Code: "SIGNATURE_INVALID", AuditSeq: n}}, tl.Events)
		_, err = s.Timeline(ctx, "audit/1") // an enqueue entry, not a refusal
		require.ErrorIs(t, err, ErrNotFound)
	})

	t.Run("find and refs", func(t *testing.T) {
		refs, err := s.FindMessage(ctx, "sub-1-TJ-MOJ", 0)
		require.NoError(t, err)
		require.Equal(t, []string{"delivery/1"}, refs)
		refs, err = s.FindMessage(ctx, "in-1", 0)
		require.NoError(t, err)
		require.Equal(t, []string{"inbox/1"}, refs)
		refs, err = s.FindMessage(ctx, "nothing", 0)
		require.NoError(t, err)
		require.Empty(t, refs)
		for _, ref := range []string{"", "delivery", "delivery/0", "delivery/x", "outbox/1", "inbox/-1"} {
			_, err := s.Timeline(ctx, ref)
			require.ErrorIs(t, err, ErrInvalid, ref)
		}
		for _, ref := range []string{"delivery/9", "inbox/9", "audit/999"} {
			_, err := s.Timeline(ctx, ref)
			require.ErrorIs(t, err, ErrNotFound, ref)
		}
	})
}
