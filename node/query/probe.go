package query

import (
	"strconv"
	"sync"
	"time"

	"github.com/ecrn/crvsx/node/records/match"
	"github.com/ecrn/crvsx/schemas/semantic"
)

// SPEC §11.2: "Repeated probing by one requester — many near-identical
// subjects, or identifiers swept in sequence, within a window — is counted
// in metrics and the audit chain; a node policy can make it refuse
// (RATE_LIMITED)."

// Probing signals.
const (
	// SignalNearIdentical: many queries of one requester within the window
	// share a coarse subject key (folded family name and birth year).
	SignalNearIdentical = "near-identical-subjects"
	// SignalIdentifierSweep: many distinct numeric identifiers of one
	// scheme, each within ProbeConfig.SweepDistance of another, within the
	// window.
	SignalIdentifierSweep = "identifier-sweep"
)

// ProbeConfig sets the detector's window and thresholds; zero fields take
// the defaults.
type ProbeConfig struct {
	// Window is how far back queries count (default 1 hour).
	Window time.Duration `json:"window,omitempty"`
	// NearIdentical is how many distinct queries with one coarse subject
	// key within the window raise SignalNearIdentical (default 5).
	NearIdentical int `json:"nearIdentical,omitempty"`
	// Sweep is how many distinct numeric identifiers close to each other
	// within the window raise SignalIdentifierSweep (default 5).
	Sweep int `json:"sweep,omitempty"`
	// SweepDistance: identifiers whose numbers lie in the same or adjacent
	// buckets of this width count as close (default 16).
	SweepDistance uint64 `json:"sweepDistance,omitempty"`
	// MaxPerRequester bounds the queries remembered per requester
	// (default 4096); the oldest are forgotten first.
	MaxPerRequester int `json:"maxPerRequester,omitempty"`
}

func (c ProbeConfig) withDefaults() ProbeConfig {
	if c.Window <= 0 {
		c.Window = time.Hour
	}
	if c.NearIdentical <= 0 {
		c.NearIdentical = 5
	}
	if c.Sweep <= 0 {
		c.Sweep = 5
	}
	if c.SweepDistance == 0 {
		c.SweepDistance = 16
	}
	if c.MaxPerRequester <= 0 {
		c.MaxPerRequester = 4096
	}
	return c
}

// Probe is what the detector keeps of one query: opaque keys only (the
// caller hashes them under the node's audit key, ProbeKeys), never the
// subject.
type Probe struct {
	MessageID string
	// Coarse are the coarse subject keys: one per (folded family name,
	// birth year) of the subject.
	Coarse []string
	// Idents are the subject's numeric identifiers.
	Idents []IdentKey
}

// IdentKey is one numeric identifier: Exact names the (scheme, value),
// Bucket the (scheme, value / SweepDistance) and Near the buckets it is
// close to (its own and the two adjacent ones).
type IdentKey struct {
	Exact  string
	Bucket string
	Near   [3]string
}

// ProbeKeys derives a query's Probe from its subject with hash (an HMAC
// under the node's audit key, hex). Pure.
func ProbeKeys(messageID string, s match.Subject, distance uint64, hash func(string) string) Probe {
	if distance == 0 {
		distance = ProbeConfig{}.withDefaults().SweepDistance
	}
	p := Probe{MessageID: messageID}
	seen := map[string]bool{}
	if s.BirthDate.Known() {
		for _, n := range s.Names {
			fam := semantic.FoldName(n.Family)
			if fam == "" {
				fam = semantic.FoldName(n.Full)
			}
			if fam == "" {
				continue
			}
			k := hash("coarse\x00" + fam + "\x00" + strconv.Itoa(s.BirthDate.Year))
			if !seen[k] {
				seen[k] = true
				p.Coarse = append(p.Coarse, k)
			}
		}
	}
	for _, id := range s.Identifiers {
		n, ok := digits(id.Value)
		if !ok {
			continue
		}
		b := n / distance
		bucket := func(b uint64) string {
			return hash("bucket\x00" + id.Scheme + "\x00" + strconv.FormatUint(b, 10))
		}
		k := IdentKey{Exact: hash("ident\x00" + id.Scheme + "\x00" + strconv.FormatUint(n, 10)), Bucket: bucket(b)}
		k.Near = [3]string{bucket(b), bucket(b + 1), bucket(b)}
		if b > 0 {
			k.Near[2] = bucket(b - 1)
		}
		p.Idents = append(p.Idents, k)
	}
	return p
}

// digits reads an identifier made only of 1–18 ASCII digits (so that it
// fits a uint64), ignoring spaces and hyphens.
func digits(v string) (uint64, bool) {
	var n uint64
	nd := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
			nd++
			if nd > 18 {
				return 0, false
			}
			n = n*10 + uint64(c-'0')
		case c == ' ' || c == '-':
		default:
			return 0, false
		}
	}
	return n, nd > 0
}

// Detector counts probing signals per requester within a sliding window.
// It keeps only the opaque keys of Probe. Safe for concurrent use.
type Detector struct {
	cfg ProbeConfig
	mu  sync.Mutex
	per map[string][]probeEntry
}

type probeEntry struct {
	at time.Time
	p  Probe
}

// NewDetector returns a detector with cfg (zero fields: defaults).
func NewDetector(cfg ProbeConfig) *Detector {
	return &Detector{cfg: cfg.withDefaults(), per: make(map[string][]probeEntry)}
}

// Observe records a query of requester at now and returns the signals it
// raises (each at most once), in a fixed order. A MessageID already seen
// within the window (a replay) is not counted again and raises nothing.
func (d *Detector) Observe(requester string, p Probe, now time.Time) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	cut := now.Add(-d.cfg.Window)
	es := d.per[requester]
	i := 0
	for i < len(es) && !es[i].at.After(cut) {
		i++
	}
	es = es[i:]
	for _, e := range es {
		if e.p.MessageID == p.MessageID {
			d.per[requester] = es
			return nil
		}
	}
	es = append(es, probeEntry{at: now, p: p})
	if len(es) > d.cfg.MaxPerRequester {
		es = es[len(es)-d.cfg.MaxPerRequester:]
	}
	if len(es) == 0 {
		delete(d.per, requester)
	} else {
		d.per[requester] = es
	}

	var out []string
	// Near-identical subjects: distinct queries sharing a coarse key.
	for _, k := range p.Coarse {
		n := 0
		for _, e := range es {
			if contains(e.p.Coarse, k) {
				n++
			}
		}
		if n >= d.cfg.NearIdentical {
			out = append(out, SignalNearIdentical)
			break
		}
	}
	// Identifiers swept in sequence: distinct exact identifiers in the
	// same or adjacent buckets.
	for _, id := range p.Idents {
		exact := map[string]bool{}
		for _, e := range es {
			for _, o := range e.p.Idents {
				if o.Bucket == id.Near[0] || o.Bucket == id.Near[1] || o.Bucket == id.Near[2] {
					exact[o.Exact] = true
				}
			}
		}
		if len(exact) >= d.cfg.Sweep {
			out = append(out, SignalIdentifierSweep)
			break
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
