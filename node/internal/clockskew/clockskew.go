// Package clockskew estimates how far this node's clock is from its
// peers' (node/exchange DESIGN.md §8): each answer of a peer carries the
// peer's time in its HTTP Date header (RFC 9110 §6.6.1, one-second
// resolution), and the difference from this node's clock at the time of
// the answer is one sample.
//
// The estimate is judged only on enough evidence — samples of at least two
// distinct peers, or at least three of one peer — and only when every peer
// heard from agrees: each peer's median offset is past the threshold, all
// with the same sign. Then the node is the odd one out (a peer whose own
// clock is off makes the peers disagree, and this node is not blamed). The
// reported offset is the median of the per-peer medians. Samples older than
// MaxAge are forgotten.
//
// Imports: the standard library only.
package clockskew

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// Defaults of Estimator.
const (
	DefaultPerPeer = 5
	DefaultMaxAge  = time.Hour
)

// Level is the verdict on this node's clock.
type Level int

const (
	Unknown Level = iota // not enough evidence, or the peers disagree
	OK                   // within half the threshold of every peer
	Warn                 // past half the threshold against every peer
	Off                  // past the threshold against every peer
)

func (l Level) String() string {
	return [...]string{"unknown", "ok", "warn", "off"}[l]
}

// Estimate is the estimator's verdict at a time.
type Estimate struct {
	Level   Level
	Offset  time.Duration // this node's clock minus its peers' (median of the per-peer medians); 0 if Unknown
	Peers   int           // peers with samples
	Samples int
}

// Reason is the readiness line of an estimate that is Off or Warn, e.g.
// "clock off by +10m0s against 2 peers".
func (e Estimate) Reason() string {
	peers := "peers"
	if e.Peers == 1 {
		peers = "peer"
	}
	word := "off"
	if e.Level == Warn {
		word = "drifting"
	}
	sign := "+"
	if e.Offset < 0 {
		sign = ""
	}
	return fmt.Sprintf("clock %s by %s%v against %d %s", word, sign, e.Offset.Round(time.Second), e.Peers, peers)
}

type sample struct {
	offset time.Duration
	at     time.Time
}

// Estimator keeps the last samples of each peer. Safe for concurrent use.
type Estimator struct {
	Threshold time.Duration // Off past it, Warn past half of it
	PerPeer   int           // samples kept per peer; 0 is DefaultPerPeer
	MaxAge    time.Duration // samples older than it are forgotten; 0 is DefaultMaxAge

	mu    sync.Mutex
	peers map[string][]sample
}

// Observe records that peer's clock read peerTime when this node's read
// local.
func (e *Estimator) Observe(peer string, local, peerTime time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.peers == nil {
		e.peers = map[string][]sample{}
	}
	n := e.PerPeer
	if n <= 0 {
		n = DefaultPerPeer
	}
	s := append(e.peers[peer], sample{offset: local.Sub(peerTime), at: local})
	if len(s) > n {
		s = s[len(s)-n:]
	}
	e.peers[peer] = s
}

// Estimate judges the samples not older than MaxAge at now.
func (e *Estimator) Estimate(now time.Time) Estimate {
	e.mu.Lock()
	defer e.mu.Unlock()
	maxAge := e.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	var medians []time.Duration
	total := 0
	for peer, s := range e.peers {
		s = slices.DeleteFunc(s, func(x sample) bool { return now.Sub(x.at) > maxAge })
		e.peers[peer] = s
		if len(s) == 0 {
			delete(e.peers, peer)
			continue
		}
		offs := make([]time.Duration, len(s))
		for i, x := range s {
			offs[i] = x.offset
		}
		medians = append(medians, median(offs))
		total += len(s)
	}
	est := Estimate{Peers: len(medians), Samples: total}
	if len(medians) == 0 || len(medians) == 1 && total < 3 {
		return est
	}
	level := func(d time.Duration) Level {
		switch a := max(d, -d); {
		case a > e.Threshold:
			return Off
		case a > e.Threshold/2:
			return Warn
		}
		return OK
	}
	est.Offset = median(medians)
	est.Level = Off
	for _, m := range medians {
		if (m > 0) != (est.Offset > 0) && level(m) != OK {
			est.Level, est.Offset = Unknown, 0 // peers disagree on the sign: not this node's fault alone
			return est
		}
		est.Level = min(est.Level, level(m))
	}
	return est
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	n := len(d)
	if n%2 == 1 {
		return d[n/2]
	}
	return (d[n/2-1] + d[n/2]) / 2
}
