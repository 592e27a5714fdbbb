package view

import (
	"time"

	"github.com/ecrn/crvsx/node/store"
)

// Traffic is the operator's traffic page.
type Traffic struct {
	Now          time.Time
	Since, Until time.Time
	Bucket       time.Duration
	BucketStarts []time.Time // the start of each bucket
	Out, In      []store.TrafficSeries
	Receipts     []int
	Failed       []int
	Dead         []int
	Refused      []int
	Totals       TrafficTotals
	Latency      store.Latency
	Attempts     int
	Retries      int
	RefusedBy    []CodeCount // refusals in the window by problem code, most first
	Refusals     []store.Refusal
	DeadLetters  []store.DeadLetter
	// Backlog is the outbound deliveries pending per peer now (the
	// node fills it from store.QueueLengths), by peer.
	Backlog []PeerCount
	// TruncatedKey is "traffic.truncated" when a count is a lower bound.
	TruncatedKey string
	// OutChart and InChart are the series ready for LineChart (one line
	// per peer and type); the console adds the translated title.
	OutChart, InChart []Series
}

// TrafficTotals sums the window.
type TrafficTotals struct {
	Out, In, Receipts, Failed, Dead, Refused int
}

// PeerCount is a peer (node id) and a number.
type PeerCount struct {
	Peer string
	N    int
}

// RefusalFor is the most recent refusal in the window with the code (its
// message page is "audit/<AuditSeq>"), if one is listed.
func (t Traffic) RefusalFor(code string) (store.Refusal, bool) {
	for _, r := range t.Refusals {
		if r.Code == code {
			return r, true
		}
	}
	return store.Refusal{}, false
}

// CodeCount is a problem code and how often it was answered.
type CodeCount struct {
	Code  string
	Count int
}

// BucketFor is the bucket width the traffic page uses for a window: 5
// minutes up to an hour, an hour up to two days, a day beyond.
func BucketFor(window time.Duration) time.Duration {
	switch {
	case window <= time.Hour:
		return 5 * time.Minute
	case window <= 48*time.Hour:
		return time.Hour
	}
	return 24 * time.Hour
}

// BuildTraffic builds the traffic page from the store's reads.
func BuildTraffic(rep *store.TrafficReport, refused *store.RefusedReport, dead []store.DeadLetter, now time.Time) Traffic {
	t := Traffic{Now: now, Since: rep.Since, Until: rep.Until, Bucket: rep.Bucket, Out: rep.Out, In: rep.In,
		Receipts: rep.Receipts, Failed: rep.Failed, Dead: rep.Dead, Refused: rep.Refused, Latency: rep.Latency,
		Attempts: rep.Attempts, Retries: rep.Retries, DeadLetters: dead}
	for i := range rep.Buckets {
		t.BucketStarts = append(t.BucketStarts, rep.Since.Add(time.Duration(i)*rep.Bucket))
	}
	for _, s := range rep.Out {
		t.Totals.Out += s.Total
		t.OutChart = append(t.OutChart, Series{Name: seriesName(s), Values: s.Counts})
	}
	for _, s := range rep.In {
		t.Totals.In += s.Total
		t.InChart = append(t.InChart, Series{Name: seriesName(s), Values: s.Counts})
	}
	t.Totals.Receipts, t.Totals.Failed, t.Totals.Dead, t.Totals.Refused = sum(rep.Receipts), sum(rep.Failed), sum(rep.Dead), sum(rep.Refused)
	truncated := rep.Truncated
	if refused != nil {
		truncated = truncated || refused.Truncated
		t.Refusals = refused.Recent
		for code, n := range refused.ByCode {
			t.RefusedBy = append(t.RefusedBy, CodeCount{Code: code, Count: n})
		}
		sortCodeCounts(t.RefusedBy)
	}
	if truncated {
		t.TruncatedKey = "traffic.truncated"
	}
	return t
}

func sortCodeCounts(c []CodeCount) {
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && (c[j].Count > c[j-1].Count || c[j].Count == c[j-1].Count && c[j].Code < c[j-1].Code); j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
}

// seriesName is the legend of a series: data, not words (peer · type).
func seriesName(s store.TrafficSeries) string {
	typ := s.Type
	if typ == "" {
		typ = "?"
	}
	return s.Peer + " · " + typ
}
