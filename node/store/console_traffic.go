package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The console's traffic series (DESIGN.md §12).

// ---- traffic

// TrafficQuery is a window [Since, Until) cut into buckets of Bucket.
type TrafficQuery struct {
	Since, Until time.Time
	Bucket       time.Duration
	// Peer, if set, keeps only the traffic with that node id or country.
	Peer string
}

// TrafficSeries counts messages of one type with one peer per bucket.
type TrafficSeries struct {
	Peer    string // outbound: the recipient node id; inbound: the sender node id, or its country when unknown
	Country string // the peer's country, when known
	Type    string // messageType ("" when unknown)
	Counts  []int  // one per bucket
	Total   int
}

// Latency is the time from accepting a message for delivery (the 202) to
// storing its verified receipt, over the deliveries whose receipt arrived
// in the window. Percentiles are nearest-rank.
type Latency struct {
	Count              int
	P50, P90, P99, Max time.Duration
}

// TrafficReport is the traffic of one window.
type TrafficReport struct {
	Since, Until time.Time
	Bucket       time.Duration
	Buckets      int
	Out          []TrafficSeries // messages accepted for delivery, by enqueue time
	In           []TrafficSeries // messages received, by receive time
	Receipts     []int           // verified receipts stored (deliveries completed), by their time
	Failed       []int           // failed delivery attempts, by their time (the last 8 of each delivery are kept)
	Dead         []int           // deliveries dead-lettered, by their time
	Refused      []int           // inbound messages refused, by their time
	Latency      Latency
	// Attempts is the number of delivery attempts of the deliveries
	// enqueued in the window (a receipt counts as the successful one);
	// Retries the attempts beyond each one's first.
	Attempts, Retries int
	Truncated         bool // a scan stopped at MaxScan: the counts are a lower bound
}

// Traffic computes the series of a window from the records: deliveries
// (enqueue, attempts, receipt, dead-letter times), inbox records (receive
// time, type) and the audit chain (refusals).
func (s *Store) Traffic(ctx context.Context, q TrafficQuery) (*TrafficReport, error) {
	if !q.Until.After(q.Since) || q.Bucket <= 0 {
		return nil, fmt.Errorf("store: traffic: %w", invalidf("window [%s, %s) or bucket %s is empty", q.Since, q.Until, q.Bucket))
	}
	nb := int((q.Until.Sub(q.Since) + q.Bucket - 1) / q.Bucket)
	if nb > MaxBuckets {
		return nil, fmt.Errorf("store: traffic: %w", invalidf("%d buckets is more than %d", nb, MaxBuckets))
	}
	rep := &TrafficReport{
		Since: q.Since.UTC(), Until: q.Until.UTC(), Bucket: q.Bucket, Buckets: nb,
		Receipts: make([]int, nb), Failed: make([]int, nb), Dead: make([]int, nb), Refused: make([]int, nb),
	}
	bucket := func(t time.Time) int {
		if t.IsZero() || t.Before(q.Since) || !t.Before(q.Until) {
			return -1
		}
		return int(t.Sub(q.Since) / q.Bucket)
	}
	out := map[[3]string]*TrafficSeries{}
	in := map[[3]string]*TrafficSeries{}
	add := func(m map[[3]string]*TrafficSeries, peer, country, typ string, i int) {
		k := [3]string{peer, country, typ}
		ts := m[k]
		if ts == nil {
			ts = &TrafficSeries{Peer: peer, Country: country, Type: typ, Counts: make([]int, nb)}
			m[k] = ts
		}
		ts.Counts[i]++
		ts.Total++
	}
	match := func(peer, country string) bool { return q.Peer == "" || q.Peer == peer || q.Peer == country }
	var lat []time.Duration
	err := s.view(ctx, func(tx *bolt.Tx) error {
		// Outbound.
		types := typeCache{tx: tx}
		stop := q.Since.Add(-TrafficLookback)
		c := tx.Bucket(bktOutDlv).Cursor()
		n := 0
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if n++; n > MaxScan {
				rep.Truncated = true
				break
			}
			r, err := decodeDelivery(v)
			if err != nil {
				return err
			}
			if r.CreatedAt.Before(stop) {
				break
			}
			if !match(r.Peer, r.Recipient) {
				continue
			}
			if i := bucket(r.CreatedAt); i >= 0 {
				add(out, r.Peer, r.Recipient, types.of(r.SubmissionID), i)
				rep.Attempts += r.Attempts
				rep.Retries += max(r.Attempts-1, 0)
			}
			if i := bucket(r.DeliveredAt); i >= 0 {
				rep.Receipts[i]++
				lat = append(lat, r.DeliveredAt.Sub(r.CreatedAt))
			}
			if i := bucket(r.DeadAt); i >= 0 {
				rep.Dead[i]++
			}
			for _, h := range r.History {
				if i := bucket(h.At); i >= 0 {
					rep.Failed[i]++
				}
			}
		}
		// Inbound.
		c = tx.Bucket(bktInbox).Cursor()
		stop = q.Since.Add(-clockSlack)
		n = 0
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if n++; n > MaxScan {
				rep.Truncated = true
				break
			}
			r, err := decodeInbound(v)
			if err != nil {
				return err
			}
			if r.ReceivedAt.Before(stop) {
				break
			}
			peer := r.SenderNodeID
			if peer == "" {
				peer = r.Sender
			}
			if !match(peer, r.Sender) {
				continue
			}
			if i := bucket(r.ReceivedAt); i >= 0 {
				add(in, peer, r.Sender, r.MessageType, i)
			}
		}
		// Refusals.
		return scanAuditBack(tx, q.Since, func(e auditRec) {
			if e.Kind != AuditRejected {
				return
			}
			if r := refusalOf(e, false); !match(r.Peer, r.Sender) {
				return
			}
			if i := bucket(e.At); i >= 0 {
				rep.Refused[i]++
			}
		}, &rep.Truncated)
	})
	if err != nil {
		return nil, fmt.Errorf("store: traffic: %w", err)
	}
	rep.Out = sortedSeries(out)
	rep.In = sortedSeries(in)
	rep.Latency = latencyOf(lat)
	return rep, nil
}

func sortedSeries(m map[[3]string]*TrafficSeries) []TrafficSeries {
	out := make([]TrafficSeries, 0, len(m))
	for _, s := range m {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b TrafficSeries) int {
		return strings.Compare(a.Peer+"\x00"+a.Country+"\x00"+a.Type, b.Peer+"\x00"+b.Country+"\x00"+b.Type)
	})
	return out
}

// latencyOf returns nearest-rank percentiles of d.
func latencyOf(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	rank := func(p int) time.Duration {
		i := (p*len(d)+99)/100 - 1
		return d[max(i, 0)]
	}
	return Latency{Count: len(d), P50: rank(50), P90: rank(90), P99: rank(99), Max: d[len(d)-1]}
}
