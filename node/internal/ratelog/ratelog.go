// Package ratelog bounds the log lines that someone outside the node can
// cause (protocol/SPEC.md §7: what a stranger sends is at most a
// rate-limited WARN; ERROR is for the node's own faults). Handler wraps a
// slog.Handler: records at ERROR and above always pass; others pass while
// their kind — level and message — has tokens in its bucket, and the next
// record of a kind that passes after some were dropped says how many with
// a "suppressed" attribute. Nothing blocks: a dropped record costs a map
// lookup under a mutex.
//
// A Handler is safe for concurrent use; the handlers WithAttrs and
// WithGroup derive from it share its buckets.
//
// Imports: the standard library only.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// maxKinds bounds the buckets; further kinds share one.
const maxKinds = 256

type bucket struct {
	tokens     float64
	last       time.Time
	suppressed int
}

type limiter struct {
	mu      sync.Mutex
	perSec  float64
	burst   float64
	now     func() time.Time
	buckets map[string]*bucket
}

// Handler returns h limited to perSecond records of each kind below ERROR,
// with bursts of up to burst.
func Handler(h slog.Handler, perSecond float64, burst int) slog.Handler {
	return &handler{h: h, l: &limiter{perSec: perSecond, burst: float64(burst), now: time.Now, buckets: map[string]*bucket{}}}
}

type handler struct {
	h slog.Handler
	l *limiter
}

func (h *handler) Enabled(ctx context.Context, lv slog.Level) bool { return h.h.Enabled(ctx, lv) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		return h.h.Handle(ctx, r)
	}
	ok, suppressed := h.l.allow(r.Level.String() + " " + r.Message)
	if !ok {
		return nil
	}
	if suppressed > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed", suppressed))
	}
	return h.h.Handle(ctx, r)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &handler{h: h.h.WithAttrs(as), l: h.l}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{h: h.h.WithGroup(name), l: h.l}
}

// allow takes a token of kind's bucket; it returns whether the record
// passes and, if so, how many of its kind were dropped since the last one
// that passed.
func (l *limiter) allow(kind string) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[kind]
	if !ok {
		if len(l.buckets) >= maxKinds {
			kind = "\x00other"
			b = l.buckets[kind]
		}
		if b == nil {
			b = &bucket{tokens: l.burst, last: l.now()}
			l.buckets[kind] = b
		}
	}
	now := l.now()
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.perSec)
	b.last = now
	if b.tokens < 1 {
		b.suppressed++
		return false, 0
	}
	b.tokens--
	n := b.suppressed
	b.suppressed = 0
	return true, n
}
