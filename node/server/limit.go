package server

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ClientLimiter limits attempts per client key (an IP address) and
// globally: token buckets of golang.org/x/time/rate, whose owner this
// package is (cmd/archtest). The console's login and verify forms use it
// (node/console DESIGN §6). It keeps at most maxClients buckets; when full
// it forgets them all, which only ever lets a client start afresh and the
// global bucket still holds. Safe for concurrent use.
type ClientLimiter struct {
	mu      sync.Mutex
	every   time.Duration
	burst   int
	clients map[string]*rate.Limiter
	global  *rate.Limiter
}

const maxClients = 10000

// NewClientLimiter allows each client burst attempts at once, then one
// every `every`; and all clients together globalBurst, then one every
// globalEvery.
func NewClientLimiter(burst int, every time.Duration, globalBurst int, globalEvery time.Duration) *ClientLimiter {
	return &ClientLimiter{every: every, burst: burst, clients: map[string]*rate.Limiter{},
		global: rate.NewLimiter(rate.Every(globalEvery), globalBurst)}
}

// Allow reports whether client may make an attempt now, and takes it.
// A client over its own limit does not spend the global budget.
func (l *ClientLimiter) Allow(client string) bool {
	l.mu.Lock()
	c, ok := l.clients[client]
	if !ok {
		if len(l.clients) >= maxClients {
			clear(l.clients)
		}
		c = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.clients[client] = c
	}
	l.mu.Unlock()
	return c.Allow() && l.global.Allow()
}
